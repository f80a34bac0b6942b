package filter

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// TestValidateAcceptsIdentityProviderFilters lists the filters Okta and Entra send
// (/work/shared/IDP-REQUESTS.md) and a few neighbours: a server that validates filters must
// never turn one of them into a 400, or provisioning stops.
func TestValidateAcceptsIdentityProviderFilters(t *testing.T) {
	tests := []struct {
		name   string
		rt     schema.ResourceType
		filter string
	}{
		{"Okta import and match", schema.User, `userName eq "a@b.c"`},
		{"Okta spec test, upper-cased", schema.User, `userName eq "A@B.C"`},
		{"attribute name in any case", schema.User, `USERNAME eq "a@b.c"`},
		{"Entra externalId", schema.User, `externalId eq "8aa1a7c4"`},
		{"Entra work email", schema.User, `emails[type eq "work"].value eq "a@b.c"`},
		{"email value", schema.User, `emails.value eq "a@b.c"`},
		{"email without sub-attribute", schema.User, `emails eq "a@b.c"`},
		{"Entra capitalised sub-attribute", schema.User, `name.FamilyName eq "Liddell"`},
		{"id", schema.User, `id eq "u-0123456789abcdef0123456789abcdef"`},
		{"incremental import", schema.User, `meta.lastModified gt "2011-05-13T04:42:34Z"`},
		{"Entra boolean as string", schema.User, `active eq "False"`},
		{"Entra and", schema.User, `userName eq "a@b.c" and active eq true`},
		{"core URN prefix", schema.User, `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a@b.c"`},
		{"enterprise attribute", schema.User, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7"`},
		{"enterprise manager", schema.User, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "m"`},
		{"enterprise manager value", schema.User, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m"`},
		{"groups of a user", schema.User, `groups eq "g-1"`},
		{"groups value", schema.User, `groups.value eq "g-1"`},
		{"groups value path", schema.User, `groups[value eq "g-1"]`},
		{"present", schema.User, `title pr`},
		{"Entra group by name", schema.Group, `displayName eq "Eng"`},
		{"group core URN prefix", schema.Group, `urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "Eng"`},
		{"group externalId", schema.Group, `externalId eq "x"`},
		{"groups of a member", schema.Group, `members.value eq "u-1"`},
		{"member value path", schema.Group, `members[value eq "u-1"]`},
		{"member without sub-attribute", schema.Group, `members eq "u-1"`},
		{"group incremental import", schema.Group, `meta.lastModified gt "2011-05-13T04:42:34Z"`},
		{"Entra unquoted sw", schema.User, `userName sw O`},
		{"Entra unquoted dateTime", schema.User, `meta.created gt 2015-10-10T14:38:21.86-07:00`},
		{"Entra unquoted familyName", schema.User, `name.familyName eq Employee`},
		{"Entra unquoted externalId", schema.User, `externalId eq 8aa1a7c4`},
		{"Entra unquoted numeric externalId", schema.User, `externalId eq 1234`},
		{"unquoted in a value path", schema.User, `emails[type eq work].value eq 42`},
		{"Entra unquoted group name", schema.Group, `displayName eq Eng`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.filter)
			if err != nil {
				t.Fatalf("Parse(%s): %v", tt.filter, err)
			}
			if err := Validate(tt.rt, Coerce(tt.rt, e)); err != nil {
				t.Errorf("Validate(%s, %s) = %v, want nil", tt.rt.Name, tt.filter, err)
			}
		})
	}
}

// TestValidateRejectsUnknownAttributes: a misspelt attribute is a 400 invalidFilter whose detail
// names it. Without validation `userNme ne "x"` matches every user, since no user has userNme.
func TestValidateRejectsUnknownAttributes(t *testing.T) {
	tests := []struct {
		rt      schema.ResourceType
		filter  string
		naming  string // the detail must contain it
		explain string
	}{
		{schema.User, `userNme ne "x"`, `"userNme"`, "misspelt attribute with ne would match everyone"},
		{schema.User, `not (userNme eq "x")`, `"userNme"`, "unknown attribute under not"},
		{schema.User, `userName eq "a" or nickame eq "b"`, `"nickame"`, "unknown attribute on one side of or"},
		{schema.User, `emails[kind eq "work"]`, `"kind"`, "unknown sub-attribute in a value path"},
		{schema.User, `name.middle eq "x"`, `"name.middle"`, "unknown sub-attribute"},
		{schema.User, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCentre eq "x"`, `costCentre`, "unknown enterprise attribute"},
		{schema.User, `members.value eq "u-1"`, `"members.value"`, "a Group attribute on /Users"},
		{schema.Group, `userName eq "x"`, `"userName"`, "a User attribute on /Groups"},
		{schema.Group, `displayNme eq "Eng"`, `"displayNme"`, "misspelt group attribute"},
	}
	for _, tt := range tests {
		t.Run(tt.explain, func(t *testing.T) {
			e, err := Parse(tt.filter)
			if err != nil {
				t.Fatalf("Parse(%s): %v", tt.filter, err)
			}
			se, ok := scimerror.As(Validate(tt.rt, e))
			if !ok {
				t.Fatalf("Validate(%s, %s) accepted it", tt.rt.Name, tt.filter)
			}
			if se.Status != http.StatusBadRequest || se.ScimType != scimerror.InvalidFilter {
				t.Errorf("got %d %s, want 400 invalidFilter", se.Status, se.ScimType)
			}
			if !strings.Contains(se.Detail, tt.naming) {
				t.Errorf("detail %q does not name %s", se.Detail, tt.naming)
			}
		})
	}
}

// TestCoerce: a number compared to a string attribute is its text (Entra's unquoted numeric
// externalId); a number compared to a boolean or dateTime is left for Validate to refuse.
func TestCoerce(t *testing.T) {
	tests := []struct{ in, want string }{
		{`externalId eq 1234`, `externalId eq "1234"`},
		{`emails[type eq work].value eq 42`, `emails[type eq "work" and value eq "42"]`},
		{`not (userName eq 1.5) or emails eq 7`, `not (userName eq "1.5") or emails eq "7"`},
		{`externalId eq 12345678901234567890`, `externalId eq "12345678901234567890"`},
		{`externalId eq 1.10`, `externalId eq "1.10"`},
		{`externalId eq 123e4`, `externalId eq "123e4"`},
		{`externalId eq 1234e567`, `externalId eq "1234e567"`},
		{`active eq 1`, `active eq 1`},
		{`meta.created gt 2015`, `meta.created gt 2015`},
		{`unknownAttr eq 3`, `unknownAttr eq 3`},
	}
	for _, tt := range tests {
		e, err := Parse(tt.in)
		if err != nil {
			t.Fatalf("Parse(%s): %v", tt.in, err)
		}
		before := e.String()
		if got := Coerce(schema.User, e).String(); got != tt.want {
			t.Errorf("Coerce(%s) = %s, want %s", tt.in, got, tt.want)
		}
		if e.String() != before {
			t.Errorf("Coerce modified its input %s", tt.in)
		}
	}
	for _, bad := range []string{`active eq 1`, `meta.created gt 2015`} {
		e, _ := Parse(bad)
		if Validate(schema.User, Coerce(schema.User, e)) == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestNumbersAsStrings: an unquoted number compared with a string attribute is the text the
// client sent, so Entra's lookup by a numeric externalId finds the user it created (a float64
// would turn 12345678901234567890 into 12345678901234567000 and find nobody).
func TestNumbersAsStrings(t *testing.T) {
	for _, id := range []string{"12345678901234567890", "1.10", "123e4", "1234e567", "-0", "007"} {
		user := map[string]any{"userName": "u", "externalId": id}
		for _, tt := range []struct {
			filter string
			want   bool
		}{
			{`externalId eq ` + id, true},
			{`externalId eq "` + id + `"`, true},
			{`externalId ne ` + id, false},
			{`externalId sw ` + id, true},
			{`externalId eq 12345678901234567000`, false},
			{`externalId eq 1.1`, false},
			{`externalId eq 1230000`, false},
		} {
			e, err := Parse(tt.filter)
			if err != nil {
				t.Fatalf("Parse(%s): %v", tt.filter, err)
			}
			e = Coerce(schema.User, e)
			if err := Validate(schema.User, e); err != nil {
				t.Errorf("Validate(%s): %v", tt.filter, err)
			}
			if got := Match(schema.User, e, user); got != tt.want {
				t.Errorf("externalId %q, filter %s: Match = %v, want %v", id, tt.filter, got, tt.want)
			}
		}
	}
}

// TestNumbersAsNumbers: compared with a numeric attribute an unquoted number is still a number,
// whatever its spelling; one beyond float64 range is a 400. No User or Group attribute is
// numeric, so the comparison runs on a definition of its own.
func TestNumbersAsNumbers(t *testing.T) {
	for _, typ := range []schema.DataType{schema.TypeInteger, schema.TypeDecimal} {
		def := &schema.Attribute{Name: "n", Type: typ}
		defOf := func(AttrPath) *schema.Attribute { return def }
		tests := []struct {
			filter string
			stored float64
			want   bool
		}{
			{`n eq 1.10`, 1.1, true},
			{`n eq 123e4`, 1230000, true},
			{`n gt 123E3`, 1230000, true},
			{`n lt 1.5e-3`, 0.001, true},
			{`n ge 12345678901234567890`, 12345678901234567890, true},
			{`n ne 2`, 2, false},
			{`n le -1`, 0, false},
		}
		for _, tt := range tests {
			e, err := Parse(tt.filter)
			if err != nil {
				t.Fatalf("Parse(%s): %v", tt.filter, err)
			}
			c, ok := coerce(e, defOf, schema.User).(*Comparison)
			if !ok || c.Value != e.(*Comparison).Value {
				t.Fatalf("%s: Coerce changed the number of a %s attribute: %v", tt.filter, typ, c)
			}
			if err := checkComparison(def, c); err != nil {
				t.Errorf("%s on %s: %v", tt.filter, typ, err)
			}
			if got := compareAll(def, []any{tt.stored}, c.Op, c.Value); got != tt.want {
				t.Errorf("%s on %s %v: %v, want %v", tt.filter, typ, tt.stored, got, tt.want)
			}
		}
		for _, bad := range []string{`n eq 1234e567`, `n gt -1e400`} {
			e, _ := Parse(bad)
			err := checkComparison(def, e.(*Comparison))
			if se, ok := scimerror.As(err); !ok || se.ScimType != scimerror.InvalidFilter || !strings.Contains(se.Detail, "out of range") {
				t.Errorf("%s on %s: %v, want 400 invalidFilter out of range", bad, typ, err)
			}
		}
	}
}

// TestValidateRejectsNeverReturned: lists match filters against the stored document, so a
// filter on a value that is never returned would reveal it (`secret sw "a"`, then "ab", …).
func TestValidateRejectsNeverReturned(t *testing.T) {
	const urn = "urn:acme:2.0:User"
	rt := schema.User.WithCustom([]*schema.Schema{{ID: urn, Name: "Acme", Attributes: []schema.Attribute{
		{Name: "secret", Type: schema.TypeString, Mutability: schema.WriteOnly, Returned: schema.ReturnedNever},
		{Name: "badge", Type: schema.TypeString, Mutability: schema.ReadWrite, Returned: schema.ReturnedDefault},
		{Name: "key", Type: schema.TypeComplex, Mutability: schema.ReadWrite, Returned: schema.ReturnedDefault, SubAttributes: []schema.Attribute{
			{Name: "value", Type: schema.TypeString, Mutability: schema.WriteOnly, Returned: schema.ReturnedNever},
			{Name: "pin", Type: schema.TypeString, Mutability: schema.WriteOnly, Returned: schema.ReturnedNever},
			{Name: "label", Type: schema.TypeString, Mutability: schema.ReadWrite, Returned: schema.ReturnedDefault},
		}},
	}}}, nil)
	for _, f := range []string{
		urn + `:secret sw "a"`,
		`secret eq "x"`,
		`secret pr`,
		`badge eq "x" or not (secret ew "z")`,
		urn + `:key.pin sw "1"`,
		`key eq "x"`, // compares key.value
		`key[pin sw "1"]`,
		`key[label eq "x" and value sw "1"]`,
		`password eq "hunter2"`,
	} {
		e, err := Parse(f)
		if err != nil {
			t.Fatalf("Parse(%s): %v", f, err)
		}
		se, ok := scimerror.As(Validate(rt, e))
		if !ok {
			t.Errorf("Validate(%s) accepted a filter on a never-returned attribute", f)
			continue
		}
		if se.Status != http.StatusBadRequest || se.ScimType != scimerror.InvalidFilter || !strings.Contains(se.Detail, "never returned") {
			t.Errorf("Validate(%s) = %d %s %q, want 400 invalidFilter naming it never returned", f, se.Status, se.ScimType, se.Detail)
		}
	}
	for _, f := range []string{`badge eq "x"`, `key.label eq "x"`, `key[label eq "x"]`} {
		e, _ := Parse(f)
		if err := Validate(rt, e); err != nil {
			t.Errorf("Validate(%s) = %v, want accepted", f, err)
		}
	}
}
