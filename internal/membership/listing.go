package membership

import (
	"container/heap"
	"context"
	"slices"
	"sort"
	"sync/atomic"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// Listing is a team's view and its member slices as one read of the cache saw them, for
// answers that show members without building the member list: Count sums the slices' lengths
// and Each walks the ids in order, straight from the slices. The slices are shared with the
// cache: a Listing only reads them.
type Listing struct {
	View
	slices []rosterv1.OrgTeamMemberSlice
	walks  *atomic.Int64 // Store.MemberWalks, or nil
}

// NewListing pairs a team with its slices (Store.Slices).
func NewListing(team *rosterv1.OrgTeam, sl []rosterv1.OrgTeamMemberSlice) Listing {
	return Listing{View: NewView(team, sl), slices: sl}
}

// Listing returns a team's listing from the cache (Slices), counted in s.MemberWalks.
func (s *Store) Listing(ctx context.Context, team *rosterv1.OrgTeam) (Listing, error) {
	sl, err := s.Slices(ctx, team)
	if err != nil {
		return Listing{}, err
	}
	l := NewListing(team, sl)
	l.walks = s.MemberWalks
	return l, nil
}

// Count is the number of member ids the slices hold. A member listed in two slices (two
// replicas adding the same user at once may do that, until the next commit of the team
// repairs it) counts twice: Count is for budgets and presence, Each is exact.
func (l Listing) Count() int {
	n := 0
	for i := range l.slices {
		n += len(l.slices[i].Spec.Members)
	}
	return n
}

// Each calls fn with every member id once, in ascending order, until fn returns false.
//
// Slices keep their members sorted (plan.go sorts every slice it writes), so the ids are
// merged from the slices with a heap of one cursor per slice: memory is one cursor per slice
// (a 100,000-member team has about 50), not one string per member. A slice that is not
// sorted (written by hand under break-glass) is sorted into a copy first.
func (l Listing) Each(fn func(id string) bool) {
	if l.walks != nil {
		l.walks.Add(1)
	}
	h := make(cursors, 0, len(l.slices))
	for i := range l.slices {
		ms := l.slices[i].Spec.Members
		if len(ms) == 0 {
			continue
		}
		if !sort.StringsAreSorted(ms) {
			ms = slices.Sorted(slices.Values(ms))
		}
		h = append(h, ms)
	}
	heap.Init(&h)
	last, started := "", false
	for len(h) > 0 {
		id := h[0][0]
		if h[0] = h[0][1:]; len(h[0]) == 0 {
			heap.Pop(&h)
		} else {
			heap.Fix(&h, 0)
		}
		if started && id == last {
			continue // listed in two slices: shown once
		}
		last, started = id, true
		if !fn(id) {
			return
		}
	}
}

// cursors is a min-heap of the unread rest of each sorted slice, by its first id.
type cursors [][]string

func (h cursors) Len() int           { return len(h) }
func (h cursors) Less(i, j int) bool { return h[i][0] < h[j][0] }
func (h cursors) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *cursors) Push(x any)        { *h = append(*h, x.([]string)) }
func (h *cursors) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
