package order

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/slimuser"
)

// randomEntries returns n users with random names, some sharing creation seconds and display
// names, some without externalId.
func randomEntries(r *rand.Rand, n int) []*Entry {
	out := make([]*Entry, n)
	for i := range out {
		out[i] = &Entry{
			Name:        fmt.Sprintf("u-%08x", r.Uint32()),
			Created:     int64(r.IntN(n/4 + 1)),
			UserName:    fmt.Sprintf("user%06d@example.com", r.IntN(10*n)),
			DisplayName: []string{"ann", "bob", "cy", ""}[r.IntN(4)],
		}
		if r.IntN(3) > 0 {
			out[i].ExternalID = fmt.Sprintf("X%d", r.IntN(n))
		}
	}
	return out
}

func names(es []*Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Name
	}
	return out
}

// TestSelectEqualsSort checks every order, both directions, paged by offset and walked by
// cursors forward and back, against a plain sort of the same entries, after inserts,
// replacements and removals.
func TestSelectEqualsSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	l := NewList(UserName, DisplayName, ExternalID)
	live := map[string]*Entry{}
	for _, e := range randomEntries(r, 3000) {
		l.Put(e)
		live[e.Name] = e
	}
	i := 0
	for name, e := range live { // remove a third, replace a third
		switch i % 3 {
		case 0:
			l.Remove(name)
			delete(live, name)
		case 1:
			c := *e
			c.DisplayName = "zed"
			l.Put(&c)
			live[name] = &c
		}
		i++
	}
	if l.Len() != len(live) {
		t.Fatalf("Len = %d, want %d", l.Len(), len(live))
	}
	for _, s := range []Sort{Created, UserName, DisplayName, ExternalID} {
		for _, desc := range []bool{false, true} {
			want := make([]*Entry, 0, len(live))
			for _, e := range live {
				want = append(want, e)
			}
			slices.SortFunc(want, func(a, b *Entry) int { return Compare(s, a, b) })
			if desc {
				slices.Reverse(want)
			}
			var got []*Entry
			for off := 0; off < len(want); off += 37 {
				p, err := l.Select(Query{Sort: s, Descending: desc, Offset: off, Count: 37})
				if err != nil {
					t.Fatal(err)
				}
				if p.Total != len(want) {
					t.Fatalf("sort %d: Total = %d, want %d", s, p.Total, len(want))
				}
				got = append(got, p.Entries...)
			}
			if !slices.Equal(names(got), names(want)) {
				t.Fatalf("sort %d desc %v: offset pages differ from a sort", s, desc)
			}
			// Forward by cursor, then back.
			var fwd []*Entry
			var firsts []Key
			q := Query{Sort: s, Descending: desc, Count: 50}
			for {
				p, err := l.Select(q)
				if err != nil {
					t.Fatal(err)
				}
				fwd = append(fwd, p.Entries...)
				if !p.More(len(p.Entries)) {
					break
				}
				firsts = append(firsts, KeyOf(s, p.Entries[0]))
				k := KeyOf(s, p.Entries[len(p.Entries)-1])
				q.After = &k
			}
			if !slices.Equal(names(fwd), names(want)) {
				t.Fatalf("sort %d desc %v: cursor walk differs from a sort", s, desc)
			}
			// A previous cursor made of page k's first entry returns page k-1.
			for k := 1; k < len(firsts); k++ {
				key := firsts[k]
				p, err := l.Select(Query{Sort: s, Descending: desc, Count: 50, After: &key, Before: true})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(names(p.Entries), names(want[(k-1)*50:k*50])) {
					t.Fatalf("sort %d desc %v: previous of page %d is not page %d", s, desc, k, k-1)
				}
			}
		}
	}
}

// TestPrefixEqualsScan checks that a prefix range, and a filtered selection, select what a
// scan of every entry does.
func TestPrefixEqualsScan(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	l := NewList(UserName, DisplayName, ExternalID)
	all := randomEntries(r, 2000)
	for _, e := range all {
		l.Put(e)
	}
	for _, tc := range []struct {
		s      Sort
		prefix string
	}{{UserName, "user00"}, {UserName, "user01"}, {UserName, ""}, {DisplayName, "b"}, {DisplayName, ""}, {ExternalID, "X1"}, {ExternalID, "nope"}} {
		match := func(e *Entry) bool { return e.Value(tc.s) != "" && strings.HasPrefix(e.Value(tc.s), tc.prefix) }
		var want []*Entry
		for _, e := range all {
			if match(e) {
				want = append(want, e)
			}
		}
		slices.SortFunc(want, func(a, b *Entry) int { return Compare(Created, a, b) })
		got, err := l.Select(Query{Sort: Created, PrefixSort: tc.s, Prefix: tc.prefix, Count: len(all)})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(names(got.Entries), names(want)) || got.Total != len(want) {
			t.Errorf("prefix %q on %d: %d entries, a scan finds %d", tc.prefix, tc.s, got.Total, len(want))
		}
		scan, _ := l.Select(Query{Sort: Created, Match: match, Count: len(all)})
		if !slices.Equal(names(scan.Entries), names(want)) {
			t.Errorf("filtered scan for %q differs", tc.prefix)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := Codec{Secret: []byte("org-a"), Timeout: time.Hour, Now: func() time.Time { return now }}
	want := Cursor{Key: Key{Value: "a@b.c", Created: 42, Name: "u-1"}, Before: true, Sort: UserName}
	s := c.Encode("Users|filter|sort", want)
	got, err := c.Decode(s, "Users|filter|sort")
	if err != nil {
		t.Fatal(err)
	}
	want.Issued = now
	if got != want {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
	for _, r := range s {
		if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~", r) {
			t.Fatalf("cursor %q has %q, not an RFC 3986 unreserved character", s, r)
		}
	}
	if _, err := c.Decode(s, "Users|other filter|sort"); err != ErrInvalidCursor {
		t.Errorf("another query: %v, want ErrInvalidCursor", err)
	}
	other := c
	other.Secret = []byte("org-b")
	if _, err := other.Decode(s, "Users|filter|sort"); err != ErrInvalidCursor {
		t.Errorf("another organization: %v, want ErrInvalidCursor", err)
	}
	later := c
	later.Now = func() time.Time { return now.Add(time.Hour + time.Second) }
	if _, err := later.Decode(s, "Users|filter|sort"); err != ErrExpiredCursor {
		t.Errorf("after the timeout: %v, want ErrExpiredCursor", err)
	}
	b := []byte(s)
	b[len(b)/2] ^= 1
	if _, err := c.Decode(string(b), "Users|filter|sort"); err != ErrInvalidCursor {
		t.Errorf("tampered: %v, want ErrInvalidCursor", err)
	}
}

// FuzzDecodeCursor: the decoder never panics, and accepts only what Encode made for the query.
func FuzzDecodeCursor(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	c := Codec{Secret: []byte("k"), Timeout: time.Hour, Now: func() time.Time { return now }}
	issued := map[string]bool{}
	for _, k := range []Key{{Name: "u-1"}, {Value: "x", Name: "u-2", Created: -5}, {Value: strings.Repeat("é", 40), Name: "g-3"}} {
		s := c.Encode("q", Cursor{Key: k, Sort: DisplayName})
		issued[s] = true
		f.Add(s, "q")
		f.Add(s, "q2")
		f.Add(s[:len(s)-1], "q")
	}
	f.Add("", "q")
	f.Add("AAAA", "q")
	f.Add("!!!", "q")
	f.Fuzz(func(t *testing.T, s, query string) {
		cur, err := c.Decode(s, query)
		if err == nil && (query != "q" || !issued[s]) {
			// Only a MAC forgery could get here: fail loudly.
			t.Fatalf("accepted %q for %q as %+v", s, query, cur)
		}
	})
}

// TestPreviousPageEndsAtCursor: a previous page never reaches into the page its cursor starts,
// when fewer than count entries precede the cursor (deletes before the page, or a count
// changed between requests).
func TestPreviousPageEndsAtCursor(t *testing.T) {
	l := NewList(UserName, DisplayName, ExternalID)
	for i := range 20 {
		l.Put(&Entry{Name: fmt.Sprintf("u%02d", i), Created: int64(i), UserName: fmt.Sprintf("user%02d", i)})
	}
	for _, s := range []Sort{Created, UserName} {
		for _, filtered := range []bool{false, true} {
			q := Query{Sort: s, Count: 7}
			if filtered { // a sliceSeq instead of a treeSeq
				q.Match = func(*Entry) bool { return true }
			}
			// The current page starts at u03; count 10 (changed from 7) before it.
			p, err := l.Select(Query{Sort: s, Offset: 3, Count: 7, Match: q.Match})
			if err != nil {
				t.Fatal(err)
			}
			key := KeyOf(s, p.Entries[0])
			q.After, q.Before, q.Count = &key, true, 10
			prev, err := l.Select(q)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := names(prev.Entries), []string{"u00", "u01", "u02"}; !slices.Equal(got, want) || prev.Start != 0 {
				t.Errorf("sort %d filtered %v: previous page %v (start %d), want %v (start 0)", s, filtered, got, prev.Start, want)
			}
			// u00 and u01 deleted: the previous page is u02 alone.
			l2 := NewList(UserName, DisplayName, ExternalID)
			for _, e := range p.Entries {
				l2.Put(e)
			}
			l2.Put(&Entry{Name: "u02", Created: 2, UserName: "user02"})
			q.Count = 7
			prev, err = l2.Select(q)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(prev.Entries); !slices.Equal(got, []string{"u02"}) {
				t.Errorf("sort %d filtered %v: after deletes, previous page %v, want [u02]", s, filtered, got)
			}
		}
	}
}

// TestSlowMatchHoldsNoLock: a filter that is slow to match (it builds documents, which may
// wait for the cache) holds up neither another organization's lists nor the index's updates
// of its own organization.
func TestSlowMatchHoldsNoLock(t *testing.T) {
	x := New()
	user := func(ns, name string) *rosterv1.OrgUser {
		return &rosterv1.OrgUser{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: rosterv1.OrgUserSpec{UserName: name}}
	}
	x.PutUser(slimuser.New(user("a", "a1")))
	x.PutUser(slimuser.New(user("b", "b1")))
	matching, release := make(chan struct{}), make(chan struct{})
	slow := make(chan error, 1)
	go func() {
		_, err := x.SelectUsers("a", Query{Sort: Created, Count: 10, Match: func(*Entry) bool {
			close(matching)
			<-release
			return true
		}})
		slow <- err
	}()
	<-matching
	done := make(chan []string, 1)
	go func() {
		x.PutUser(slimuser.New(user("a", "a2")))
		x.users.remove("a", "a1")
		pa, _ := x.SelectUsers("a", Query{Sort: UserName, Count: 10})
		pb, _ := x.SelectUsers("b", Query{Sort: UserName, Count: 10, Match: func(*Entry) bool { return true }})
		done <- append(names(pa.Entries), names(pb.Entries)...)
	}()
	select {
	case got := <-done:
		if want := []string{"a2", "b1"}; !slices.Equal(got, want) {
			t.Errorf("while a match is running: %v, want %v", got, want)
		}
	case <-time.After(10 * time.Second): // a failure detector, not a synchronisation
		t.Fatal("a slow match in namespace a blocked writes to a and reads of b")
	}
	close(release)
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
}

// TestLookupEqualsScan checks exact lookups (userName, externalId, email) against a scan of
// the live users, after creates, email changes and removals: folding, caseExact externalIds,
// values that are prefixes of others, a shared email and a user listing one email twice.
func TestLookupEqualsScan(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	user := func(i int) *rosterv1.OrgUser {
		u := &rosterv1.OrgUser{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("u-%04d", i), Namespace: "org"}}
		u.Spec.UserName = fmt.Sprintf("User%d@Example.com", i) // user1 is a prefix of user10
		if i%3 > 0 {
			u.Spec.ExternalID = []string{"ext", "EXT", "ext1", "Ext10", "ext10"}[r.IntN(5)]
		}
		for range r.IntN(3) {
			e := []string{"Shared@Example.com", "shared@example.COM", "solo%d@example.com", "s@e.c", ""}[r.IntN(5)]
			if strings.Contains(e, "%d") {
				e = fmt.Sprintf(e, i)
			}
			u.Spec.Emails = append(u.Spec.Emails, rosterv1.MultiValued{Value: e})
		}
		return u
	}
	l := NewList(UserName, DisplayName, ExternalID)
	live := map[string]*rosterv1.OrgUser{}
	for i := range 300 {
		u := user(i)
		l.Put(UserEntry(slimuser.New(u)))
		live[u.Name] = u
		switch j := r.IntN(300); {
		case i%5 == 0: // an email change (or removal): a new object, as the informer delivers
			c := user(i)
			l.Put(UserEntry(slimuser.New(c)))
			live[c.Name] = c
		case i%7 == 0 && j < i:
			name := fmt.Sprintf("u-%04d", j)
			l.Remove(name)
			delete(live, name)
		}
	}
	has := func(u *rosterv1.OrgUser, k Lookup) bool {
		switch {
		case k.Value == "":
			return false
		case k.Email:
			return slices.ContainsFunc(u.Spec.Emails, func(m rosterv1.MultiValued) bool { return strings.ToLower(m.Value) == k.Value })
		case k.Sort == UserName:
			return strings.ToLower(u.Spec.UserName) == k.Value
		}
		return u.Spec.ExternalID == k.Value
	}
	var lookups []Lookup
	for _, v := range []string{"", "ext", "EXT", "ext1", "Ext10", "ext10", "nobody"} {
		lookups = append(lookups, Lookup{Sort: ExternalID, Value: v})
	}
	for _, v := range []string{"", "shared@example.com", "s@e.c", "solo5@example.com", "solo10@example.com", "nobody"} {
		lookups = append(lookups, Lookup{Email: true, Value: v})
	}
	for _, i := range []int{0, 1, 10, 11, 299, 300} {
		lookups = append(lookups, Lookup{Sort: UserName, Value: fmt.Sprintf("user%d@example.com", i)})
	}
	found := 0
	for _, k := range lookups {
		// Every order, both directions: a lookup's own order reads a range of its tree, the
		// others (and an email lookup in any order) sort what the lookup found.
		for _, s := range []Sort{Created, UserName, ExternalID} {
			for _, desc := range []bool{false, true} {
				got, err := l.Select(Query{Sort: s, Descending: desc, Lookup: &k, Count: 1000})
				if err != nil {
					t.Fatal(err)
				}
				var want []*Entry
				for _, u := range live {
					if has(u, k) {
						want = append(want, UserEntry(slimuser.New(u)))
					}
				}
				slices.SortFunc(want, func(a, b *Entry) int { return Compare(s, a, b) })
				if desc {
					slices.Reverse(want)
				}
				if !slices.Equal(names(got.Entries), names(want)) || got.Total != len(want) {
					t.Errorf("lookup %+v in order %d (descending %v): got %v (total %d), want %v", k, s, desc, names(got.Entries), got.Total, names(want))
				}
				found += len(want)
			}
		}
	}
	if found == 0 {
		t.Fatal("no lookup found anything: the test proves nothing")
	}
	if _, err := l.Select(Query{Sort: Created, Lookup: &Lookup{Sort: Created, Value: "x"}}); err == nil {
		t.Error("a lookup in the Created order was accepted")
	}
	for _, u := range live {
		l.Remove(u.Name)
	}
	if len(l.emails) != 0 {
		t.Errorf("%d email values left in an empty list", len(l.emails))
	}
}
