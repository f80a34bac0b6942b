package userscan

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/order"
	"github.com/rosterhq/roster/internal/scim/document"
	"github.com/rosterhq/roster/internal/scim/filter"
	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/slimuser"
)

const benchUsers = 100_000

var benchTitles = []string{"Engineer", "Senior Engineer", "Manager", "Sales Lead", "Designer", "engineering Manager", "Analyst"}

// benchEntries is the index entries of 100,000 cached users of one org, as Okta provisions
// them: a work email that is the userName, some a second (home) email, a title, a name and
// the enterprise extension's department and employee number.
func benchEntries(b *testing.B) []*order.Entry {
	b.Helper()
	start := time.Unix(1_800_000_000, 0)
	entries := make([]*order.Entry, benchUsers)
	for i := range benchUsers {
		name := fmt.Sprintf("user%06d@example.com", (i*7919)%benchUsers)
		spec := rosterv1.OrgUserSpec{
			UserName: name, ExternalID: fmt.Sprintf("ext-%d", i), DisplayName: fmt.Sprintf("User %d", i),
			Title:      benchTitles[i%len(benchTitles)],
			Name:       &rosterv1.Name{GivenName: "Given", FamilyName: fmt.Sprintf("Family%d", i)},
			Emails:     []rosterv1.MultiValued{{Value: name, Type: "work"}},
			Enterprise: &rosterv1.EnterpriseUser{Department: fmt.Sprintf("Dept %d", i%100), EmployeeNumber: fmt.Sprint(i)},
		}
		if i%3 == 0 {
			spec.Emails = append(spec.Emails, rosterv1.MultiValued{Value: fmt.Sprintf("home%d@mail.example", i), Type: "home"})
		}
		u := &rosterv1.OrgUser{ObjectMeta: metav1.ObjectMeta{
			Namespace: "org", Name: naming.UserObjectName(name), ResourceVersion: fmt.Sprint(i + 1),
			CreationTimestamp: metav1.NewTime(start.Add(time.Duration(i/50) * time.Second)),
		}, Spec: spec}
		entries[i] = order.UserEntry(slimuser.New(u))
	}
	return entries
}

// BenchmarkDecodedScan100k is the match of a full scan of 100,000 cached users on filters the
// index entry cannot answer (decodeMatch): a single-valued core attribute, an enterprise
// attribute, a multi-valued one, a complex value filter, a sub-attribute of name. One op is
// the whole scan; ns/user and allocs/user are per user.
func BenchmarkDecodedScan100k(b *testing.B) {
	entries := benchEntries(b)
	meta := func(*rosterv1.OrgUser) document.Meta { return document.Meta{ResourceType: "User"} }
	for _, c := range []struct{ name, filter string }{
		{"titleSw", `title sw "Eng"`},
		{"enterpriseDepartmentEq", `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "dept 42"`},
		{"emailsValueCo", `emails.value co "9999@"`},
		{"emailsWorkValueCo", `emails[type eq "work" and value co "9999@"]`},
		{"familyNameCo", `name.familyName co "99999"`},
	} {
		f, err := filter.Parse(c.filter)
		if err != nil {
			b.Fatal(err)
		}
		f = filter.Coerce(schema.User, f)
		if entryHolds(filter.Keys(schema.User, f)) {
			b.Fatalf("%s: the entry holds what it reads, no decode", c.filter)
		}
		want := 0 // the whole document's match
		for _, e := range entries {
			if filter.Match(schema.User, f, document.User(e.Object.(*slimuser.User).OrgUser(), document.Meta{ResourceType: "User"})) {
				want++
			}
		}
		if want == 0 {
			b.Fatalf("%s matches no user", c.filter)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				match := Match(schema.User, f, meta)
				n := 0
				for _, e := range entries {
					if match(e) {
						n++
					}
				}
				if n != want {
					b.Fatalf("%s: %d matches, the whole documents %d", c.filter, n, want)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchUsers, "ns/user")
		})
	}
}
