package memberids_test

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"unsafe"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/index"
	"github.com/rosterhq/roster/internal/memberids"
)

// decoded makes a slice as the decoder leaves it: every id its own allocation, the array with
// append slack.
func decoded(namespace, name string, ids ...string) *rosterv1.OrgTeamMemberSlice {
	s := &rosterv1.OrgTeamMemberSlice{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	s.Spec.Members = make([]string, 0, len(ids)+len(ids)/4+1)
	for _, id := range ids {
		s.Spec.Members = append(s.Spec.Members, strings.Clone(id))
	}
	return s
}

func transform(t *testing.T, s *rosterv1.OrgTeamMemberSlice) *rosterv1.OrgTeamMemberSlice {
	t.Helper()
	out, err := memberids.Transform(s)
	if err != nil {
		t.Fatal(err)
	}
	return out.(*rosterv1.OrgTeamMemberSlice)
}

func ids(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s-%032x", prefix, i))
	}
	return out
}

func same(a, b string) bool { return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b) }

// TestTransformSharesMembers: two slices listing overlapping ids keep their members (values
// and order) in exactly sized arrays, the ids both list are one string, the decoded arrays are
// not written to, and the index's keys are the same strings.
func TestTransformSharesMembers(t *testing.T) {
	const ns = "org-share"
	a := decoded(ns, "a", ids("u", 0, 300)...)
	b := decoded(ns, "b", append(ids("u", 200, 400), ids("u", 0, 10)...)...)
	wantA, wantB := slices.Clone(a.Spec.Members), slices.Clone(b.Spec.Members)
	decodedA := a.Spec.Members
	ta, tb := transform(t, a), transform(t, b)
	for _, c := range []struct {
		got, want []string
	}{{ta.Spec.Members, wantA}, {tb.Spec.Members, wantB}} {
		if !slices.Equal(c.got, c.want) {
			t.Fatalf("members changed:\n got %v\nwant %v", c.got, c.want)
		}
		if cap(c.got) != len(c.got) {
			t.Errorf("members in an array of %d for %d", cap(c.got), len(c.got))
		}
	}
	for i := range decodedA {
		if !same(decodedA[i], wantA[i]) {
			t.Fatalf("the decoded array was written to at %d", i)
		}
	}
	byID := map[string]string{}
	for _, id := range ta.Spec.Members {
		byID[id] = id
	}
	shared := 0
	for _, id := range tb.Spec.Members {
		if first, ok := byID[id]; ok {
			shared++
			if !same(first, id) {
				t.Errorf("id %s is two strings in the two slices", id)
			}
		}
	}
	if shared != 110 {
		t.Fatalf("%d ids in both slices, want 110", shared)
	}
	keys := memberids.Keys(ns, tb.Spec.Members)
	for i, k := range keys {
		if k != ns+"/"+tb.Spec.Members[i] {
			t.Fatalf("key %d = %q", i, k)
		}
		if !same(k[len(ns)+1:], tb.Spec.Members[i]) {
			t.Errorf("key %q is not the slice's string", k)
		}
	}
	// Handed the stored object again (a transform must be idempotent): nothing changes.
	again := transform(t, tb)
	if &again.Spec.Members[0] != &tb.Spec.Members[0] {
		t.Error("a transformed slice got a new member array when transformed again")
	}
}

// TestNamespacesApart: the same id in two organizations is interned in each, not shared, and
// a key no slice lists is built, not found.
func TestNamespacesApart(t *testing.T) {
	id := "u-" + strings.Repeat("a", 32)
	a, b := transform(t, decoded("org-x", "s", id)), transform(t, decoded("org-y", "s", id))
	if a.Spec.Members[0] != id || b.Spec.Members[0] != id {
		t.Fatalf("members %v, %v", a.Spec.Members, b.Spec.Members)
	}
	if same(a.Spec.Members[0], b.Spec.Members[0]) {
		t.Error("two organizations share a member string")
	}
	if k := memberids.Keys("org-z", []string{id})[0]; k != "org-z/"+id {
		t.Errorf("key of an unknown id = %q", k)
	}
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
}

// TestReleasedWithTheSlices: the table keeps no id alive: once the slices listing a
// namespace's ids are gone, a garbage collection frees them and a sweep drops their entries.
func TestReleasedWithTheSlices(t *testing.T) {
	const ns = "org-release"
	var held []*rosterv1.OrgTeamMemberSlice
	for s := range 3 {
		held = append(held, transform(t, decoded(ns, fmt.Sprint(s), ids("u", 0, 3000)...)))
	}
	runtime.GC()
	if n := memberids.LiveIn(ns); n != 3000 {
		t.Fatalf("%d live entries for 3,000 ids listed by 3 slices", n)
	}
	// A slice that drops members (users deleted): their ids go once no other slice lists them.
	for i := range held {
		held[i].Spec.Members = held[i].Spec.Members[:1000]
		held[i] = transform(t, decoded(ns, fmt.Sprint(i), held[i].Spec.Members...))
	}
	runtime.GC()
	if n := memberids.LiveIn(ns); n != 1000 {
		t.Fatalf("%d live entries once the slices list 1,000 ids", n)
	}
	runtime.KeepAlive(held)
	before := memberids.Entries()
	held = nil
	runtime.GC()
	if n := memberids.LiveIn(ns); n != 0 {
		t.Fatalf("%d live entries once no slice is held", n)
	}
	memberids.Sweep()
	if after := memberids.Entries(); after > before-3000 {
		t.Errorf("the sweep left %d entries of %d (3,000 freed)", after, before)
	}
}

// TestHashCollision: an id whose hash another live string holds keeps its own string.
func TestHashCollision(t *testing.T) {
	const ns = "org-collide"
	id, other := "u-collides", strings.Clone("something else entirely")
	memberids.Plant(ns, id, other)
	s := transform(t, decoded(ns, "s", id))
	if s.Spec.Members[0] != id {
		t.Fatalf("member %q, want %q", s.Spec.Members[0], id)
	}
	if k := memberids.Keys(ns, []string{id})[0]; k != ns+"/"+id {
		t.Errorf("key %q", k)
	}
	runtime.KeepAlive(other)
}

// TestConcurrentInformers: informers of several namespaces transform at once (a sharded
// cache); every slice keeps its members and each namespace's ids are one string each.
func TestConcurrentInformers(t *testing.T) {
	const workers, perWorker = 4, 50
	out := make([][]*rosterv1.OrgTeamMemberSlice, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				ns := fmt.Sprintf("org-c%d", (w+i)%2)
				s, err := memberids.Transform(decoded(ns, fmt.Sprint(w, i), ids("u", i*10, i*10+100)...))
				if err != nil {
					t.Error(err)
					return
				}
				out[w] = append(out[w], s.(*rosterv1.OrgTeamMemberSlice))
			}
		})
	}
	wg.Wait()
	first := map[string]string{}
	for w := range out {
		for i, s := range out[w] {
			if want := ids("u", i*10, i*10+100); !slices.Equal(s.Spec.Members, want) {
				t.Fatalf("slice %s/%s: members %v, want %v", s.Namespace, s.Name, s.Spec.Members, want)
			}
			for _, id := range s.Spec.Members {
				k := s.Namespace + "/" + id
				if f, ok := first[k]; !ok {
					first[k] = id
				} else if !same(f, id) {
					t.Fatalf("%s is two strings", k)
				}
			}
		}
	}
}

// TestIndexerFollowsTheSlices: a client-go indexer with the SliceMember index function, fed
// transformed slices as an informer feeds it, finds every slice listing a user, and no other,
// after an add, an update that drops and adds members, and deletes (no key left at the end);
// its keys are the slices' own strings, and an id whose hash another string holds is found
// under its own key.
func TestIndexerFollowsTheSlices(t *testing.T) {
	const ns = "org-indexer"
	id := func(i int) string { return fmt.Sprintf("u-ix%03d", i) }
	collide, other := "u-ixcollides", strings.Clone("org-indexer/u-someone-else")
	memberids.Plant(ns, collide, other)
	store := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc, toolscache.Indexers{index.IndexName(index.SliceMember): index.SliceMemberKeys})
	slice := func(name string, members ...string) *rosterv1.OrgTeamMemberSlice {
		return transform(t, decoded(ns, name, members...))
	}
	// want lists, per member id, the slices that list it.
	check := func(step string, want map[string][]string) {
		t.Helper()
		var wantKeys []string
		for m, names := range want {
			wantKeys = append(wantKeys, ns+"/"+m)
			objs, err := store.ByIndex(index.IndexName(index.SliceMember), ns+"/"+m)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range objs {
				got = append(got, o.(*rosterv1.OrgTeamMemberSlice).Name)
			}
			slices.Sort(got)
			if !slices.Equal(got, names) {
				t.Errorf("%s: slices listing %s %v, want %v", step, m, got, names)
			}
		}
		keys := store.ListIndexFuncValues(index.IndexName(index.SliceMember))
		slices.Sort(keys)
		slices.Sort(wantKeys)
		if !slices.Equal(keys, wantKeys) {
			t.Errorf("%s: index keys %v, want %v", step, keys, wantKeys)
		}
		// Every key is the string the stored slices list (the key's tail is the member).
		for _, o := range store.List() {
			for _, m := range o.(*rosterv1.OrgTeamMemberSlice).Spec.Members {
				i := slices.Index(keys, ns+"/"+m)
				if i < 0 {
					t.Fatalf("%s: no key for member %s", step, m)
				}
				if m != collide && !same(keys[i][len(ns)+1:], m) {
					t.Errorf("%s: the key of %s is a copy, not the slice's string", step, m)
				}
			}
		}
	}
	a := slice("a", id(1), id(2), id(3), collide)
	b := slice("b", id(3), id(4))
	for _, s := range []*rosterv1.OrgTeamMemberSlice{a, b} {
		if err := store.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	check("add", map[string][]string{id(1): {"a"}, id(2): {"a"}, id(3): {"a", "b"}, id(4): {"b"}, collide: {"a"}})
	// An update as a watch delivers it: a new object, members dropped (1, the collision) and
	// added (5), one kept (2, 3).
	a2 := slice("a", id(3), id(2), id(5))
	if err := store.Update(a2); err != nil {
		t.Fatal(err)
	}
	check("update", map[string][]string{id(2): {"a"}, id(3): {"a", "b"}, id(4): {"b"}, id(5): {"a"}})
	if err := store.Delete(b); err != nil {
		t.Fatal(err)
	}
	check("delete b", map[string][]string{id(2): {"a"}, id(3): {"a"}, id(5): {"a"}})
	if err := store.Delete(a2); err != nil {
		t.Fatal(err)
	}
	check("delete a", map[string][]string{})
	runtime.KeepAlive(other)
}

// TestConcurrentKeysTransformGCSweep: the index's Keys, transforms, garbage collections and
// sweeps running at once (run with -race) leave every slice's members equal to its input, the
// keys equal to namespace/id, and the members still intact after more collections: no string
// the table hands out is freed while a slice holds it.
func TestConcurrentKeysTransformGCSweep(t *testing.T) {
	const ns, workers, rounds = "org-race", 3, 40
	done := make(chan struct{})
	var bg sync.WaitGroup
	bg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				runtime.GC()
			}
		}
	})
	bg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				memberids.Sweep()
				runtime.Gosched()
			}
		}
	})
	kept := make([][]*rosterv1.OrgTeamMemberSlice, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				// Overlapping ids across workers and rounds; every other slice is dropped at once.
				want := ids("u", (w*7+r*13)%200, (w*7+r*13)%200+60)
				s, err := memberids.Transform(decoded(ns, fmt.Sprint(w, "-", r), want...))
				if err != nil {
					t.Error(err)
					return
				}
				got := s.(*rosterv1.OrgTeamMemberSlice).Spec.Members
				if !slices.Equal(got, want) {
					t.Errorf("worker %d round %d: members %v, want %v", w, r, got, want)
					return
				}
				for i, k := range memberids.Keys(ns, want) {
					if k != ns+"/"+want[i] {
						t.Errorf("worker %d round %d: key %q for %q", w, r, k, want[i])
						return
					}
				}
				if r%2 == 0 {
					kept[w] = append(kept[w], s.(*rosterv1.OrgTeamMemberSlice))
				}
			}
		})
	}
	wg.Wait()
	close(done)
	bg.Wait()
	runtime.GC()
	memberids.Sweep()
	runtime.GC()
	for w := range kept {
		for i, s := range kept[w] {
			r := 2 * i
			if want := ids("u", (w*7+r*13)%200, (w*7+r*13)%200+60); !slices.Equal(s.Spec.Members, want) {
				t.Fatalf("worker %d round %d after collections: members %v, want %v", w, r, s.Spec.Members, want)
			}
		}
	}
}

// TestChurnStaysBounded: ids interned and dropped in rounds (users created and deleted, teams
// reshuffled), with a garbage collection between rounds, keep the table within twice the ids
// alive (those of the slices held, plus the round being interned) and free every entry once
// no slice is held: the table does not grow with the ids it has ever seen.
func TestChurnStaysBounded(t *testing.T) {
	const ns, perRound, rounds = "org-churn", 3000, 30
	runtime.GC()
	memberids.Sweep()
	base := memberids.Entries()
	var held []*rosterv1.OrgTeamMemberSlice
	most := 0
	for r := range rounds {
		// This round's slices: fresh ids, and a third of the previous round's (still listed).
		fresh := ids(fmt.Sprintf("r%d", r), 0, perRound)
		next := []*rosterv1.OrgTeamMemberSlice{transform(t, decoded(ns, "fresh", fresh...))}
		if len(held) > 0 {
			prev := held[0].Spec.Members
			next = append(next, transform(t, decoded(ns, "kept", prev[:len(prev)/3]...)))
		}
		held = next
		runtime.GC()
		live := 0
		for _, s := range held {
			live += len(s.Spec.Members)
		}
		if n := memberids.LiveIn(ns); n != live {
			t.Fatalf("round %d: %d live entries for %d ids held", r, n, live)
		}
		entries := memberids.Entries() - base
		most = max(most, entries)
		// A sweep runs when the table doubles from what was alive at the last one: at most the
		// ids alive then (those held, and this round's) twice over, plus other tests' live
		// entries (base) that count towards the doubling.
		if bound := max(2*(live+perRound)+base, 1024); entries > bound {
			t.Fatalf("round %d: %d entries for %d live ids (bound %d): the table grows with churn", r, entries, live, bound)
		}
	}
	if most > rounds*perRound/3 {
		t.Errorf("at most %d entries over %d rounds of %d ids", most, rounds, perRound)
	}
	held = nil
	runtime.GC()
	memberids.Sweep()
	if n := memberids.LiveIn(ns); n != 0 {
		t.Errorf("%d live entries once no slice is held", n)
	}
	if n := memberids.Entries(); n > base {
		t.Errorf("%d entries after the churn, %d before", n, base)
	}
	t.Logf("%d rounds of %d ids: at most %d entries", rounds, perRound, most)
}
