package schema

import (
	"reflect"
	"strings"
	"testing"
)

const projUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
	"id":"u1","externalId":"e1","userName":"a@b.c","name":{"givenName":"A","familyName":"B"},"active":true,
	"emails":[{"value":"a@b.c","type":"work","primary":true},{"value":"a@home","type":"home"}],
	"meta":{"resourceType":"User","location":"/Users/u1"},
	"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"7","manager":{"value":"m1"}}}`

const projGroup = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g1","displayName":"Eng",
	"members":[{"value":"u1","display":"a@b.c"}],"meta":{"resourceType":"Group"}}`

func TestProject(t *testing.T) {
	const ent = `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`
	const schemas = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:User",` + ent + `]`
	const meta = `"meta":{"resourceType":"User","location":"/Users/u1"}`
	tests := []struct {
		name       string
		rt         ResourceType
		doc        string
		attributes string
		excluded   string
		want       string
	}{
		{"no parameters returns everything", User, projUser, "", "", projUser},
		{
			name: "Entra group excludedAttributes=members", rt: Group, doc: projGroup, excluded: "members",
			want: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g1","displayName":"Eng","meta":{"resourceType":"Group"}}`,
		},
		{
			name: "attributes keeps id, schemas and meta", rt: User, doc: projUser, attributes: "userName",
			want: `{` + schemas + `,"id":"u1","userName":"a@b.c",` + meta + `}`,
		},
		{
			name: "sub-attribute, any case", rt: User, doc: projUser, attributes: "NAME.givenname",
			want: `{` + schemas + `,"id":"u1","name":{"givenName":"A"},` + meta + `}`,
		},
		{
			name: "multi-valued sub-attribute", rt: User, doc: projUser, attributes: "emails.value",
			want: `{` + schemas + `,"id":"u1","emails":[{"value":"a@b.c"},{"value":"a@home"}],` + meta + `}`,
		},
		{
			name: "URN-qualified core and extension attributes", rt: User, doc: projUser,
			attributes: "urn:ietf:params:scim:schemas:core:2.0:User:userName, urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
			want:       `{` + schemas + `,"id":"u1","userName":"a@b.c",` + meta + `,` + ent + `:{"manager":{"value":"m1"}}}`,
		},
		{
			name: "whole extension by URN", rt: User, doc: projUser, attributes: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
			want: `{` + schemas + `,"id":"u1",` + meta + `,` + ent + `:{"employeeNumber":"7","manager":{"value":"m1"}}}`,
		},
		{
			name: "excluded meta and sub-attribute; id cannot be excluded", rt: User, doc: projUser,
			excluded: "meta,emails.type,id,name,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
			want: `{` + schemas + `,"id":"u1","externalId":"e1","userName":"a@b.c","active":true,
				"emails":[{"value":"a@b.c","primary":true},{"value":"a@home"}],` + ent + `:{"manager":{"value":"m1"}}}`,
		},
		{
			name: "unknown names ignored", rt: User, doc: projUser, attributes: "nope,userName", excluded: "alsoNope",
			want: `{` + schemas + `,"id":"u1","userName":"a@b.c",` + meta + `}`,
		},
		{
			name: "password never returned", rt: User, doc: `{"id":"u1","userName":"x","password":"p"}`,
			want: `{"id":"u1","userName":"x"}`,
		},
		{
			name: "keys that are not attributes dropped", rt: User, doc: `{"id":"u1","userName":"x","internal":"y"}`,
			want: `{"id":"u1","userName":"x"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := obj(t, tt.doc)
			before := Clone(doc)
			got := Project(tt.rt, doc, ParseAttributeList(tt.attributes), ParseAttributeList(tt.excluded))
			sameJSON(t, got, tt.want)
			if !reflect.DeepEqual(doc, before) {
				t.Error("Project modified its input")
			}
		})
	}
}

func TestProjectDoesNotAlias(t *testing.T) {
	doc := obj(t, projUser)
	got := Project(User, doc, nil, nil)
	got["name"].(map[string]any)["givenName"] = "changed"
	got["emails"].([]any)[0].(map[string]any)["value"] = "changed"
	if doc["name"].(map[string]any)["givenName"] != "A" || doc["emails"].([]any)[0].(map[string]any)["value"] != "a@b.c" {
		t.Error("Project result shares maps with its input")
	}
}

func TestParseAttributeList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"members", []string{"members"}},
		{" userName , name.givenName,,emails.value ", []string{"userName", "name.givenName", "emails.value"}},
	}
	for _, tt := range tests {
		if got := ParseAttributeList(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseAttributeList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestProjectionKeeps: Keeps and KeepsSub say what Apply does to an attribute the document
// does not store (groups, members): every case is checked against Apply of a document that
// has it, and against the answer written down.
func TestProjectionKeeps(t *testing.T) {
	const groupDoc = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g1","displayName":"Eng",
		"members":[{"value":"u1","$ref":"/Users/u1","display":"a@b.c","type":"User"}]}`
	const userDoc = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1","userName":"a@b.c",
		"groups":[{"value":"g1","$ref":"/Groups/g1","display":"Eng","type":"direct"}]}`
	tests := []struct {
		rt                   ResourceType
		doc, name            string
		attributes, excluded string
		keeps                bool
		subs                 string // the sub-attributes kept, in the order of subsOf
	}{
		{Group, groupDoc, "members", "", "", true, "value $ref display type"},
		{Group, groupDoc, "members", "", "members", false, ""},
		{Group, groupDoc, "members", "", "Members.Display", true, "value $ref type"},
		{Group, groupDoc, "members", "", "members.value,members.$ref,members.display,members.type", false, ""},
		{Group, groupDoc, "members", "members.value", "", true, "value"},
		{Group, groupDoc, "members", "displayName", "", false, ""},
		{Group, groupDoc, "members", GroupSchema, "", true, "value $ref display type"},
		{Group, groupDoc, "members", GroupSchema + ":members", "members.type", true, "value $ref display"},
		{User, userDoc, "groups", "", "groups.value", true, "$ref display type"},
		{User, userDoc, "groups", "", UserSchema + ":groups", false, ""},
		{User, userDoc, "groups", "userName", "", false, ""},
		{User, userDoc, "groups", "groups.display", "groups", false, ""},
	}
	for _, tt := range tests {
		p := NewProjection(tt.rt, ParseAttributeList(tt.attributes), ParseAttributeList(tt.excluded))
		var subs []string
		for _, s := range subsOf(tt.name) {
			if p.KeepsSub(tt.name, s) {
				subs = append(subs, s)
			}
		}
		got := p.Apply(obj(t, tt.doc))[tt.name]
		var applied []string
		if vs, ok := got.([]any); ok {
			for _, s := range subsOf(tt.name) {
				if _, ok := vs[0].(map[string]any)[s]; ok {
					applied = append(applied, s)
				}
			}
		}
		what := tt.name + " attributes=" + tt.attributes + " excludedAttributes=" + tt.excluded
		if p.Keeps(tt.name) != tt.keeps || (got != nil) != tt.keeps {
			t.Errorf("%s: Keeps %v, Apply returned %v, want kept %v", what, p.Keeps(tt.name), got, tt.keeps)
		}
		if strings.Join(subs, " ") != tt.subs || strings.Join(applied, " ") != tt.subs {
			t.Errorf("%s: KeepsSub %q, Apply kept %q, want %q", what, subs, applied, tt.subs)
		}
	}
}

// subsOf returns the sub-attributes of groups and of members (the same names).
func subsOf(string) []string { return []string{"value", "$ref", "display", "type"} }
