package membership

import (
	"slices"
	"testing"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

func slicesWith(members ...[]string) []rosterv1.OrgTeamMemberSlice {
	out := make([]rosterv1.OrgTeamMemberSlice, len(members))
	for i, m := range members {
		out[i].Spec.Members = m
	}
	return out
}

// TestListingEach: the members of every slice, each once, in order, whatever the slices'
// order; a slice written unsorted is sorted without changing the cache's copy; stopping
// early stops.
func TestListingEach(t *testing.T) {
	for _, tc := range []struct {
		name   string
		slices []rosterv1.OrgTeamMemberSlice
		want   []string
		count  int
	}{
		{"none", nil, nil, 0},
		{"empty slices", slicesWith(nil, []string{}), nil, 0},
		{"one", slicesWith([]string{"a", "c"}), []string{"a", "c"}, 2},
		{"interleaved", slicesWith([]string{"b", "d", "f"}, []string{"a", "c", "e", "g"}), []string{"a", "b", "c", "d", "e", "f", "g"}, 7},
		{"listed twice", slicesWith([]string{"a", "b"}, []string{"b", "c"}, []string{"b"}), []string{"a", "b", "c"}, 5},
		{"unsorted", slicesWith([]string{"z", "a", "m"}, []string{"b"}), []string{"a", "b", "m", "z"}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			team := &rosterv1.OrgTeam{}
			before := make([][]string, len(tc.slices))
			for i := range tc.slices {
				before[i] = slices.Clone(tc.slices[i].Spec.Members)
			}
			l := NewListing(team, tc.slices)
			var got []string
			l.Each(func(id string) bool { got = append(got, id); return true })
			if !slices.Equal(got, tc.want) || l.Count() != tc.count {
				t.Fatalf("Each %v, Count %d; want %v, %d", got, l.Count(), tc.want, tc.count)
			}
			for i := range tc.slices {
				if !slices.Equal(tc.slices[i].Spec.Members, before[i]) {
					t.Fatalf("slice %d changed: %v", i, tc.slices[i].Spec.Members)
				}
			}
			if len(tc.want) > 1 {
				var first []string
				l.Each(func(id string) bool { first = append(first, id); return false })
				if !slices.Equal(first, tc.want[:1]) {
					t.Fatalf("stopped after %v", first)
				}
			}
		})
	}
}
