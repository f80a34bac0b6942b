package order

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/scim/document"
	"github.com/rosterhq/roster/internal/scim/filter"
	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/slimuser"
)

const benchUsers = 100_000

// benchIndex is an index of 100,000 users of one org, fed as informer adds would feed it.
func benchIndex(b *testing.B) *Index {
	b.Helper()
	x := New()
	start := time.Unix(1_800_000_000, 0)
	for i := range benchUsers {
		name := fmt.Sprintf("user%06d@example.com", (i*7919)%benchUsers)
		u := &rosterv1.OrgUser{ObjectMeta: metav1.ObjectMeta{
			Namespace: "org", Name: naming.UserObjectName(name), ResourceVersion: fmt.Sprint(i + 1),
			CreationTimestamp: metav1.NewTime(start.Add(time.Duration(i/50) * time.Second)),
		}, Spec: rosterv1.OrgUserSpec{
			UserName: name, ExternalID: fmt.Sprintf("ext-%d", i), DisplayName: fmt.Sprintf("User %d", i),
			Name:   &rosterv1.Name{GivenName: "Given", FamilyName: fmt.Sprintf("Family%d", i)},
			Emails: []rosterv1.MultiValued{{Value: name, Type: "work"}},
		}}
		x.apply(u, false)
	}
	return x
}

func benchSelect(b *testing.B, x *Index, q Query, want int) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p, err := x.SelectUsers("org", q)
		if err != nil || len(p.Entries) != want {
			b.Fatalf("%d entries, %v", len(p.Entries), err)
		}
	}
}

// BenchmarkPage100k measures pages of 100,000 users: first page, 1,000th page (startIndex
// 99,901), a cursor page in the middle, sortBy=userName descending, and a full-scan filter
// that builds each user's SCIM document and matches it, or only the attributes it names.
func BenchmarkPage100k(b *testing.B) {
	x := benchIndex(b)
	b.Run("first", func(b *testing.B) { benchSelect(b, x, Query{Sort: Created, Count: 100}, 100) })
	b.Run("page1000", func(b *testing.B) { benchSelect(b, x, Query{Sort: Created, Offset: 99_900, Count: 100}, 100) })
	b.Run("cursor", func(b *testing.B) {
		var mid Key
		_ = x.Users("org", func(l *List) error { mid = KeyOf(Created, l.trees[Created].at(50_000)); return nil })
		benchSelect(b, x, Query{Sort: Created, After: &mid, Count: 100}, 100)
	})
	b.Run("sortUserNameDesc", func(b *testing.B) {
		benchSelect(b, x, Query{Sort: UserName, Descending: true, Offset: 50_000, Count: 100}, 100)
	})
	b.Run("prefixUserName", func(b *testing.B) {
		benchSelect(b, x, Query{Sort: Created, PrefixSort: UserName, Prefix: "user0999", Count: 100}, 100)
	})
	f, err := filter.Parse(`name.familyName co "99999" or emails.value ew "nowhere"`)
	if err != nil {
		b.Fatal(err)
	}
	f = filter.Coerce(schema.User, f)
	meta := func() document.Meta { return document.Meta{ResourceType: "User"} }
	b.Run("fullScanFilter", func(b *testing.B) {
		match := func(e *Entry) bool {
			u := e.Object.(*slimuser.User).OrgUser()
			return filter.Match(schema.User, f, document.User(u, meta()))
		}
		benchSelect(b, x, Query{Sort: Created, Match: match, Count: 100}, 1)
	})
	// What /Users does: each user's document holds only the attributes the filter names.
	b.Run("fullScanFilterKeys", func(b *testing.B) {
		keys := filter.Keys(schema.User, f)
		mask, ok := slimuser.SpecMask(keys...)
		if !ok {
			b.Fatalf("keys %v are not all spec attributes", keys)
		}
		var u rosterv1.OrgUser // decoded into for each user: only the attributes the filter names
		match := func(e *Entry) bool {
			u = rosterv1.OrgUser{}
			e.Object.(*slimuser.User).DecodeInto(&u, mask)
			return filter.Match(schema.User, f, document.UserKeys(&u, meta, keys))
		}
		benchSelect(b, x, Query{Sort: Created, Match: match, Count: 100}, 1)
	})
}

// BenchmarkUserNameScan100k is the full scan of `userName co "9999@"` (10 of 100,000 users
// match): decoded as a filter on any spec attribute is (decode), and from the index entry's
// folded userName as /Users does for a filter on id, userName, displayName and externalId
// only (entry: internal/userscan entryMatch).
func BenchmarkUserNameScan100k(b *testing.B) {
	x := benchIndex(b)
	f, err := filter.Parse(`userName co "9999@"`)
	if err != nil {
		b.Fatal(err)
	}
	f = filter.Coerce(schema.User, f)
	keys := filter.Keys(schema.User, f)
	b.Run("decode", func(b *testing.B) {
		mask, ok := slimuser.SpecMask(keys...)
		if !ok {
			b.Fatalf("keys %v are not all spec attributes", keys)
		}
		var u rosterv1.OrgUser
		meta := func() document.Meta { return document.Meta{ResourceType: "User"} }
		match := func(e *Entry) bool {
			u = rosterv1.OrgUser{}
			e.Object.(*slimuser.User).DecodeInto(&u, mask)
			return filter.Match(schema.User, f, document.UserKeys(&u, meta, keys))
		}
		benchSelect(b, x, Query{Sort: Created, Match: match, Count: 100}, 10)
	})
	b.Run("entry", func(b *testing.B) {
		d := map[string]any{}
		match := func(e *Entry) bool {
			d["userName"] = e.UserName
			return filter.Match(schema.User, f, d)
		}
		benchSelect(b, x, Query{Sort: Created, Match: match, Count: 100}, 10)
	})
}
