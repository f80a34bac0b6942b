package schema

import "testing"

func TestLookup(t *testing.T) {
	const ent = EnterpriseUserSchema
	tests := []struct {
		name      string
		rt        ResourceType
		path      string
		wantPath  string
		wantURN   string
		wantType  DataType
		extension bool
	}{
		{"plain", User, "userName", "userName", UserSchema, TypeString, false},
		{"any case", User, "USERNAME", "userName", UserSchema, TypeString, false},
		{"Entra name.FamilyName", User, "name.FamilyName", "name.familyName", UserSchema, TypeString, false},
		{"multi-valued sub", User, "emails.value", "emails.value", UserSchema, TypeString, false},
		{"core URN qualified", User, "urn:ietf:params:scim:schemas:core:2.0:User:userName", "userName", UserSchema, TypeString, false},
		{"core URN any case", User, "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:username", "userName", UserSchema, TypeString, false},
		{"enterprise manager", User, ent + ":manager", ent + ":manager", ent, TypeComplex, true},
		{"enterprise manager value", User, ent + ":manager.value", ent + ":manager.value", ent, TypeString, true},
		{"enterprise employeeNumber", User, ent + ":employeeNumber", ent + ":employeeNumber", ent, TypeString, true},
		{"unqualified extension attribute", User, "employeenumber", ent + ":employeeNumber", ent, TypeString, true},
		{"common id", User, "id", "id", UserSchema, TypeString, false},
		{"common meta sub", Group, "meta.LASTMODIFIED", "meta.lastModified", GroupSchema, TypeDateTime, false},
		{"group members value", Group, "members.value", "members.value", GroupSchema, TypeString, false},
		{"$ref", Group, "members.$ref", "members.$ref", GroupSchema, TypeReference, false},
		{"externalId", Group, "EXTERNALID", "externalId", GroupSchema, TypeString, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := tt.rt.Lookup(tt.path)
			if !ok {
				t.Fatalf("Lookup(%q) failed", tt.path)
			}
			if r.Path() != tt.wantPath || r.Schema != tt.wantURN || r.Leaf().Type != tt.wantType || r.Extension != tt.extension {
				t.Errorf("Lookup(%q) = path %q schema %q type %q ext %v, want %q %q %q %v",
					tt.path, r.Path(), r.Schema, r.Leaf().Type, r.Extension, tt.wantPath, tt.wantURN, tt.wantType, tt.extension)
			}
		})
	}
}

func TestLookupUnknown(t *testing.T) {
	for _, tc := range []struct {
		rt   ResourceType
		path string
	}{
		{User, "nope"},
		{User, "name.nope"},
		{User, "userName.value"},
		{User, "name.givenName.x"},
		{User, ""},
		{User, "urn:ietf:params:scim:schemas:extension:other:2.0:User:employeeNumber"},
		{User, EnterpriseUserSchema},
		{Group, EnterpriseUserSchema + ":employeeNumber"},
		{Group, "userName"},
		{Group, "urn:ietf:params:scim:schemas:core:2.0:User:displayName"},
	} {
		if r, ok := tc.rt.Lookup(tc.path); ok {
			t.Errorf("%s: Lookup(%q) = %q, want failure", tc.rt.Name, tc.path, r.Path())
		}
	}
}

func TestSplitPath(t *testing.T) {
	tests := []struct{ in, urn, name, sub string }{
		{"userName", "", "userName", ""},
		{"name.givenName", "", "name", "givenName"},
		{EnterpriseUserSchema + ":manager.value", EnterpriseUserSchema, "manager", "value"},
		{EnterpriseUserSchema, "urn:ietf:params:scim:schemas:extension:enterprise:2.0", "User", ""},
	}
	for _, tt := range tests {
		urn, name, sub := SplitPath(tt.in)
		if urn != tt.urn || name != tt.name || sub != tt.sub {
			t.Errorf("SplitPath(%q) = %q %q %q, want %q %q %q", tt.in, urn, name, sub, tt.urn, tt.name, tt.sub)
		}
	}
}
