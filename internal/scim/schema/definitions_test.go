package schema

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDefinitions(t *testing.T) {
	tests := []struct {
		rt         ResourceType
		path       string
		caseExact  bool
		mutability Mutability
		returned   Returned
		required   bool
	}{
		{User, "userName", false, ReadWrite, ReturnedDefault, true},
		{User, "id", true, ReadOnly, ReturnedAlways, false},
		{User, "externalId", true, ReadWrite, ReturnedDefault, false},
		{User, "password", false, WriteOnly, ReturnedNever, false},
		{User, "groups", false, ReadOnly, ReturnedDefault, false},
		{User, "groups.value", false, ReadOnly, ReturnedDefault, false},
		{User, "meta.lastModified", false, ReadOnly, ReturnedDefault, false},
		{User, EnterpriseUserSchema + ":manager.displayName", false, ReadOnly, ReturnedDefault, false},
		{Group, "displayName", false, ReadWrite, ReturnedDefault, true},
		{Group, "members.value", false, Immutable, ReturnedDefault, true},
	}
	for _, tt := range tests {
		r, ok := tt.rt.Lookup(tt.path)
		if !ok {
			t.Errorf("%s %s: not defined", tt.rt.Name, tt.path)
			continue
		}
		a := r.Leaf()
		if a.CaseExact != tt.caseExact || a.Mutability != tt.mutability || a.Returned != tt.returned || a.Required != tt.required {
			t.Errorf("%s %s = caseExact %v %s %s required %v", tt.rt.Name, tt.path, a.CaseExact, a.Mutability, a.Returned, a.Required)
		}
	}
	if r, _ := User.Lookup("userName"); r.Attr.Uniqueness != UniqueServer {
		t.Errorf("userName uniqueness = %s, want server", r.Attr.Uniqueness)
	}
}

func TestSchemaJSON(t *testing.T) {
	b, err := json.Marshal(CoreUser)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"id":"urn:ietf:params:scim:schemas:core:2.0:User"`,
		`{"name":"userName","type":"string","multiValued":false,`,
		`"caseExact":false,"mutability":"readWrite","returned":"default","uniqueness":"server"`,
		`"subAttributes":[{"name":"formatted"`,
		`"canonicalValues":["work","home","other"]`,
		`"referenceTypes":["User","Group"]`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("CoreUser JSON lacks %s", want)
		}
	}
}

func TestResourceTypeJSON(t *testing.T) {
	b, err := json.Marshal(User)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],"id":"User","name":"User",` +
		`"endpoint":"/Users","description":"User Account","schema":"urn:ietf:params:scim:schemas:core:2.0:User",` +
		`"schemaExtensions":[{"schema":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","required":false}]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}
