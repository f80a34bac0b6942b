package membership

import (
	"fmt"
	"testing"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/scim/patch"
)

// BenchmarkCommitPlan100k is the CPU a commit spends between its fence and its writes for a
// 1,000-member add to a 100,000-member team: the member set, the desired set, the counts and
// the plan (hack/bench's "PATCH add 1,000" measures the whole request).
func BenchmarkCommitPlan100k(b *testing.B) {
	const size, add = 100_000, 1_000
	var current []rosterv1.OrgTeamMemberSlice
	ids := make([]string, size)
	for i := range ids {
		ids[i] = fmt.Sprintf("u-%032x", i)
	}
	for i := 0; i < size; i += rosterv1.MaxMembersPerSlice {
		current = append(current, slice(fmt.Sprintf("s-%d", i), ids[i:min(i+rosterv1.MaxMembersPerSlice, size)]...))
	}
	extra := make([]string, add)
	for i := range extra {
		extra[i] = fmt.Sprintf("x-%032x", i)
	}
	ops := []patch.MemberOp{{Kind: patch.MemberAdd, Values: extra}}
	yes := func(string) bool { return true }
	b.ReportAllocs()
	for b.Loop() {
		res := commitPlan(current, nil, []Desire{func(cur Set) (Set, []string) { return Desired(cur, ops, yes) }}, rosterv1.MaxMembersPerSlice)
		if res.writes.Count() != 1 || res.results[0].Added != add {
			b.Fatalf("writes %d, added %d", res.writes.Count(), res.results[0].Added)
		}
	}
}
