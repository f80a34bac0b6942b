package filter

import (
	"testing"

	"github.com/rosterhq/roster/internal/scim/schema"
)

// TestRestrict: in a search across users and groups, a condition on an attribute only users
// have holds for no group, whatever the operator or "not" around it, and conditions on the
// attributes a type has keep their meaning. alice is a user (with displayName "Alice Liddell"),
// eng a group (displayName "Eng").
func TestRestrict(t *testing.T) {
	user, group := decode(t, alice), decode(t, eng)
	tests := []struct {
		filter          string
		wantUser, wantG bool
	}{
		{`userName ne "bob"`, true, false},
		{`not (userName eq "bob")`, true, false},
		{`not (not (userName eq "bob"))`, false, false},
		{`userName eq null`, false, false},
		{`nickName eq null`, true, false},
		{`userName pr`, true, false},
		{`not (userName pr)`, false, false},
		{`not (nickName pr)`, true, false},
		{`members ne "u9"`, false, true},
		{`not (members pr)`, false, false},
		{`members[value eq "u1"]`, false, true},
		{`not (members[value eq "u9"])`, false, true},
		{`emails[type eq "work"]`, true, false},
		// RFC 7644 §3.4.3: one filter, attributes of both types.
		{`userName eq "alice@example.com" or displayName eq "Eng"`, true, true},
		{`userName eq "nobody" or displayName eq "Eng"`, false, true},
		// or: true on one side decides; unknown or false is unknown, and so is its negation.
		{`not (userName eq "nobody" or displayName eq "Ops")`, true, false},
		{`not (userName eq "alice@example.com" or displayName eq "Ops")`, false, false},
		{`not (userName eq "nobody" or displayName eq "Eng")`, true, false},
		// and: false on one side decides; unknown and true is not true.
		{`userName ne "bob" and displayName pr`, true, false},
		{`not (userName eq "bob" and displayName eq "Ops")`, true, true},
		{`not (userName eq "bob" and displayName eq "Eng")`, true, false},
		// Attributes both types have.
		{`displayName ne "Eng"`, true, false},
		{`externalId eq null`, false, true},
		{`id pr`, true, true},
	}
	for _, tt := range tests {
		e, err := Parse(tt.filter)
		if err != nil {
			t.Fatalf("Parse(%s): %v", tt.filter, err)
		}
		if err := ValidateAny([]schema.ResourceType{schema.User, schema.Group}, e); err != nil {
			t.Fatalf("ValidateAny(%s): %v", tt.filter, err)
		}
		for _, c := range []struct {
			rt   schema.ResourceType
			doc  map[string]any
			want bool
		}{{schema.User, user, tt.wantUser}, {schema.Group, group, tt.wantG}} {
			r, ok := Restrict(c.rt, e)
			if got := ok && (r == nil || Match(c.rt, r, c.doc)); got != c.want {
				t.Errorf("%s on the %s: %v, want %v (restricted to %v, %v)", tt.filter, c.rt.Name, got, c.want, r, ok)
			}
		}
	}
}

// TestRestrictKeepsValidFilters: a filter every attribute of which the type has means what it
// means on that type's own endpoint; one that can only be unknown is reported as matching
// nothing, so the caller skips the type.
func TestRestrictKeepsValidFilters(t *testing.T) {
	user := decode(t, alice)
	for _, f := range []string{
		`userName eq "alice@example.com"`, `title pr`, `not (active eq false)`, `nickName ne "x"`,
		`emails[type eq "home"].value ew "example" or externalId eq 00uAbC`, `not (name.givenName sw "B" and active eq true)`,
	} {
		e, _ := Parse(f)
		r, ok := Restrict(schema.User, e)
		if !ok || Match(schema.User, r, user) != Match(schema.User, Coerce(schema.User, e), user) {
			t.Errorf("%s: Restrict changed its meaning on users: %v", f, r)
		}
	}
	for _, f := range []string{`userName ne "x"`, `not (userName pr)`, `userName eq null and displayName pr`, `not (emails pr or displayName pr)`} {
		e, _ := Parse(f)
		if r, ok := Restrict(schema.Group, e); ok {
			t.Errorf("%s: a group could match: %v", f, r)
		}
	}
	if r, ok := Restrict(schema.Group, nil); r != nil || !ok {
		t.Errorf("no filter: %v %v, want nil true", r, ok)
	}
}
