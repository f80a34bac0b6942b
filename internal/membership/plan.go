// Package membership stores a team's members in bounded OrgTeamMemberSlices and changes them
// with as few apiserver writes as possible: a change rewrites only the slices it touches, and
// new members fill the free room of existing slices before a new slice is created.
//
// Every write carries the resourceVersion it was computed from, so two replicas changing the
// same team never overwrite each other: the loser re-reads and re-applies its (relative) change.
package membership

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"sort"
	"strings"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/scim/patch"
)

// Set is a set of member ids.
type Set map[string]struct{}

// NewSet returns a set of ids.
func NewSet(ids ...string) Set {
	s := make(Set, len(ids))
	for _, id := range ids {
		s[id] = struct{}{}
	}
	return s
}

// Has reports whether id is in the set.
func (s Set) Has(id string) bool {
	_, ok := s[id]
	return ok
}

// Sorted returns the ids in order.
func (s Set) Sorted() []string {
	out := make([]string, 0, len(s))
	for id := range s {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Members returns the union of the slices' members: a member listed twice (two replicas
// adding the same user at once may do that) counts once.
func Members(sl []rosterv1.OrgTeamMemberSlice) Set {
	n := 0
	for i := range sl {
		n += len(sl[i].Spec.Members)
	}
	s := make(Set, n)
	for i := range sl {
		for _, m := range sl[i].Spec.Members {
			s[m] = struct{}{}
		}
	}
	return s
}

// Digest identifies a sorted member set (SHA-256 of the ids): the team controller records the
// set it last wrote to the identity store, and a failed change the set it meant to write.
func Digest(sorted []string) string {
	h := sha256.New()
	for _, id := range sorted {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Desired applies membership operations, in request order, to the current members. resolved
// reports whether an id is a user of the organization: others are never added, and are
// returned as unresolved (in request order, once each) so the team can report them. resolved
// is only called for ids being added: it may be nil for changes that only remove.
func Desired(current Set, ops []patch.MemberOp, resolved func(string) bool) (want Set, unresolved []string) {
	// A clone copies the table as it is, without hashing 100,000 ids again; none is needed
	// when the first change sets the members anew (a PUT), which makes its own table.
	if len(ops) > 0 && (ops[0].Kind == patch.MemberReplace || ops[0].Kind == patch.MemberRemoveAll) {
		want = Set{}
	} else if want = maps.Clone(current); want == nil {
		want = Set{}
	}
	seen := Set{}
	keep := func(id string) bool {
		if resolved(id) {
			return true
		}
		if _, dup := seen[id]; !dup {
			seen[id] = struct{}{}
			unresolved = append(unresolved, id)
		}
		return false
	}
	for _, op := range ops {
		switch op.Kind {
		case patch.MemberAdd:
			want = roomFor(want, len(op.Values))
			for _, id := range op.Values {
				if keep(id) {
					want[id] = struct{}{}
				}
			}
		case patch.MemberRemove:
			for _, id := range op.Values {
				delete(want, id)
			}
		case patch.MemberRemoveAll:
			clear(want)
		case patch.MemberReplace:
			// The table cleared if it has room for the values, else a new one of their size:
			// a PUT of 100,000 members onto a small team grew it (rehashing every id so far)
			// a dozen times.
			if len(want) >= len(op.Values) {
				clear(want)
			} else {
				want = make(Set, len(op.Values))
			}
			for _, id := range op.Values {
				if keep(id) {
					want[id] = struct{}{}
				}
			}
		}
	}
	return want, unresolved
}

// roomFor returns s, or a copy of it sized for n more ids when n is larger than s: adding
// many ids to a small table would grow it step by step, rehashing every id at each step.
func roomFor(s Set, n int) Set {
	if n <= len(s) {
		return s
	}
	grown := make(Set, len(s)+n)
	for id := range s {
		grown[id] = struct{}{}
	}
	return grown
}

// Writes are the apiserver writes that turn the current slices into the desired members.
//
// A slice that a change empties is written empty, not deleted: a delete's revision is not
// returned to the writer, so it could not be part of the revision watermark other replicas
// wait for (fence.go). Empty slices are removed later (Store.DeleteEmpty), once no cache can
// still be behind them; Plan never puts members into an empty slice.
type Writes struct {
	// Update are existing slices with new member lists (each carries its resourceVersion).
	Update []*rosterv1.OrgTeamMemberSlice
	// Create are member lists for new slices, each at most the slice capacity.
	Create [][]string
	// Added is how many members of want no slice listed.
	Added int
}

// Empty reports whether nothing needs writing.
func (w Writes) Empty() bool { return len(w.Update)+len(w.Create) == 0 }

// Count is the number of apiserver writes.
func (w Writes) Count() int { return len(w.Update) + len(w.Create) }

// touching adds to w an update of every slice among current that w does not write already,
// so that each gets a new resourceVersion (breakglass.go says why).
func (w Writes) touching(current []rosterv1.OrgTeamMemberSlice) Writes {
	written := make(map[string]bool, len(w.Update))
	for _, u := range w.Update {
		written[u.Name] = true
	}
	for i := range current {
		if !written[current[i].Name] {
			w.Update = append(w.Update, current[i].DeepCopy())
		}
	}
	return w
}

// Plan computes the writes that make the slices hold exactly want. Members leave the slices
// that hold them (a member listed in several slices stays in the one whose name sorts first);
// new members go to the slices with free room, fullest first (then by name) so that slices
// stay few, then to new slices of at most capacity members. Untouched slices, and slices that
// were empty already, are not written. The writes depend on the slices, not on the order they
// come in.
//
// It is on the path of every membership change of a 100,000-member team, so it hashes each
// member once (a member found in a clone of want is placed and struck off; what is left is
// to add; with no member in any slice, want is read as it is, never cloned or changed) and
// copies only the slices it writes.
func Plan(current []rosterv1.OrgTeamMemberSlice, want Set, capacity int) Writes {
	var w Writes
	remaining := want // wanted members not placed yet: want itself until a slice lists one
	if slices.ContainsFunc(current, func(s rosterv1.OrgTeamMemberSlice) bool { return len(s.Spec.Members) > 0 }) {
		remaining = maps.Clone(want) // struck off as the slices' members are placed
	}
	type room struct {
		slice   *rosterv1.OrgTeamMemberSlice // the input's: read only
		members []string                     // what it keeps: its own list unless changed
		changed bool
	}
	// Name order, not the order of the list the slices come from (a cache's, not stable): two
	// replicas planning from two orders of the same slices would each keep a duplicated member
	// in a different slice, drop it from the other, and between them remove it from both.
	byName := make([]int, len(current))
	for i := range byName {
		byName[i] = i
	}
	slices.SortFunc(byName, func(a, b int) int { return strings.Compare(current[a].Name, current[b].Name) })
	rooms := make([]room, 0, len(current))
	for _, i := range byName {
		s := &current[i]
		var kept []string // nil while every member so far stays
		for j, m := range s.Spec.Members {
			if _, ok := remaining[m]; ok {
				delete(remaining, m)
				if kept != nil {
					kept = append(kept, m)
				}
				continue
			}
			// Not wanted, or listed before: from here on the slice changes.
			if kept == nil {
				kept = make([]string, j, len(s.Spec.Members))
				copy(kept, s.Spec.Members[:j])
			}
		}
		r := room{slice: s, members: s.Spec.Members}
		if kept != nil {
			r.members, r.changed = kept, true
		}
		rooms = append(rooms, r)
	}
	adds := make([]string, 0, len(remaining))
	for id := range remaining {
		adds = append(adds, id)
	}
	sort.Strings(adds)
	w.Added = len(adds)
	// Fill the fullest slices first (least free room), but never resurrect an empty one.
	order := make([]int, 0, len(rooms))
	for i, r := range rooms {
		if len(r.members) > 0 && len(r.members) < capacity {
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return len(rooms[order[a]].members) > len(rooms[order[b]].members) })
	for _, i := range order {
		if len(adds) == 0 {
			break
		}
		r := &rooms[i]
		n := min(capacity-len(r.members), len(adds))
		r.members = append(slices.Clip(r.members), adds[:n]...) // Clip: never into the input's array
		adds = adds[n:]
		r.changed = true
	}
	for _, r := range rooms {
		if !r.changed {
			continue
		}
		s := r.slice.DeepCopy()
		s.Spec.Members = r.members
		slices.Sort(s.Spec.Members)
		w.Update = append(w.Update, s)
	}
	for len(adds) > 0 {
		n := min(capacity, len(adds))
		w.Create = append(w.Create, adds[:n])
		adds = adds[n:]
	}
	return w
}
