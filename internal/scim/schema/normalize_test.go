package schema

import (
	"reflect"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/scim/scimerror"
)

func TestNormalize(t *testing.T) {
	const ent = `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`
	tests := []struct {
		name string
		rt   ResourceType
		in   string
		want string
	}{
		{
			name: "Okta create user drops password, groups and id",
			rt:   User,
			in: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a@b.c",
				"name":{"givenName":"A","familyName":"B"},"emails":[{"primary":true,"value":"a@b.c","type":"work"}],
				"displayName":"A B","locale":"en-US","externalId":"00u1","groups":[],"password":"hunter2","active":true,
				"id":"spoofed","meta":{"resourceType":"User"}}`,
			want: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a@b.c",
				"name":{"givenName":"A","familyName":"B"},"emails":[{"primary":true,"value":"a@b.c","type":"work"}],
				"displayName":"A B","locale":"en-US","externalId":"00u1","active":true}`,
		},
		{
			name: "Entra active as string True",
			rt:   User,
			in:   `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","active":"True"}`,
			want: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","active":true}`,
		},
		{
			name: "Entra attribute names in any case",
			rt:   User,
			in:   `{"USERNAME":"x","Name":{"FamilyName":"F"},"Emails":[{"Value":"e","Primary":"false","TYPE":"work"}]}`,
			want: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","name":{"familyName":"F"},
				"emails":[{"value":"e","primary":false,"type":"work"}]}`,
		},
		{
			name: "Entra group create with extra schema URN and externalId",
			rt:   Group,
			in: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
				"externalId":"8aa1","displayName":"Eng","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group":{"x":1}}`,
			want: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"externalId":"8aa1","displayName":"Eng"}`,
		},
		{
			name: "Okta group create with empty members",
			rt:   Group,
			in:   `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Eng","members":[]}`,
			want: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Eng"}`,
		},
		{
			name: "group members with display and null $ref",
			rt:   Group,
			in:   `{"displayName":"Eng","members":[{"value":"u1","display":"a@b.c","$ref":null},{"VALUE":"u2"}]}`,
			want: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Eng",
				"members":[{"value":"u1","display":"a@b.c"},{"value":"u2"}]}`,
		},
		{
			name: "enterprise extension kept, manager bare string, readOnly displayName dropped",
			rt:   User,
			in: `{"userName":"x",` + ent + `:{"employeeNumber":"7","Manager":"m1","unknown":1},
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:department":"Eng"}`,
			want: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User",` + ent + `],"userName":"x",
				` + ent + `:{"employeeNumber":"7","manager":{"value":"m1"},"department":"Eng"}}`,
		},
		{
			name: "URN-qualified key wins over extension object",
			rt:   User,
			in:   `{"userName":"x",` + ent + `:{"employeeNumber":"7"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"8"}`,
			want: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User",` + ent + `],"userName":"x",` + ent + `:{"employeeNumber":"8"}}`,
		},
		{
			name: "URN-qualified core attribute",
			rt:   User,
			in:   `{"urn:ietf:params:scim:schemas:core:2.0:User:userName":"x"}`,
			want: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x"}`,
		},
		{
			name: "unknown attributes and unknown extensions dropped",
			rt:   User,
			in: `{"userName":"x","favouriteColour":"blue","urn:example:custom:2.0:User":{"a":"b"},
				"urn:example:custom:2.0:User:a":"b","name.givenName":"dotted keys are a PATCH form"}`,
			want: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x"}`,
		},
		{
			name: "nulls and empties unset",
			rt:   User,
			in:   `{"userName":"x","title":null,"name":{"givenName":null},"emails":[null],"phoneNumbers":[],` + ent + `:{}}`,
			want: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x"}`,
		},
		{
			name: "single value for multi-valued attribute wrapped",
			rt:   User,
			in:   `{"userName":"x","emails":{"value":"e"}}`,
			want: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","emails":[{"value":"e"}]}`,
		},
		{
			name: "only the first primary stays primary",
			rt:   User,
			in:   `{"userName":"x","emails":[{"value":"a","primary":true},{"value":"b","primary":"TRUE"}]}`,
			want: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x",
				"emails":[{"value":"a","primary":true},{"value":"b","primary":false}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := obj(t, tt.in)
			before := Clone(in)
			got, err := Normalize(tt.rt, in)
			if err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			sameJSON(t, got, tt.want)
			if !reflect.DeepEqual(in, before) {
				t.Errorf("Normalize modified its input")
			}
		})
	}
}

func TestNormalizeErrors(t *testing.T) {
	tests := []struct {
		name   string
		rt     ResourceType
		in     string
		detail string
	}{
		{"boolean not coercible", User, `{"userName":"x","active":"yes"}`, `"active"`},
		{"number for string", User, `{"userName":"x","displayName":5}`, `"displayName"`},
		{"array for single-valued", User, `{"userName":"x","title":["a"]}`, `"title"`},
		{"object for string", User, `{"userName":{"a":1}}`, `"userName"`},
		{"sub-attribute type", User, `{"userName":"x","emails":[{"value":1}]}`, `"emails.value"`},
		{"primary type", User, `{"userName":"x","emails":[{"value":"e","primary":"maybe"}]}`, `"emails.primary"`},
		{"complex without value sub-attribute given a string", User, `{"userName":"x","name":"Bob"}`, `"name"`},
		{"extension not an object", User, `{"userName":"x","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":"x"}`, "enterprise"},
		{"extension attribute type", User, `{"userName":"x","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":true}}`, "department"},
		{"missing userName", User, `{"displayName":"x"}`, `"userName"`},
		{"null userName", User, `{"userName":null}`, `"userName"`},
		{"missing group displayName", Group, `{"members":[]}`, `"displayName"`},
		{"member without value", Group, `{"displayName":"g","members":[{"display":"x"}]}`, `"members.value"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Normalize(tt.rt, obj(t, tt.in))
			wantSCIMError(t, err, scimerror.InvalidValue)
			if !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("error %q does not name %s", err, tt.detail)
			}
		})
	}
}

func TestNormalizeIdempotent(t *testing.T) {
	in := obj(t, `{"userName":"x","active":"false","Emails":[{"value":"a","primary":true},{"value":"b","primary":true}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"m"}}`)
	once, err := Normalize(User, in)
	if err != nil {
		t.Fatal(err)
	}
	twice, err := Normalize(User, once)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(once, twice) {
		t.Errorf("Normalize is not idempotent:\n%v\n%v", once, twice)
	}
}
