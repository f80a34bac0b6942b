package filter

import (
	"slices"
	"testing"

	"github.com/rosterhq/roster/internal/scim/schema"
)

func TestKeys(t *testing.T) {
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{`userName eq "a"`, []string{"userName"}},
		{`USERNAME sw "a" and name.familyName co "b"`, []string{"userName", "name"}},
		{`emails[type eq "work" and value co "@x"] or emails.primary eq true`, []string{"emails"}},
		{`not (meta.lastModified gt "2026-01-01T00:00:00Z") and id eq "u"`, []string{"meta", "id"}},
		{`employeeNumber pr or ` + ent + `:manager.value eq "m"`, []string{ent}},
		{`urn:ietf:params:scim:schemas:core:2.0:User:displayName pr`, []string{"displayName"}},
		{`noSuchAttribute eq "x" or name.noSuchSub pr`, nil},
	} {
		e, err := Parse(tc.filter)
		if err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		if got := Keys(schema.User, e); !slices.Equal(got, tc.want) {
			t.Errorf("Keys(%s) = %q, want %q", tc.filter, got, tc.want)
		}
	}
}
