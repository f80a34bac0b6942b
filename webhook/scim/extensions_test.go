package scim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/metrics"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
)

const acmeURN = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"

func attr(name, typ string, mutate ...func(*rosterv1.ExtensionAttributeCommon)) rosterv1.ExtensionAttribute {
	a := rosterv1.ExtensionAttribute{ExtensionAttributeCommon: rosterv1.ExtensionAttributeCommon{Name: name, Type: typ}}
	for _, m := range mutate {
		m(&a.ExtensionAttributeCommon)
	}
	return a
}

func sub(name, typ string) rosterv1.ExtensionSubAttribute {
	return rosterv1.ExtensionSubAttribute{ExtensionAttributeCommon: rosterv1.ExtensionAttributeCommon{Name: name, Type: typ}}
}

// acmeSchema is a custom User extension with one attribute of each kind the tests need.
func acmeSchema() rosterv1.ExtensionSchema {
	address := attr("address", "complex")
	address.SubAttributes = []rosterv1.ExtensionSubAttribute{sub("city", "string"), sub("zip", "string")}
	tags := attr("tags", "complex", func(a *rosterv1.ExtensionAttributeCommon) { a.MultiValued = true })
	tags.SubAttributes = []rosterv1.ExtensionSubAttribute{sub("value", "string"), sub("type", "string")}
	return rosterv1.ExtensionSchema{
		URN: acmeURN, ResourceType: rosterv1.ExtensionForUser, Name: "AcmeUser", Description: "Acme's attributes",
		Attributes: []rosterv1.ExtensionAttribute{
			attr("costCenter", "string"),
			attr("level", "integer"),
			attr("badge", "string", func(a *rosterv1.ExtensionAttributeCommon) { a.CanonicalValues = []string{"gold", "silver"} }),
			attr("hireId", "string", func(a *rosterv1.ExtensionAttributeCommon) { a.Mutability = "immutable" }),
			attr("secret", "string", func(a *rosterv1.ExtensionAttributeCommon) { a.Mutability = "writeOnly"; a.Returned = "never" }),
			attr("nick", "string", func(a *rosterv1.ExtensionAttributeCommon) { a.Returned = "request" }),
			address, tags,
		},
	}
}

func newAcmeOrg(t *testing.T) (*scimtest.Client, orgRef) {
	t.Helper()
	sharedOnce.Do(func() { sharedRoster = env.StartSharedRoster(t, nil) })
	org := env.NewOrgWith(t, "ext", func(o *rosterv1.Organization) {
		o.Spec.ExtensionSchemas = []rosterv1.ExtensionSchema{acmeSchema()}
	})
	c := scimtest.New(sharedRoster.BaseURL, org.Name, org.Token)
	waitForToken(t, c)
	return c, orgRef{org.Name, org.Namespace}
}

type orgRef struct{ name, ns string }

func (o orgRef) user(t *testing.T, id string) *rosterv1.OrgUser {
	t.Helper()
	var u rosterv1.OrgUser
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: o.ns, Name: id}, &u); err != nil {
		t.Fatalf("reading OrgUser %s: %v", id, err)
	}
	return &u
}

func storedExt(t *testing.T, u *rosterv1.OrgUser) map[string]any {
	t.Helper()
	var m map[string]any
	if raw, ok := u.Spec.Extensions[acmeURN]; ok {
		if err := json.Unmarshal(raw.Raw, &m); err != nil {
			t.Fatalf("spec.extensions[%s] is not an object: %v", acmeURN, err)
		}
	}
	return m
}

func TestCustomExtensionRoundTrip(t *testing.T) {
	c, org := newAcmeOrg(t)
	body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User",%q],
		"userName":"ext@example.com",
		%q:{"costCenter":"4711","level":3,"badge":"GOLD","hireId":"h-1","secret":"s3","nick":"Ex",
		    "address":{"city":"Paris"},"tags":[{"value":"a","type":"work"}]}}`, acmeURN, acmeURN)
	r := c.Do(t, http.MethodPost, "/Users", body).Expect(t, http.StatusCreated)
	id := r.String("id")
	p := acmeURN + "."
	for path, want := range map[string]any{
		p + "costCenter": "4711", p + "level": float64(3), p + "badge": "gold", p + "address.city": "Paris",
		p + "secret": nil, p + "nick": nil,
	} {
		if got := r.Get(path); got != want {
			t.Errorf("POST response %s = %v, want %v (%s)", path, got, want, r.Raw)
		}
	}
	if !strings.Contains(string(r.Raw), `"`+acmeURN+`"]`) && !strings.Contains(r.String("schemas"), acmeURN) {
		t.Errorf("schemas lacks %s: %s", acmeURN, r.Raw)
	}
	// Stored on the OrgUser with JSON types kept, writeOnly value included.
	ext := storedExt(t, org.user(t, id))
	if ext["costCenter"] != "4711" || ext["level"] != float64(3) || ext["secret"] != "s3" {
		t.Fatalf("spec.extensions = %v", ext)
	}

	// returned: request only when asked for.
	if g := c.Do(t, http.MethodGet, "/Users/"+id+"?attributes="+acmeURN+":nick", nil).Expect(t, 200); g.Get(p+"nick") != "Ex" || g.Get(p+"costCenter") != nil {
		t.Errorf("attributes=…:nick: %s", g.Raw)
	}

	// PATCH, back to back: URN path, Entra's path-less URN key, Entra's whole-extension form,
	// dotted sub-attribute, value filter on a multi-valued complex attribute.
	patchBody := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"replace","path":"%[1]s:costCenter","value":"4712"},
		{"op":"Replace","value":{"%[1]s:level":5}},
		{"op":"add","path":"%[1]s","value":{"badge":"silver"}},
		{"op":"replace","path":"%[1]s:address.city","value":"Berlin"},
		{"op":"replace","path":"%[1]s:tags[type eq \"work\"].value","value":"b"}]}`, acmeURN)
	r = c.Do(t, http.MethodPatch, "/Users/"+id, patchBody).Expect(t, http.StatusOK)
	for path, want := range map[string]any{p + "costCenter": "4712", p + "level": float64(5), p + "badge": "silver", p + "address.city": "Berlin", p + "tags.0.value": "b"} {
		if got := r.Get(path); got != want {
			t.Errorf("after PATCH %s = %v, want %v (%s)", path, got, want, r.Raw)
		}
	}

	// A second user, then filter and sort on the custom attributes.
	c.Do(t, http.MethodPost, "/Users", fmt.Sprintf(`{"userName":"ext2@example.com",%q:{"costCenter":"9","level":1}}`, acmeURN)).Expect(t, http.StatusCreated)
	l := c.Do(t, http.MethodGet, "/Users?filter="+urlq(acmeURN+`:costCenter eq "4712"`), nil).Expect(t, 200)
	if l.Get("totalResults") != float64(1) || l.String("Resources.0.id") != id {
		t.Errorf("filter on costCenter: %s", l.Raw)
	}
	// Both directions: whatever order the list has without sortBy, one of them differs from it.
	for order, first := range map[string]string{"ascending": "ext2@example.com", "descending": "ext@example.com"} {
		l = c.Do(t, http.MethodGet, "/Users?sortBy="+urlq(acmeURN+":level")+"&sortOrder="+order, nil).Expect(t, 200)
		second := map[string]string{"ext@example.com": "ext2@example.com", "ext2@example.com": "ext@example.com"}[first]
		if l.String("Resources.0.userName") != first || l.String("Resources.1.userName") != second {
			t.Errorf("sort by level %s: %s", order, l.Raw)
		}
	}

	// A never-returned value can be neither filtered nor sorted on: either would reveal it
	// (secret sw "s", then "s3", …; or the page order around a probe user).
	for _, f := range []string{acmeURN + `:secret sw "s"`, `secret eq "s3"`, `secret pr`, `password eq "x"`} {
		c.Do(t, http.MethodGet, "/Users?filter="+urlq(f), nil).ExpectError(t, http.StatusBadRequest, "invalidFilter")
	}
	for _, sb := range []string{acmeURN + ":secret", "secret", "password"} {
		c.Do(t, http.MethodGet, "/Users?sortBy="+urlq(sb), nil).ExpectError(t, http.StatusBadRequest, "invalidValue")
	}
	c.Do(t, http.MethodPost, "/.search", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":%q}`, `secret sw "s"`)).ExpectError(t, http.StatusBadRequest, "invalidFilter")

	// PUT replaces the declared attributes; an immutable one keeps its value.
	r = c.Do(t, http.MethodPut, "/Users/"+id, fmt.Sprintf(`{"userName":"ext@example.com",%q:{"costCenter":"1","hireId":"h-1"}}`, acmeURN)).Expect(t, 200)
	if r.Get(p+"costCenter") != "1" || r.Get(p+"level") != nil {
		t.Errorf("after PUT: %s", r.Raw)
	}

	// Bad values: nothing written.
	rv := org.user(t, id).ResourceVersion
	for name, tc := range map[string]struct {
		method, body, scimType string
	}{
		"wrong type":     {http.MethodPatch, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"%s:level","value":"high"}]}`, acmeURN), "invalidValue"},
		"not canonical":  {http.MethodPatch, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"%s:badge","value":"bronze"}]}`, acmeURN), "invalidValue"},
		"immutable":      {http.MethodPatch, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"%s:hireId","value":"h-2"}]}`, acmeURN), "mutability"},
		"PUT wrong type": {http.MethodPut, fmt.Sprintf(`{"userName":"ext@example.com",%q:{"level":1.5}}`, acmeURN), "invalidValue"},
	} {
		c.Do(t, tc.method, "/Users/"+id, tc.body).ExpectError(t, http.StatusBadRequest, tc.scimType)
		if got := org.user(t, id).ResourceVersion; got != rv {
			t.Errorf("%s: the OrgUser was written (resourceVersion %s → %s)", name, rv, got)
		}
	}

	// Discovery of this org lists the schema.
	if s := c.Do(t, http.MethodGet, "/Schemas/"+acmeURN, nil).Expect(t, 200); s.String("name") != "AcmeUser" || !strings.Contains(string(s.Raw), `"canonicalValues":["gold","silver"]`) {
		t.Errorf("/Schemas/%s: %s", acmeURN, s.Raw)
	}
	if rt := c.Do(t, http.MethodGet, "/ResourceTypes/User", nil).Expect(t, 200); !strings.Contains(string(rt.Raw), `{"required":false,"schema":"`+acmeURN+`"}`) {
		t.Errorf("/ResourceTypes/User lacks the extension: %s", rt.Raw)
	}
}

// TestCustomExtensionOtherOrgs: an org that declares nothing neither lists nor keeps the
// attributes, and counts them as unknown.
func TestCustomExtensionUnknownURNCounted(t *testing.T) {
	c, org := newOrgClient(t)
	counter := metrics.UnknownSchemaAttributes.WithLabelValues(org.Name, acmeURN)
	before := testutil.ToFloat64(counter)
	r := c.Do(t, http.MethodPost, "/Users", fmt.Sprintf(`{"userName":"u@example.com",%q:{"costCenter":"4711"}}`, acmeURN)).Expect(t, http.StatusCreated)
	if r.Get(acmeURN) != nil {
		t.Errorf("an undeclared extension was kept: %s", r.Raw)
	}
	c.Do(t, http.MethodPatch, "/Users/"+r.String("id"), fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"%s:costCenter","value":"1"}]}`, acmeURN)).Expect(t, http.StatusOK)
	if got := testutil.ToFloat64(counter) - before; got != 2 {
		t.Errorf("roster_scim_unknown_schema_attributes_total{urn=%s} grew by %v, want 2", acmeURN, got)
	}
	if s := c.Do(t, http.MethodGet, "/Schemas", nil); strings.Contains(string(s.Raw), acmeURN) {
		t.Errorf("/Schemas of another org lists %s", acmeURN)
	}
}

// TestCustomExtensionAttributeRemoved: a value stays stored when its attribute leaves the
// declaration, but is no longer returned nor filterable; a PUT does not clear it.
func TestCustomExtensionAttributeRemoved(t *testing.T) {
	c, org := newAcmeOrg(t)
	r := c.Do(t, http.MethodPost, "/Users", fmt.Sprintf(`{"userName":"rm@example.com",%q:{"costCenter":"4711","level":2}}`, acmeURN)).Expect(t, http.StatusCreated)
	id := r.String("id")
	ctx := context.Background()
	var o rosterv1.Organization
	if err := env.Client.Get(ctx, types.NamespacedName{Name: org.name}, &o); err != nil {
		t.Fatal(err)
	}
	before := o.DeepCopy()
	o.Spec.ExtensionSchemas[0].Attributes = o.Spec.ExtensionSchemas[0].Attributes[1:] // drop costCenter
	// Merge patches: Roster writes the Organization's status meanwhile.
	if err := env.Client.Patch(ctx, &o, client.MergeFrom(before)); err != nil {
		t.Fatalf("updating the declaration: %v", err)
	}
	eventually(t, 10*time.Second, func() bool {
		g := c.Do(t, http.MethodGet, "/Users/"+id, nil)
		return g.Status == 200 && g.Get(acmeURN+".costCenter") == nil && g.Get(acmeURN+".level") == float64(2)
	}, "costCenter still returned after it left the declaration")
	c.Do(t, http.MethodGet, "/Users?filter="+urlq(acmeURN+`:costCenter eq "4711"`), nil).ExpectError(t, http.StatusBadRequest, "invalidFilter")
	c.Do(t, http.MethodPut, "/Users/"+id, fmt.Sprintf(`{"userName":"rm@example.com",%q:{"level":7}}`, acmeURN)).Expect(t, http.StatusOK)
	if ext := storedExt(t, org.user(t, id)); ext["costCenter"] != "4711" || ext["level"] != float64(7) {
		t.Errorf("after the declaration change and a PUT, spec.extensions = %v", ext)
	}
	// Dropping the whole schema: its values stay stored, and neither they nor the URN in
	// schemas are returned.
	if err := env.Client.Get(ctx, types.NamespacedName{Name: org.name}, &o); err != nil {
		t.Fatal(err)
	}
	before = o.DeepCopy()
	o.Spec.ExtensionSchemas = nil
	if err := env.Client.Patch(ctx, &o, client.MergeFrom(before)); err != nil {
		t.Fatalf("removing the declaration: %v", err)
	}
	eventually(t, 10*time.Second, func() bool {
		g := c.Do(t, http.MethodGet, "/Users/"+id, nil)
		return g.Status == 200 && g.Get(acmeURN) == nil && !strings.Contains(string(g.Raw), acmeURN)
	}, "the undeclared schema is still returned or listed in schemas")
	c.Do(t, http.MethodPatch, "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"R"}]}`).Expect(t, http.StatusOK)
	if ext := storedExt(t, org.user(t, id)); ext["costCenter"] != "4711" || ext["level"] != float64(7) {
		t.Errorf("after removing the schema and a PATCH, spec.extensions = %v", ext)
	}
}

// TestExtensionDeclarationRefused: the apiserver refuses declarations Roster cannot serve,
// with a message that says what to change.
func TestExtensionDeclarationRefused(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		mutate func(*rosterv1.ExtensionSchema)
		want   string
	}{
		"server uniqueness": {func(s *rosterv1.ExtensionSchema) { s.Attributes[0].Uniqueness = "server" }, "uniqueness server or global is not enforced"},
		"enterprise URN": {func(s *rosterv1.ExtensionSchema) {
			s.URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
		}, "urn is a schema Roster defines itself"},
		"names differ in case only":     {func(s *rosterv1.ExtensionSchema) { s.Attributes[1].Name = "COSTCENTER" }, "attribute names must be unique"},
		"complex without subAttributes": {func(s *rosterv1.ExtensionSchema) { s.Attributes[0].Type = "complex" }, "a complex attribute needs subAttributes"},
		"not a URN":                     {func(s *rosterv1.ExtensionSchema) { s.URN = "acme:User" }, "spec.extensionSchemas[0].urn"},
	} {
		o := &rosterv1.Organization{}
		o.Name = fmt.Sprintf("bad-ext-%d", time.Now().UnixNano())
		o.Spec.Namespace = o.Name
		s := acmeSchema()
		tc.mutate(&s)
		o.Spec.ExtensionSchemas = []rosterv1.ExtensionSchema{s}
		err := env.Client.Create(ctx, o)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not say %q", name, err, tc.want)
		}
	}
}

const acmeGroupURN = "urn:ietf:params:scim:schemas:extension:acme:2.0:Group"

// TestCustomGroupExtension: a Group extension round-trips through POST, PATCH, PUT, GET and a
// filter, is stored on the OrgTeam, and a wrong type writes nothing.
func TestCustomGroupExtension(t *testing.T) {
	sharedOnce.Do(func() { sharedRoster = env.StartSharedRoster(t, nil) })
	org := env.NewOrgWith(t, "extg", func(o *rosterv1.Organization) {
		o.Spec.ExtensionSchemas = []rosterv1.ExtensionSchema{{
			URN: acmeGroupURN, ResourceType: rosterv1.ExtensionForGroup,
			Attributes: []rosterv1.ExtensionAttribute{attr("costCenter", "string"), attr("budget", "decimal")},
		}}
	})
	c := scimtest.New(sharedRoster.BaseURL, org.Name, org.Token)
	waitForToken(t, c)
	r := c.Do(t, http.MethodPost, "/Groups", fmt.Sprintf(`{"displayName":"Eng",%q:{"costCenter":"4711","budget":1.5}}`, acmeGroupURN)).Expect(t, http.StatusCreated)
	id := r.String("id")
	if r.Get(acmeGroupURN+".costCenter") != "4711" || r.Get(acmeGroupURN+".budget") != 1.5 {
		t.Fatalf("POST /Groups response: %s", r.Raw)
	}
	c.Do(t, http.MethodPatch, "/Groups/"+id, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"%s:costCenter","value":"4712"}]}`, acmeGroupURN)).Expect(t, http.StatusNoContent)
	if g := c.Do(t, http.MethodGet, "/Groups/"+id, nil).Expect(t, 200); g.Get(acmeGroupURN+".costCenter") != "4712" || g.Get(acmeGroupURN+".budget") != 1.5 {
		t.Errorf("GET after PATCH: %s", g.Raw)
	}
	if l := c.Do(t, http.MethodGet, "/Groups?filter="+urlq(acmeGroupURN+`:costCenter eq "4712"`), nil).Expect(t, 200); l.Get("totalResults") != float64(1) {
		t.Errorf("filter on the group extension: %s", l.Raw)
	}
	var team rosterv1.OrgTeam
	get := func() {
		if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: org.Namespace, Name: id}, &team); err != nil {
			t.Fatal(err)
		}
	}
	get()
	if raw := string(team.Spec.Extensions[acmeGroupURN].Raw); !strings.Contains(raw, `"costCenter":"4712"`) {
		t.Errorf("OrgTeam spec.extensions = %s", raw)
	}
	rv := team.ResourceVersion
	c.Do(t, http.MethodPatch, "/Groups/"+id, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"%s:budget","value":"lots"}]}`, acmeGroupURN)).ExpectError(t, http.StatusBadRequest, "invalidValue")
	get()
	if team.ResourceVersion != rv {
		t.Errorf("a refused PATCH wrote the OrgTeam (resourceVersion %s → %s)", rv, team.ResourceVersion)
	}
	if p := c.Do(t, http.MethodPut, "/Groups/"+id, `{"displayName":"Eng"}`).Expect(t, 200); p.Get(acmeGroupURN) != nil {
		t.Errorf("PUT without the extension kept it: %s", p.Raw)
	}
	if rt := c.Do(t, http.MethodGet, "/ResourceTypes/Group", nil).Expect(t, 200); !strings.Contains(string(rt.Raw), acmeGroupURN) {
		t.Errorf("/ResourceTypes/Group lacks the extension: %s", rt.Raw)
	}
}

// TestCustomExtensionRedeclaredDeactivation: costCenter holds "4711" when the Organization
// redeclares it integer. Entra disables a user by PATCH active=false: it must succeed (the
// person keeps access otherwise), the old value carried over as stored.
func TestCustomExtensionRedeclaredDeactivation(t *testing.T) {
	c, org := newAcmeOrg(t)
	id := c.Do(t, http.MethodPost, "/Users", fmt.Sprintf(`{"userName":"redecl@example.com",%q:{"costCenter":"4711"}}`, acmeURN)).Expect(t, http.StatusCreated).String("id")
	ctx := context.Background()
	var o rosterv1.Organization
	if err := env.Client.Get(ctx, types.NamespacedName{Name: org.name}, &o); err != nil {
		t.Fatal(err)
	}
	before := o.DeepCopy()
	o.Spec.ExtensionSchemas[0].Attributes[0].Type = "integer" // costCenter
	if err := env.Client.Patch(ctx, &o, client.MergeFrom(before)); err != nil {
		t.Fatalf("redeclaring costCenter: %v", err)
	}
	// The server must have the new declaration before the PATCH means anything.
	eventually(t, 10*time.Second, func() bool {
		s := c.Do(t, http.MethodGet, "/Schemas/"+acmeURN, nil)
		return s.Status == 200 && s.Get("attributes.0.name") == "costCenter" && s.Get("attributes.0.type") == "integer"
	}, "the redeclaration never reached the SCIM server")
	c.Do(t, http.MethodPatch, "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`).Expect(t, http.StatusOK)
	u := org.user(t, id)
	if u.Spec.Active == nil || *u.Spec.Active {
		t.Errorf("the user is still active after the deactivation PATCH")
	}
	if ext := storedExt(t, u); ext["costCenter"] != "4711" {
		t.Errorf("costCenter after the deactivation = %v, want carried over as stored", ext["costCenter"])
	}
	c.Do(t, http.MethodPatch, "/Users/"+id, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"%s:costCenter","value":"x"}]}`, acmeURN)).ExpectError(t, http.StatusBadRequest, "invalidValue")
}
