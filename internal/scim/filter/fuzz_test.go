package filter

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`userName eq "a@b.c"`,
		`emails[type eq "work"].value eq "a@b.c"`,
		`emails[type eq "work" and primary eq true] or not (active eq false)`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m"`,
		`meta.lastModified gt "2011-05-13T04:42:34Z" and title pr`,
		`a eq null or b ne -1.5e3 or (c co "\u00e9\"")`,
		`userName sw O and meta.created gt 2015-10-10T14:38:21.86-07:00`,
		`emails[type eq work].value eq a@b.c or externalId eq 1234`,
	} {
		f.Add(s)
	}
	var user map[string]any
	_ = json.Unmarshal([]byte(alice), &user)
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			if se, ok := scimerror.As(err); !ok || se.Status != 400 || se.ScimType != scimerror.InvalidFilter {
				t.Fatalf("Parse(%q) error %v is not a 400 invalidFilter *scimerror.Error", s, err)
			}
			return
		}
		canon := e.String()
		if len(canon) > MaxLength {
			return // documented: the canonical form may outgrow the input limit
		}
		again, err := Parse(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, s, err)
		}
		if !reflect.DeepEqual(e, again) {
			t.Fatalf("round trip changed the tree:\n%q\n%q", canon, again.String())
		}
		if again.String() != canon {
			t.Fatalf("String is not stable: %q then %q", canon, again.String())
		}
		got := Match(schema.User, e, user)
		for _, c := range EqualityTerms(e) {
			if got && !Match(schema.User, &c, user) {
				t.Fatalf("%q matches but its term %q does not", canon, c.String())
			}
		}
		if err := Validate(schema.User, e); err != nil {
			if se, ok := scimerror.As(err); !ok || se.ScimType != scimerror.InvalidFilter {
				t.Fatalf("Validate error %v is not invalidFilter", err)
			}
		}
		// A filter valid for users means the same restricted to users (base-URL search).
		if coerced := Coerce(schema.User, e); Validate(schema.User, coerced) == nil {
			r, ok := Restrict(schema.User, e)
			if !ok || Match(schema.User, r, user) != Match(schema.User, coerced, user) {
				t.Fatalf("Restrict changed the meaning of %q on users: %v", canon, r)
			}
		}
	})
}
