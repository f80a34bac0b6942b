package patch

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

const (
	coreURN = `"urn:ietf:params:scim:schemas:core:2.0:User"`
	entURN  = `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`
	meta    = `"meta":{"resourceType":"User","lastModified":"2024-01-01T00:00:00Z"}`
)

// user is a stored canonical user; each test case lists what its result must differ in.
const user = `{"schemas":[` + coreURN + `,` + entURN + `],"id":"u1","externalId":"00u1","userName":"a@b.c",
	"name":{"givenName":"A","familyName":"B"},"active":true,
	"emails":[{"value":"a@home.example","type":"home","primary":true}],
	"addresses":[{"type":"work","locality":"Paris"}],` + meta + `,
	` + entURN + `:{"employeeNumber":"1","manager":{"value":"m0"}}}`

const group = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g1","displayName":"Eng",
	"members":[{"value":"u1","display":"a@b.c"},{"value":"u2"}],"meta":{"resourceType":"Group"}}`

func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return m
}

// edit returns the JSON document s with the top-level keys of patch set (null deletes).
func edit(t testing.TB, s, patch string) map[string]any {
	doc := decode(t, s)
	for k, v := range decode(t, patch) {
		if v == nil {
			delete(doc, k)
		} else {
			doc[k] = v
		}
	}
	return doc
}

func TestApply(t *testing.T) {
	tests := []struct {
		name string
		rt   schema.ResourceType
		doc  string
		ops  string
		// want holds the top-level keys the result changes (null: removed).
		want string
	}{
		{
			name: "Okta deactivate: path-less replace active false",
			rt:   schema.User, doc: user,
			ops:  `{"op":"replace","value":{"active":false}}`,
			want: `{"active":false}`,
		},
		{
			name: "Okta reactivate",
			rt:   schema.User, doc: jsonString(edit(t, user, `{"active":false}`)),
			ops:  `{"op":"replace","value":{"active":true}}`,
			want: `{"active":true}`,
		},
		{
			name: "Entra replace active with string False",
			rt:   schema.User, doc: user,
			ops:  `{"op":"Replace","path":"active","value":"False"}`,
			want: `{"active":false}`,
		},
		{
			name: "Entra path-less replace with dotted and URN keys",
			rt:   schema.User, doc: user,
			ops: `{"op":"replace","value":{"displayName":"x","name.givenName":"y",
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"7"}}`,
			want: `{"displayName":"x","name":{"givenName":"y","familyName":"B"},
				` + entURN + `:{"employeeNumber":"7","manager":{"value":"m0"}}}`,
		},
		{
			name: "path-less replace with a value-path key",
			rt:   schema.User, doc: user,
			ops: `{"op":"replace","value":{"emails[type eq \"work\"].value":"w@b.c","name.FamilyName":"F"}}`,
			want: `{"emails":[{"value":"a@home.example","type":"home","primary":true},{"type":"work","value":"w@b.c"}],
				"name":{"givenName":"A","familyName":"F"}}`,
		},
		{
			name: "value filter with an unquoted number on a string sub-attribute (Entra) matches its text",
			rt:   schema.User, doc: jsonString(edit(t, user, `{"addresses":[{"type":"work","postalCode":"75001","locality":"Paris"}]}`)),
			ops:  `{"op":"replace","path":"addresses[postalCode eq 75001].locality","value":"Lyon"}`,
			want: `{"addresses":[{"type":"work","postalCode":"75001","locality":"Lyon"}]}`,
		},
		{
			name: "remove with an unquoted number in the value filter",
			rt:   schema.User, doc: jsonString(edit(t, user, `{"phoneNumbers":[{"value":"5551234","type":"work"},{"value":"5559876","type":"home"}]}`)),
			ops:  `{"op":"remove","path":"phoneNumbers[value eq 5551234]"}`,
			want: `{"phoneNumbers":[{"value":"5559876","type":"home"}]}`,
		},
		{
			name: "path-less replace with a whole extension object merges it",
			rt:   schema.User, doc: user,
			ops:  `{"op":"replace","value":{` + entURN + `:{"department":"x"}}}`,
			want: `{` + entURN + `:{"employeeNumber":"1","department":"x","manager":{"value":"m0"}}}`,
		},
		{
			name: "path-less add of the extension to a user without one",
			rt:   schema.User, doc: jsonString(edit(t, user, `{`+entURN+`:null,"schemas":[`+coreURN+`]}`)),
			ops:  `{"op":"add","value":{` + entURN + `:{"department":"x"}}}`,
			want: `{"schemas":[` + coreURN + `,` + entURN + `],` + entURN + `:{"department":"x"}}`,
		},
		{
			name: "Entra add emails[type eq work].value creates the work email",
			rt:   schema.User, doc: user,
			ops:  `{"op":"Add","path":"emails[type eq \"work\"].value","value":"a@b.c"}`,
			want: `{"emails":[{"value":"a@home.example","type":"home","primary":true},{"type":"work","value":"a@b.c"}]}`,
		},
		{
			name: "Entra replace emails[type eq work].value on a user without one creates it",
			rt:   schema.User, doc: jsonString(edit(t, user, `{"emails":null}`)),
			ops:  `{"op":"Replace","path":"emails[type eq \"work\"].value","value":"a@b.c"}`,
			want: `{"emails":[{"type":"work","value":"a@b.c"}]}`,
		},
		{
			name: "Entra replace emails[type eq work].value beside a home email adds a work email",
			rt:   schema.User, doc: user,
			ops:  `{"op":"Replace","path":"emails[type eq \"work\"].value","value":"w@b.c"}`,
			want: `{"emails":[{"value":"a@home.example","type":"home","primary":true},{"type":"work","value":"w@b.c"}]}`,
		},
		{
			name: "remove active leaves it absent, not defaulted",
			rt:   schema.User, doc: user,
			ops:  `{"op":"remove","path":"active"}`,
			want: `{"active":null}`,
		},
		{
			name: "remove the whole enterprise extension",
			rt:   schema.User, doc: user,
			ops:  `{"op":"remove","path":` + entURN + `}`,
			want: `{` + entURN + `:null,"schemas":[` + coreURN + `]}`,
		},
		{
			name: "Entra add emails[type eq work].value changes the existing work email",
			rt:   schema.User, doc: jsonString(edit(t, user, `{"emails":[{"value":"old@b.c","type":"work"}]}`)),
			ops:  `{"op":"Add","path":"emails[type eq \"work\"].value","value":"a@b.c"}`,
			want: `{"emails":[{"value":"a@b.c","type":"work"}]}`,
		},
		{
			name: "Entra add name.familyName",
			rt:   schema.User, doc: user,
			ops:  `{"op":"Add","path":"name.familyName","value":"Liddell"}`,
			want: `{"name":{"givenName":"A","familyName":"Liddell"}}`,
		},
		{
			name: "Entra replace addresses[type eq work].locality",
			rt:   schema.User, doc: user,
			ops:  `{"op":"Replace","path":"addresses[type eq \"work\"].locality","value":"Lyon"}`,
			want: `{"addresses":[{"type":"work","locality":"Lyon"}]}`,
		},
		{
			name: "Entra add enterprise manager as a bare string",
			rt:   schema.User, doc: user,
			ops:  `{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m1"}`,
			want: `{` + entURN + `:{"employeeNumber":"1","manager":{"value":"m1"}}}`,
		},
		{
			name: "replace enterprise employeeNumber by URN path",
			rt:   schema.User, doc: user,
			ops:  `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"9"}`,
			want: `{` + entURN + `:{"employeeNumber":"9","manager":{"value":"m0"}}}`,
		},
		{
			name: "path names in any case",
			rt:   schema.User, doc: user,
			ops:  `{"op":"Replace","path":"NAME.GIVENNAME","value":"Z"},{"op":"Replace","path":"DisplayName","value":"D"}`,
			want: `{"name":{"givenName":"Z","familyName":"B"},"displayName":"D"}`,
		},
		{
			name: "add to multi-valued appends and merges an equal value",
			rt:   schema.User, doc: user,
			ops: `{"op":"add","path":"emails","value":[{"value":"A@HOME.example","type":"home","display":"h"},
				{"value":"x@work.example","type":"work"}]}`,
			want: `{"emails":[{"value":"A@HOME.example","type":"home","primary":true,"display":"h"},{"value":"x@work.example","type":"work"}]}`,
		},
		{
			name: "add with primary true clears primary on the others",
			rt:   schema.User, doc: user,
			ops:  `{"op":"add","path":"emails","value":[{"value":"w@b.c","type":"work","primary":"True"}]}`,
			want: `{"emails":[{"value":"a@home.example","type":"home","primary":false},{"value":"w@b.c","type":"work","primary":true}]}`,
		},
		{
			name: "replace primary through a value path clears the others",
			rt:   schema.User, doc: jsonString(edit(t, user, `{"emails":[{"value":"h","type":"home","primary":true},{"value":"w","type":"work"}]}`)),
			ops:  `{"op":"replace","path":"emails[type eq \"work\"].primary","value":true}`,
			want: `{"emails":[{"value":"h","type":"home","primary":false},{"value":"w","type":"work","primary":true}]}`,
		},
		{
			name: "replace a matching value",
			rt:   schema.User, doc: user,
			ops:  `{"op":"replace","path":"emails[type eq \"home\"]","value":{"value":"new@home","type":"home"}}`,
			want: `{"emails":[{"value":"new@home","type":"home"}]}`,
		},
		{
			name: "replace multi-valued without filter replaces the list",
			rt:   schema.User, doc: user,
			ops:  `{"op":"replace","path":"emails","value":[{"value":"only@b.c"}]}`,
			want: `{"emails":[{"value":"only@b.c"}]}`,
		},
		{
			name: "remove with value filter removes matching values",
			rt:   schema.User, doc: jsonString(edit(t, user, `{"emails":[{"value":"h","type":"home"},{"value":"w","type":"work"}]}`)),
			ops:  `{"op":"remove","path":"emails[type eq \"home\"]"}`,
			want: `{"emails":[{"value":"w","type":"work"}]}`,
		},
		{
			name: "remove the last matching value removes the attribute",
			rt:   schema.User, doc: user,
			ops:  `{"op":"remove","path":"emails[type eq \"home\"]"}`,
			want: `{"emails":null}`,
		},
		{
			name: "remove a sub-attribute through a filter",
			rt:   schema.User, doc: user,
			ops:  `{"op":"remove","path":"emails[type eq \"home\"].primary"}`,
			want: `{"emails":[{"value":"a@home.example","type":"home"}]}`,
		},
		{
			name: "remove matching nothing is a no-op",
			rt:   schema.User, doc: user,
			ops:  `{"op":"remove","path":"emails[type eq \"other\"]"},{"op":"remove","path":"nickName"}`,
			want: `{}`,
		},
		{
			name: "remove whole attribute and sub-attribute",
			rt:   schema.User, doc: user,
			ops:  `{"op":"remove","path":"emails"},{"op":"remove","path":"name.givenName"}`,
			want: `{"emails":null,"name":{"familyName":"B"}}`,
		},
		{
			name: "remove the whole extension",
			rt:   schema.User, doc: user,
			ops:  `{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}`,
			want: `{"schemas":[` + coreURN + `],` + entURN + `:null}`,
		},
		{
			name: "replace with null unsets",
			rt:   schema.User, doc: user,
			ops:  `{"op":"replace","path":"externalId","value":null}`,
			want: `{"externalId":null}`,
		},
		{
			name: "replace name object merges sub-attributes",
			rt:   schema.User, doc: user,
			ops:  `{"op":"replace","path":"name","value":{"familyName":"C"}}`,
			want: `{"name":{"givenName":"A","familyName":"C"}}`,
		},
		{
			name: "password is accepted and never stored",
			rt:   schema.User, doc: user,
			ops:  `{"op":"replace","path":"password","value":"hunter2"},{"op":"replace","value":{"password":"x"}}`,
			want: `{}`,
		},
		{
			name: "unknown attributes are ignored",
			rt:   schema.User, doc: user,
			ops: `{"op":"replace","path":"favouriteColour","value":"blue"},
				{"op":"add","value":{"urn:example:custom:2.0:User:x":"y","schemas":["x"],"not a path":1}},
				{"op":"remove","path":"urn:example:custom:2.0:User:x"}`,
			want: `{}`,
		},
		{
			name: "same id in a replace is ignored",
			rt:   schema.User, doc: user,
			ops:  `{"op":"replace","path":"id","value":"u1"}`,
			want: `{}`,
		},
		{
			name: "Okta group rename with the group's own id",
			rt:   schema.Group, doc: group,
			ops:  `{"op":"replace","value":{"id":"g1","displayName":"Engineering"}}`,
			want: `{"displayName":"Engineering"}`,
		},
		{
			name: "Okta group rename unchanged",
			rt:   schema.Group, doc: group,
			ops:  `{"op":"replace","value":{"id":"g1","displayName":"Eng"}}`,
			want: `{}`,
		},
		{
			name: "group add members deduplicates",
			rt:   schema.Group, doc: group,
			ops:  `{"op":"add","path":"members","value":[{"value":"u2","display":"b","$ref":null},{"value":"u3"}]}`,
			want: `{"members":[{"value":"u1","display":"a@b.c"},{"value":"u2","display":"b"},{"value":"u3"}]}`,
		},
		{
			name: "Okta remove members[value eq id]",
			rt:   schema.Group, doc: group,
			ops:  `{"op":"remove","path":"members[value eq \"u1\"]"}`,
			want: `{"members":[{"value":"u2"}]}`,
		},
		{
			name: "Entra Remove members with a value list removes only those",
			rt:   schema.Group, doc: group,
			ops:  `{"op":"Remove","path":"members","value":[{"value":"u2"}]}`,
			want: `{"members":[{"value":"u1","display":"a@b.c"}]}`,
		},
		{
			name: "Entra Remove members with an empty list removes nothing",
			rt:   schema.Group, doc: group,
			ops:  `{"op":"Remove","path":"members","value":[]}`,
			want: `{}`,
		},
		{
			name: "Okta replace members sets the list",
			rt:   schema.Group, doc: group,
			ops:  `{"op":"replace","path":"members","value":[{"value":"u9"}]}`,
			want: `{"members":[{"value":"u9"}]}`,
		},
		{
			name: "remove members without value removes all",
			rt:   schema.Group, doc: group,
			ops:  `{"op":"remove","path":"members"}`,
			want: `{"members":null}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := decode(t, tt.doc)
			before := schema.Clone(doc)
			ops, err := Parse(body(tt.ops))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got, err := Apply(tt.rt, doc, ops)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			want := edit(t, tt.doc, tt.want)
			if !reflect.DeepEqual(roundTrip(t, got), want) {
				t.Errorf("got  %s\nwant %s", jsonString(got), jsonString(want))
			}
			if !reflect.DeepEqual(doc, before) {
				t.Error("Apply modified its input")
			}
		})
	}
}

func TestApplyErrors(t *testing.T) {
	tests := []struct {
		name   string
		rt     schema.ResourceType
		ops    string
		want   scimerror.ScimType
		detail string
	}{
		{"Okta group rename with another id", schema.Group, `{"op":"replace","value":{"id":"other","displayName":"Eng"}}`, scimerror.Mutability, `"id"`},
		{"replace id", schema.User, `{"op":"replace","path":"id","value":"u2"}`, scimerror.Mutability, `"id"`},
		{"remove id", schema.User, `{"op":"remove","path":"id"}`, scimerror.Mutability, `"id"`},
		{"replace meta", schema.User, `{"op":"replace","path":"meta.lastModified","value":"2030-01-01T00:00:00Z"}`, scimerror.Mutability, "meta.lastModified"},
		{"add groups", schema.User, `{"op":"add","path":"groups","value":[{"value":"g1"}]}`, scimerror.Mutability, `"groups"`},
		{"replace manager displayName", schema.User, `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName","value":"x"}`, scimerror.Mutability, "displayName"},
		{"replace immutable member value", schema.Group, `{"op":"replace","path":"members[value eq \"u1\"].value","value":"u9"}`, scimerror.Mutability, "members.value"},
		{"remove immutable member value", schema.Group, `{"op":"remove","path":"members[value eq \"u1\"].value"}`, scimerror.Mutability, "members.value"},
		{"replace a member with another id", schema.Group, `{"op":"replace","path":"members[value eq \"u1\"]","value":{"value":"u9"}}`, scimerror.Mutability, "members.value"},
		{"boolean not coercible", schema.User, `{"op":"replace","path":"active","value":"maybe"}`, scimerror.InvalidValue, `"active"`},
		{"string attribute given a number", schema.User, `{"op":"replace","value":{"displayName":5}}`, scimerror.InvalidValue, `"displayName"`},
		{"remove required userName", schema.User, `{"op":"remove","path":"userName"}`, scimerror.InvalidValue, `"userName"`},
		{"filter on a single-valued attribute", schema.User, `{"op":"replace","path":"name[givenName eq \"A\"].familyName","value":"x"}`, scimerror.InvalidPath, "multi-valued"},
		{"replace through a filter that matches nothing and cannot build a value", schema.User,
			`{"op":"replace","path":"emails[type eq \"work\" or type eq \"other\"].value","value":"x"}`, scimerror.NoTarget, "emails"},
		{"failure in a later operation names it", schema.User,
			`{"op":"replace","path":"displayName","value":"ok"},{"op":"replace","path":"active","value":[]}`, scimerror.InvalidValue, "Operations[1]"},
		{"extension object not an object", schema.User, `{"op":"replace","value":{` + entURN + `:"x"}}`, scimerror.InvalidValue, "enterprise"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := user
			if tt.rt.Name == "Group" {
				src = group
			}
			doc := decode(t, src)
			before := schema.Clone(doc)
			ops, err := Parse(body(tt.ops))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got, err := Apply(tt.rt, doc, ops)
			e, ok := scimerror.As(err)
			if !ok || e.Status != 400 || e.ScimType != tt.want {
				t.Fatalf("Apply error = %v, want 400 %s", err, tt.want)
			}
			if got != nil {
				t.Error("Apply returned a document with its error")
			}
			if !strings.Contains(e.Detail, tt.detail) {
				t.Errorf("detail %q does not contain %q", e.Detail, tt.detail)
			}
			if !reflect.DeepEqual(doc, before) {
				t.Error("a failed Apply modified its input")
			}
		})
	}
}

// TestApplyHandBuilt covers operations built without Parse.
func TestApplyHandBuilt(t *testing.T) {
	doc := decode(t, user)
	for _, op := range []Operation{
		{Op: Remove},
		{Op: "move", Path: &Path{Attr: "title"}},
		{Op: Add, Value: "not an object"},
	} {
		if _, err := Apply(schema.User, doc, []Operation{op}); err == nil {
			t.Errorf("Apply(%+v) succeeded", op)
		} else if _, ok := scimerror.As(err); !ok {
			t.Errorf("Apply(%+v) error %v is not a *scimerror.Error", op, err)
		}
	}
	if _, err := Apply(schema.User, nil, []Operation{{Op: Add, Path: &Path{Attr: "userName"}, Value: "x"}}); err != nil {
		t.Errorf("Apply on a nil document: %v", err)
	}
}

func roundTrip(t testing.TB, m map[string]any) map[string]any {
	return decode(t, jsonString(m))
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestApplyChecksOnlyWhatItTouches: the Organization redeclared costCenter as an integer,
// tightened badge's canonical values and declared a required tag after this user was stored.
// Entra's deactivation PATCH must still succeed (the user would keep access otherwise), the
// stored values carried over as stored; a PATCH that touches one of them is checked.
func TestApplyChecksOnlyWhatItTouches(t *testing.T) {
	const urn = "urn:acme:2.0:User"
	rt := schema.User.WithCustom([]*schema.Schema{{ID: urn, Name: "Acme", Attributes: []schema.Attribute{
		{Name: "costCenter", Type: schema.TypeInteger, Mutability: schema.ReadWrite, Returned: schema.ReturnedDefault},
		{Name: "badge", Type: schema.TypeString, Mutability: schema.ReadWrite, Returned: schema.ReturnedDefault, CanonicalValues: []string{"gold"}, StrictCanonical: true},
		{Name: "tag", Type: schema.TypeString, Mutability: schema.ReadWrite, Returned: schema.ReturnedDefault, Required: true},
	}}}, []string{urn})
	stored := decode(t, `{"schemas":[`+coreURN+`,"`+urn+`"],"id":"u1","userName":"a@b.c","active":true,`+meta+`,
		"`+urn+`":{"costCenter":"4711","badge":"bronze"}}`)
	apply := func(ops string) (map[string]any, error) {
		parsed, err := Parse([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":` + ops + `}`))
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		return Apply(rt, stored, parsed)
	}
	out, err := apply(`[{"op":"replace","path":"active","value":false}]`)
	if err != nil {
		t.Fatalf("deactivation after the redeclaration: %v", err)
	}
	ext, _ := out[urn].(map[string]any)
	if out["active"] != false || ext["costCenter"] != "4711" || ext["badge"] != "bronze" {
		t.Errorf("after deactivation: %v", out)
	}
	if s, _ := out["schemas"].([]any); len(s) != 2 {
		t.Errorf("schemas = %v, want core and %s", out["schemas"], urn)
	}
	for ops, scimType := range map[string]scimerror.ScimType{
		`[{"op":"replace","path":"` + urn + `:costCenter","value":"x"}]`: scimerror.InvalidValue,
		`[{"op":"replace","path":"` + urn + `:badge","value":"silver"}]`: scimerror.InvalidValue,
		`[{"op":"remove","path":"` + urn + `:tag"}]`:                     scimerror.InvalidValue,
	} {
		_, err := apply(ops)
		if se, ok := scimerror.As(err); !ok || se.ScimType != scimType {
			t.Errorf("%s = %v, want 400 %s", ops, err, scimType)
		}
	}
	if out, err := apply(`[{"op":"replace","path":"` + urn + `:costCenter","value":42}]`); err != nil || out[urn].(map[string]any)["costCenter"] == "4711" {
		t.Errorf("a valid new costCenter: %v, %v", out, err)
	}
}
