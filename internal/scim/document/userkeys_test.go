package document

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/scim/filter"
	"github.com/rosterhq/roster/internal/scim/schema"
)

// TestUserKeysMatchesUser: for random users and filters over every kind of attribute, the
// document of the filter's keys holds exactly those entries of the whole document, and the
// filter decides the same on both.
func TestUserKeysMatchesUser(t *testing.T) {
	filters := []string{
		`userName sw "s<1"`, `userName eq "s<7>&é"`, `displayName co "3"`, `externalId pr`,
		`active eq true`, `not (active eq false)`, `name.givenName sw "s"`, `name pr`,
		`emails[type eq "s<2>&é" or primary eq true]`, `emails.value co "5"`, `emails eq "s<1>&é"`,
		`phoneNumbers pr and title ne "x"`, `addresses.country sw "s<"`, `x509Certificates pr`,
		`id eq "u-3"`, `meta.lastModified gt "2026-01-01T00:00:00Z"`, `meta.resourceType eq "User"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber sw "s"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr`,
		`employeeNumber pr or department co "1"`, `schemas eq "urn:ietf:params:scim:schemas:core:2.0:User"`,
		`userName eq "a" or (nickName pr and not (locale sw "s<9"))`, `noSuchAttribute eq "x"`,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName pr`, `roles[value sw "s"] and ims pr`,
	}
	meta := Meta{ResourceType: "User", Location: "https://x/scim/v2/o/Users/u-3", Version: "7-a",
		Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), LastModified: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC)}
	r := rand.New(rand.NewPCG(7, 8))
	matched := make([]int, len(filters))
	for i := range 3000 {
		u := &rosterv1.OrgUser{}
		u.Name = "u-" + string(rune('0'+r.IntN(5)))
		fillRandom(r, reflect.ValueOf(&u.Spec).Elem(), 0)
		u.Spec.Extensions = randomExtensions(r)
		whole := User(u, meta)
		for j, src := range filters {
			e, err := filter.Parse(src)
			if err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			e = filter.Coerce(schema.User, e)
			keys := filter.Keys(schema.User, e)
			metaCalls := 0
			part := UserKeys(u, func() Meta { metaCalls++; return meta }, keys)
			if want := pick(whole, keys); !reflect.DeepEqual(part, want) {
				t.Fatalf("user %d, %s (keys %v):\n got %#v\nwant %#v", i, src, keys, part, want)
			}
			got, want := filter.Match(schema.User, e, part), filter.Match(schema.User, e, whole)
			if got != want {
				t.Fatalf("user %d, %s: %v on the keys' document, %v on the whole", i, src, got, want)
			}
			if got {
				matched[j]++
			}
			if metaCalls > 0 && !filter.Refers(e, "meta") && !filter.Refers(e, "schemas") {
				t.Fatalf("%s: meta built though the filter does not name it", src)
			}
		}
	}
	// The comparison means something only where the filters match some users.
	// schemas is not an attribute a filter can read (User has no schemas attribute definition).
	never := map[string]bool{`noSuchAttribute eq "x"`: true, `schemas eq "urn:ietf:params:scim:schemas:core:2.0:User"`: true}
	for j, n := range matched {
		if n == 0 && !never[filters[j]] {
			t.Errorf("%s matched no user: the random users do not exercise it", filters[j])
		}
	}
}
