package schema

import "testing"

func TestCompare(t *testing.T) {
	tests := []struct {
		name string
		rt   ResourceType
		path string
		a, b string
		want int
	}{
		{"userName case-insensitive equal", User, "userName", `{"userName":"ABC"}`, `{"userName":"abc"}`, 0},
		{"userName order ignores case", User, "username", `{"userName":"a"}`, `{"userName":"B"}`, -1},
		{"externalId case-exact", User, "externalId", `{"externalId":"B"}`, `{"externalId":"a"}`, -1},
		{"missing sorts last", User, "displayName", `{}`, `{"displayName":"z"}`, 1},
		{"present before missing", User, "displayName", `{"displayName":"z"}`, `{}`, -1},
		{"both missing", User, "displayName", `{}`, `{}`, 0},
		{"sub-attribute", User, "name.familyName", `{"name":{"familyName":"b"}}`, `{"name":{"familyName":"a"}}`, 1},
		{"multi-valued uses primary", User, "emails.value",
			`{"emails":[{"value":"z"},{"value":"a","primary":true}]}`, `{"emails":[{"value":"b"}]}`, -1},
		{"multi-valued uses first without primary", User, "emails",
			`{"emails":[{"value":"z"},{"value":"a"}]}`, `{"emails":[{"value":"b"}]}`, 1},
		{"booleans false first", User, "active", `{"active":false}`, `{"active":true}`, -1},
		{"dateTime as instants", User, "meta.lastModified",
			`{"meta":{"lastModified":"2024-01-01T10:00:00+02:00"}}`, `{"meta":{"lastModified":"2024-01-01T09:00:00Z"}}`, -1},
		{"extension attribute", User, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
			`{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"2"}}`,
			`{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"1"}}`, 1},
		{"wrong type treated as missing", User, "active", `{"active":"yes"}`, `{"active":false}`, 1},
		{"unknown path ties", User, "nope", `{"nope":1}`, `{"nope":2}`, 0},
		{"group displayName", Group, "displayName", `{"displayName":"eng"}`, `{"displayName":"Ops"}`, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Compare(tt.rt, tt.path, obj(t, tt.a), obj(t, tt.b))
			if sign(got) != tt.want {
				t.Errorf("Compare = %d, want sign %d", got, tt.want)
			}
			if back := Compare(tt.rt, tt.path, obj(t, tt.b), obj(t, tt.a)); sign(back) != -tt.want {
				t.Errorf("Compare is not antisymmetric: reversed = %d", back)
			}
		})
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
