package orgschema_test

import (
	"encoding/json"
	"slices"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/scim/orgschema"
	"github.com/rosterhq/roster/internal/scim/patch"
	"github.com/rosterhq/roster/internal/scim/schema"
)

const acme = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"

func acmeOrg() *rosterv1.Organization {
	org := &rosterv1.Organization{}
	org.Spec.ExtensionSchemas = []rosterv1.ExtensionSchema{
		{URN: acme, ResourceType: rosterv1.ExtensionForUser, Required: true, Attributes: []rosterv1.ExtensionAttribute{
			{ExtensionAttributeCommon: rosterv1.ExtensionAttributeCommon{Name: "costCenter", Type: "string"}},
			{ExtensionAttributeCommon: rosterv1.ExtensionAttributeCommon{Name: "level", Type: "integer"}},
		}},
		// Refused by the CRD; skipped if it ever gets through.
		{URN: schema.EnterpriseUserSchema, ResourceType: rosterv1.ExtensionForUser},
		{URN: "urn:acme:Group", ResourceType: rosterv1.ExtensionForGroup, Attributes: []rosterv1.ExtensionAttribute{
			{ExtensionAttributeCommon: rosterv1.ExtensionAttributeCommon{Name: "budget", Type: "decimal"}},
		}},
	}
	return org
}

func TestFor(t *testing.T) {
	set := orgschema.For(acmeOrg())
	if !slices.Equal(set.User.Extensions, []string{schema.EnterpriseUserSchema, acme}) || !slices.Equal(set.User.Required, []string{acme}) {
		t.Errorf("User extensions %v, required %v", set.User.Extensions, set.User.Required)
	}
	if !slices.Equal(set.Group.Extensions, []string{"urn:acme:Group"}) {
		t.Errorf("Group extensions %v", set.Group.Extensions)
	}
	r, ok := set.User.Lookup(acme + ":LEVEL")
	if !ok || r.Name != "level" || r.Attr.Type != schema.TypeInteger || r.Attr.Mutability != schema.ReadWrite || r.Attr.Returned != schema.ReturnedDefault {
		t.Errorf("Lookup of the custom attribute: %+v, %v", r, ok)
	}
	if _, ok := schema.User.Lookup(acme + ":level"); ok {
		t.Error("Roster's own User resource type knows an organization's attribute")
	}
	if got := len(set.Schemas()); got != len(schema.DiscoverySchemas)+2 {
		t.Errorf("Schemas() lists %d, want Roster's %d + 2", got, len(schema.DiscoverySchemas))
	}
	if orgschema.For(nil).User.Custom != nil {
		t.Error("no organization, yet custom schemas")
	}
}

func TestUnknownURNs(t *testing.T) {
	rt := orgschema.For(acmeOrg()).User
	body := map[string]any{
		"userName":                  "a",
		acme:                        map[string]any{"costCenter": "1"},
		"urn:other:1.0:User":        map[string]any{"x": 1},
		"urn:third:1.0:User:attr":   "v",
		acme + ":notDeclared":       "v", // a known schema: not an unknown URN
		schema.EnterpriseUserSchema: map[string]any{"department": "R&D"},
		"schemas":                   []any{"urn:listed:only"},
	}
	if got := orgschema.UnknownURNs(rt, body); !slices.Equal(got, []string{"urn:other:1.0:User", "urn:third:1.0:User"}) {
		t.Errorf("UnknownURNs = %v", got)
	}
	ops, err := patch.Parse([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"add","path":"urn:other:1.0:User","value":{"x":1}},
		{"op":"add","path":"urn:third:1.0:User:attr","value":"v"},
		{"op":"add","path":"` + acme + `:costCenter","value":"v"},
		{"op":"replace","value":{"urn:fourth:1.0:User:y":"v","displayName":"d"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := orgschema.UnknownPatchURNs(rt, ops); !slices.Equal(got, []string{"urn:fourth:1.0:User", "urn:other:1.0:User", "urn:third:1.0:User"}) {
		t.Errorf("UnknownPatchURNs = %v", got)
	}
}

func values(t *testing.T, m map[string]map[string]any) rosterv1.ExtensionValues {
	t.Helper()
	out := rosterv1.ExtensionValues{}
	for k, v := range m {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = apiextensionsv1.JSON{Raw: b}
	}
	return out
}

func TestKeepUndeclared(t *testing.T) {
	rt := orgschema.For(acmeOrg()).User // declares costCenter and level
	stored := values(t, map[string]map[string]any{
		acme:            {"costCenter": "1", "removed": "kept"},
		"urn:gone:User": {"a": true},
	})
	next := values(t, map[string]map[string]any{acme: {"level": 2}})
	got := orgschema.KeepUndeclared(rt, stored, next)
	want := map[string]string{
		acme:            `{"level":2,"removed":"kept"}`, // costCenter was declared and not sent: cleared
		"urn:gone:User": `{"a":true}`,
	}
	if len(got) != len(want) {
		t.Fatalf("KeepUndeclared = %v", got)
	}
	for k, w := range want {
		if string(got[k].Raw) != w {
			t.Errorf("%s = %s, want %s", k, got[k].Raw, w)
		}
	}
}

// A PUT body never carries readOnly values (Normalize drops them): the stored ones, set by an
// administrator, must survive it; a readOnly value the client smuggled in must not.
func TestUpdateKeepsReadOnly(t *testing.T) {
	org := acmeOrg()
	org.Spec.ExtensionSchemas[0].Attributes = append(org.Spec.ExtensionSchemas[0].Attributes,
		rosterv1.ExtensionAttribute{ExtensionAttributeCommon: rosterv1.ExtensionAttributeCommon{Name: "badge", Type: "integer", Mutability: "readOnly"}},
		rosterv1.ExtensionAttribute{ExtensionAttributeCommon: rosterv1.ExtensionAttributeCommon{Name: "grade", Type: "string", Mutability: "readOnly"}})
	rt := orgschema.For(org).User
	stored := values(t, map[string]map[string]any{acme: {"costCenter": "1", "badge": json.Number("12345678901234567890")}})
	next := values(t, map[string]map[string]any{acme: {"costCenter": "2", "grade": "smuggled"}})
	if err := orgschema.Update(rt, map[string]any{}, map[string]any{}, stored, &next); err != nil {
		t.Fatal(err)
	}
	if got, want := string(next[acme].Raw), `{"badge":12345678901234567890,"costCenter":"2"}`; got != want {
		t.Errorf("extension after PUT = %s, want %s", got, want)
	}
}
