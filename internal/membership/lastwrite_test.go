package membership_test

import (
	"context"
	"sync/atomic"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/scim/patch"
)

// interferingWriter runs before, once, just ahead of the n-th slice update it passes on: the
// other replica's write that makes this one conflict half-way through a commit.
type interferingWriter struct {
	client.Client
	n      int
	calls  atomic.Int64
	before func()
}

func (w *interferingWriter) Update(ctx context.Context, o client.Object, opts ...client.UpdateOption) error {
	if _, ok := o.(*rosterv1.OrgTeamMemberSlice); ok && w.calls.Add(1) == int64(w.n) {
		w.before()
	}
	return w.Client.Update(ctx, o, opts...)
}

// TestLastCoversEveryAttempt: a commit whose first attempt writes one slice, then loses a
// conflict on the next, and whose second attempt finds nothing left to write (the other
// writer made the same change) still names the first attempt's slice as Last — the directory
// waits for Last before this replica's next read (read-your-writes), so a nil Last would let
// a GET right after show the stale member.
func TestLastCoversEveryAttempt(t *testing.T) {
	ctx := context.Background()
	team := createSCIMTeam(t, env.NewOrg(t, "last").Namespace, "g-eng")
	var sl [2]*rosterv1.OrgTeamMemberSlice
	for i, members := range [][]string{{"u-a", "u-b", "u-c"}, {"u-d", "u-e", "u-f"}} {
		sl[i] = membership.NewSlice(team, members)
		if err := env.Client.Create(ctx, sl[i]); err != nil {
			t.Fatal(err)
		}
	}
	drop := func(cur membership.Set) (membership.Set, []string) {
		return membership.Desired(cur, []patch.MemberOp{{Kind: patch.MemberRemove, Values: []string{"u-a", "u-d"}}}, nil)
	}
	// Replica B: its own store, its own writes, straight to the apiserver.
	b := &membership.Store{Cache: env.Client, API: env.Client, Writer: env.Client}
	var interfered atomic.Bool
	w := &interferingWriter{Client: env.Client, n: 2, before: func() {
		if _, err := b.Change(ctx, team, drop, nil); err != nil {
			t.Errorf("replica B's change: %v", err)
		}
		interfered.Store(true)
	}}
	// Replica A writes its slices one at a time, so that exactly one lands before B's.
	a := &membership.Store{Cache: env.Client, API: env.Client, Writer: w, SliceWriters: 1}
	res, err := a.Change(ctx, team, drop, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !interfered.Load() {
		t.Fatal("replica B never wrote: the commit did not write two slices")
	}
	if res.Members != 4 {
		t.Errorf("%d members after the change, want 4", res.Members)
	}
	if res.Last == nil {
		t.Fatal("Last is nil: the first attempt's slice write is not covered by read-your-writes")
	}
	// A's only successful write is its first attempt's; Last must be it, as the apiserver has it now.
	var now rosterv1.OrgTeamMemberSlice
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(res.Last), &now); err != nil {
		t.Fatal(err)
	}
	if now.ResourceVersion != res.Last.GetResourceVersion() {
		t.Errorf("Last is %s at %s, the apiserver has it at %s: not A's write", now.Name, res.Last.GetResourceVersion(), now.ResourceVersion)
	}
	if got := membership.Members([]rosterv1.OrgTeamMemberSlice{now}); got.Has("u-a") || got.Has("u-d") {
		t.Errorf("Last %s still lists a removed member: %v", now.Name, got.Sorted())
	}
}

// createSCIMTeam creates a SCIM-managed team named name ("Eng") in an organization's
// namespace, labelled with it.
func createSCIMTeam(tb testing.TB, namespace, name string) *rosterv1.OrgTeam {
	tb.Helper()
	team := &rosterv1.OrgTeam{Spec: rosterv1.OrgTeamSpec{DisplayName: "Eng", ManagedBy: rosterv1.ManagedBySCIM}}
	team.Name, team.Namespace = name, namespace
	team.Labels = map[string]string{rosterv1.OrgLabel: namespace}
	if err := env.Client.Create(context.Background(), team); err != nil {
		tb.Fatal(err)
	}
	return team
}
