package membership

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/scim/patch"
)

func slice(name string, members ...string) rosterv1.OrgTeamMemberSlice {
	s := rosterv1.OrgTeamMemberSlice{Spec: rosterv1.OrgTeamMemberSliceSpec{Team: "g", Members: members}}
	s.Name = name
	return s
}

// apply simulates the writes, returning the resulting slices.
func apply(current []rosterv1.OrgTeamMemberSlice, w Writes) []rosterv1.OrgTeamMemberSlice {
	byName := map[string]rosterv1.OrgTeamMemberSlice{}
	for _, s := range current {
		byName[s.Name] = s
	}
	for _, s := range w.Update {
		byName[s.Name] = *s
	}
	for i, m := range w.Create {
		byName[fmt.Sprintf("new-%d", i)] = slice("", m...)
	}
	var out []rosterv1.OrgTeamMemberSlice
	for _, s := range byName {
		out = append(out, s)
	}
	return out
}

func TestPlan(t *testing.T) {
	cases := []struct {
		name             string
		current          []rosterv1.OrgTeamMemberSlice
		want             []string
		updates, creates int
	}{
		{"empty to three", nil, []string{"a", "b", "c"}, 0, 1},
		{"no change, no writes", []rosterv1.OrgTeamMemberSlice{slice("s1", "a", "b")}, []string{"a", "b"}, 0, 0},
		{"add fills existing slice", []rosterv1.OrgTeamMemberSlice{slice("s1", "a")}, []string{"a", "b", "c"}, 1, 0},
		{"overflow creates a slice", []rosterv1.OrgTeamMemberSlice{slice("s1", "a", "b", "c")}, []string{"a", "b", "c", "d", "e"}, 1, 1},
		{"remove from one slice only", []rosterv1.OrgTeamMemberSlice{slice("s1", "a", "b"), slice("s2", "c", "d")}, []string{"a", "c", "d"}, 1, 0},
		{"emptied slice is written empty", []rosterv1.OrgTeamMemberSlice{slice("s1", "a", "b"), slice("s2", "c")}, []string{"a", "b"}, 1, 0},
		{"an empty slice is neither written nor filled", []rosterv1.OrgTeamMemberSlice{slice("s1", "a", "b", "c", "d"), slice("s2")}, []string{"a", "b", "c", "d", "e"}, 0, 1},
		{"remove all", []rosterv1.OrgTeamMemberSlice{slice("s1", "a"), slice("s2", "c")}, nil, 2, 0},
		{"duplicate across slices is dropped once", []rosterv1.OrgTeamMemberSlice{slice("s1", "a", "b"), slice("s2", "b", "c")}, []string{"a", "b", "c"}, 1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := Plan(tc.current, NewSet(tc.want...), 4)
			if len(w.Update) != tc.updates || len(w.Create) != tc.creates {
				t.Fatalf("writes: %d updates, %d creates; want %d, %d", len(w.Update), len(w.Create), tc.updates, tc.creates)
			}
			got := Members(apply(tc.current, w)).Sorted()
			if !reflect.DeepEqual(got, NewSet(tc.want...).Sorted()) {
				t.Fatalf("members after writes %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPlanProperties: for random states and targets, the writes produce exactly the target,
// every slice stays within capacity, no member is listed twice, no slice is deleted (emptied
// slices are written empty), and the input is not changed.
func TestPlanProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	id := func() string { return fmt.Sprintf("u-%03d", r.IntN(300)) }
	for iter := range 500 {
		capacity := 1 + r.IntN(20)
		var current []rosterv1.OrgTeamMemberSlice
		for s := range r.IntN(6) {
			var m []string
			for range r.IntN(capacity + 1) {
				m = append(m, id())
			}
			current = append(current, slice(fmt.Sprintf("s%d", s), m...))
		}
		before := fmt.Sprint(current)
		want := Set{}
		for range r.IntN(80) {
			want[id()] = struct{}{}
		}
		wanted := want.Sorted()
		w := Plan(current, want, capacity)
		if !reflect.DeepEqual(want.Sorted(), wanted) {
			t.Fatalf("iter %d: Plan changed its want: %v, was %v", iter, want.Sorted(), wanted)
		}
		if fmt.Sprint(current) != before {
			t.Fatalf("iter %d: Plan modified its input", iter)
		}
		after := apply(current, w)
		if got := Members(after); !reflect.DeepEqual(got.Sorted(), want.Sorted()) {
			t.Fatalf("iter %d: members %v, want %v", iter, got.Sorted(), want.Sorted())
		}
		seen := Set{}
		for _, s := range after {
			// Emptied slices stay, empty, until DeleteEmpty removes them.
			if len(s.Spec.Members) > capacity {
				t.Fatalf("iter %d: slice with %d members (capacity %d)", iter, len(s.Spec.Members), capacity)
			}
			for _, m := range s.Spec.Members {
				if _, dup := seen[m]; dup {
					t.Fatalf("iter %d: %s listed twice", iter, m)
				}
				seen[m] = struct{}{}
			}
		}
	}
}

// TestPlanIgnoresListOrder: the same slices in any order give the same writes, so two
// replicas whose caches list a team's slices in different orders agree on which slice keeps a
// member listed twice. Were "first" the list's first, each would drop the member from the
// slice the other keeps: both updates carry their own slice's resourceVersion, both succeed,
// and the member is gone from the team.
func TestPlanIgnoresListOrder(t *testing.T) {
	// The race itself: each replica drops the duplicate from one slice only, so each writes a
	// slice the other does not, and neither write conflicts with the other.
	current := []rosterv1.OrgTeamMemberSlice{slice("s1", "a", "dup"), slice("s2", "b", "dup")}
	want := NewSet("a", "b", "dup")
	onA, onB := Plan(current, want, 4), Plan([]rosterv1.OrgTeamMemberSlice{current[1], current[0]}, want, 4)
	both := apply(apply(current, Writes{Update: onA.Update}), Writes{Update: onB.Update})
	if !Members(both).Has("dup") {
		t.Fatalf("two replicas' plans together removed the member listed twice:\n%s\n%s", describe(onA), describe(onB))
	}
	if len(onA.Update) != 1 || onA.Update[0].Name != "s2" {
		t.Fatalf("the duplicate leaves the slice whose name sorts last: %s", describe(onA))
	}

	// Any state: the same slices in another order plan the same writes.
	r := rand.New(rand.NewPCG(3, 4))
	for iter := range 200 {
		capacity := 2 + r.IntN(6)
		var current []rosterv1.OrgTeamMemberSlice
		for s := range 2 + r.IntN(4) {
			var m []string
			for range 1 + r.IntN(capacity) {
				m = append(m, fmt.Sprintf("u-%02d", r.IntN(12)))
			}
			current = append(current, slice(fmt.Sprintf("s%d", s), m...))
		}
		want := Members(current)
		delete(want, fmt.Sprintf("u-%02d", r.IntN(12)))
		want["new"] = struct{}{}
		reversed := slices.Clone(current)
		slices.Reverse(reversed)
		shuffled := slices.Clone(current)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		a := Plan(current, want, capacity)
		for _, other := range [][]rosterv1.OrgTeamMemberSlice{reversed, shuffled} {
			if b := Plan(other, want, capacity); !reflect.DeepEqual(a, b) {
				t.Fatalf("iter %d: the same slices in another order plan other writes:\n%s\n%s", iter, describe(a), describe(b))
			}
		}
	}
}

// describe renders writes for a failure message.
func describe(w Writes) string {
	var b strings.Builder
	for _, u := range w.Update {
		fmt.Fprintf(&b, "update %s %v; ", u.Name, u.Spec.Members)
	}
	fmt.Fprintf(&b, "create %v", w.Create)
	return b.String()
}

func TestDesired(t *testing.T) {
	isUser := func(id string) bool { return id != "ghost" && id != "ghost2" }
	cases := []struct {
		name       string
		current    []string
		ops        []patch.MemberOp
		want       []string
		unresolved []string
	}{
		{"add skips unknown users", []string{"a"}, []patch.MemberOp{{Kind: patch.MemberAdd, Values: []string{"b", "ghost", "ghost"}}}, []string{"a", "b"}, []string{"ghost"}},
		{"remove exactly those (Entra)", []string{"a", "b", "c"}, []patch.MemberOp{{Kind: patch.MemberRemove, Values: []string{"b"}}}, []string{"a", "c"}, nil},
		{"remove all", []string{"a", "b"}, []patch.MemberOp{{Kind: patch.MemberRemoveAll}}, nil, nil},
		{"replace", []string{"a", "b"}, []patch.MemberOp{{Kind: patch.MemberReplace, Values: []string{"c", "ghost2"}}}, []string{"c"}, []string{"ghost2"}},
		{"okta remove then add, in order", []string{"a"}, []patch.MemberOp{{Kind: patch.MemberRemove, Values: []string{"a"}}, {Kind: patch.MemberAdd, Values: []string{"a", "d"}}}, []string{"a", "d"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want, unresolved := Desired(NewSet(tc.current...), tc.ops, isUser)
			if !reflect.DeepEqual(want.Sorted(), NewSet(tc.want...).Sorted()) || !reflect.DeepEqual(unresolved, tc.unresolved) {
				t.Fatalf("got %v unresolved %v; want %v unresolved %v", want.Sorted(), unresolved, tc.want, tc.unresolved)
			}
		})
	}
}

func TestDigest(t *testing.T) {
	// Different sets never share a digest, also when the concatenations are equal.
	a, b := Digest([]string{"ab", "c"}), Digest([]string{"a", "bc"})
	if a == b || Digest(nil) == Digest([]string{""}) {
		t.Error("ambiguous digests")
	}
	if Digest([]string{"u-1", "u-2"}) != Digest([]string{"u-1", "u-2"}) {
		t.Error("digest not deterministic")
	}
}

// TestCommitPlanCounts: each change of a group commit reports what it added and removed,
// counted against the result of the change before it; a commit of one change counts through
// the plan.
func TestCommitPlanCounts(t *testing.T) {
	current := []rosterv1.OrgTeamMemberSlice{slice("s1", "a", "b"), slice("s2", "b", "c")}
	all := func(string) bool { return true }
	change := func(ops ...patch.MemberOp) Desire {
		return func(cur Set) (Set, []string) { return Desired(cur, ops, all) }
	}
	addDE := change(patch.MemberOp{Kind: patch.MemberAdd, Values: []string{"d", "e", "a"}})
	removeAD := change(patch.MemberOp{Kind: patch.MemberRemove, Values: []string{"a", "d", "zz"}})
	for _, tc := range []struct {
		name    string
		desires []Desire
		want    [][2]int // added, removed per change
		members []string
	}{
		{"one change", []Desire{addDE}, [][2]int{{2, 0}}, []string{"a", "b", "c", "d", "e"}},
		{"one removal", []Desire{removeAD}, [][2]int{{0, 1}}, []string{"b", "c"}},
		{"two in order", []Desire{addDE, removeAD}, [][2]int{{2, 0}, {0, 2}}, []string{"b", "c", "e"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := commitPlan(current, nil, tc.desires, 4)
			for i, w := range tc.want {
				if got := p.results[i]; got.Added != w[0] || got.Removed != w[1] || (i == len(tc.want)-1 && got.Members != len(tc.members)) {
					t.Errorf("change %d: added %d removed %d members %d; want %d, %d, %d", i, got.Added, got.Removed, got.Members, w[0], w[1], len(tc.members))
				}
			}
			if got := Members(apply(current, p.writes)).Sorted(); !reflect.DeepEqual(got, tc.members) {
				t.Errorf("members after the writes %v, want %v", got, tc.members)
			}
		})
	}
}
