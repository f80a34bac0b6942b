package schema

import (
	"reflect"
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
