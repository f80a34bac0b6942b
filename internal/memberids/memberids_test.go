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

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
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
