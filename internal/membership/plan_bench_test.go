package membership

import (
	"fmt"
	"testing"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/scim/patch"
)

// BenchmarkCommitPlan100k is the CPU a commit spends between its fence and its writes on a
// 100,000-member team: the member set, the desired set, the counts and the plan, for a
// 1,000-member add to the team and for a PUT of all 100,000 members onto the team emptied
// (hack/bench's "PATCH add 1,000" and "PUT with every member" measure whole requests).
func BenchmarkCommitPlan100k(b *testing.B) {
	const size, add = 100_000, 1_000
	var full []rosterv1.OrgTeamMemberSlice
	ids := make([]string, size)
	for i := range ids {
		ids[i] = fmt.Sprintf("u-%032x", i)
	}
	for i := 0; i < size; i += rosterv1.MaxMembersPerSlice {
		full = append(full, slice(fmt.Sprintf("s-%d", i), ids[i:min(i+rosterv1.MaxMembersPerSlice, size)]...))
	}
	extra := make([]string, add)
	for i := range extra {
		extra[i] = fmt.Sprintf("x-%032x", i)
	}
	yes := func(string) bool { return true }
	for _, bc := range []struct {
		name          string
		current       []rosterv1.OrgTeamMemberSlice
		op            patch.MemberOp
		writes, added int
	}{
		{"add 1,000 to 100,000", full, patch.MemberOp{Kind: patch.MemberAdd, Values: extra}, 1, add},
		{"replace: 100,000 onto none", nil, patch.MemberOp{Kind: patch.MemberReplace, Values: ids}, size / rosterv1.MaxMembersPerSlice, size},
		{"replace: 100,000 onto the same", full, patch.MemberOp{Kind: patch.MemberReplace, Values: ids}, 0, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ops := []patch.MemberOp{bc.op}
			b.ReportAllocs()
			for b.Loop() {
				res := commitPlan(bc.current, nil, []Desire{func(cur Set) (Set, []string) { return Desired(cur, ops, yes) }}, rosterv1.MaxMembersPerSlice)
				if res.writes.Count() != bc.writes || res.results[0].Added != bc.added {
					b.Fatalf("writes %d, added %d", res.writes.Count(), res.results[0].Added)
				}
			}
		})
	}
}
