package directory_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/directory"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/scim/patch"
	"github.com/rosterhq/roster/internal/testutil/testenv"
)

// The directory is tested without HTTP: two managers (two caches) on one real apiserver, their
// directories called back to back with no waiting in between.

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Run(m, &env)) }

// replicas returns the directories of two managers and a fresh organization.
func replicas(t *testing.T) (a, b *directory.Directory, org *v1alpha1.Organization) {
	t.Helper()
	o := env.NewOrg(t, "dir")
	org = &v1alpha1.Organization{}
	org.Name, org.Spec.Namespace = o.Name, o.Namespace
	return env.StartRoster(t, nil).Directory, env.StartRoster(t, nil).Directory, org
}

func active(on bool) func(*v1alpha1.OrgUser) error {
	return func(u *v1alpha1.OrgUser) error { u.Spec.Active = &on; return nil }
}

func TestUsersAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	a, b, org := replicas(t)
	ns := org.Spec.Namespace
	yes := true
	u, err := a.CreateUser(ctx, org, v1alpha1.OrgUserSpec{UserName: "Ada@Example.com", Active: &yes})
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != naming.UserObjectName("ada@example.com") {
		t.Fatalf("id %s does not derive from the folded userName", u.Name)
	}
	v1 := directory.UserVersion(u)

	// The other replica finds the user at once (its cache may not have it: the apiserver does).
	if _, err := b.GetUser(ctx, ns, u.Name); err != nil {
		t.Fatalf("a user created on the other replica a moment ago: %v", err)
	}
	// Same userName, other case: taken.
	var taken *directory.NameTakenError
	if _, err := b.CreateUser(ctx, org, v1alpha1.OrgUserSpec{UserName: "ADA@example.com", Active: &yes}); !errors.As(err, &taken) {
		t.Fatalf("duplicate userName: %v, want NameTakenError", err)
	}

	// Deactivate on A, reactivate on B, deactivate on A: the last one is not a no-op.
	if _, err := a.UpdateUser(ctx, ns, u.Name, nil, active(false)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.UpdateUser(ctx, ns, u.Name, nil, active(true)); err != nil {
		t.Fatal(err)
	}
	got, err := a.UpdateUser(ctx, ns, u.Name, nil, active(false))
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.IsActive() {
		t.Fatal("the deactivation after a reactivation on the other replica was taken for a no-op")
	}

	// A stale precondition changes nothing and says so; a current one passes on either replica.
	if _, err := b.UpdateUser(ctx, ns, u.Name, directory.Precondition{v1}, active(true)); !errors.Is(err, directory.ErrPreconditionFailed) {
		t.Fatalf("stale precondition: %v", err)
	}
	cur := directory.UserVersion(got)
	if cur == v1 {
		t.Fatal("three spec changes and the version did not move")
	}
	if _, err := b.UpdateUser(ctx, ns, u.Name, directory.Precondition{cur}, func(u *v1alpha1.OrgUser) error {
		u.Spec.DisplayName = "Ada"
		return nil
	}); err != nil {
		t.Fatalf("current precondition from the other replica: %v", err)
	}
	if err := a.DeleteUser(ctx, ns, u.Name, directory.Precondition{cur}); !errors.Is(err, directory.ErrPreconditionFailed) {
		t.Fatalf("delete with a stale precondition: %v", err)
	}
	if err := a.DeleteUser(ctx, ns, u.Name, nil); err != nil {
		t.Fatal(err)
	}
	// A GET on the other replica trails by one watch round trip (docs/operations.md): it may
	// show the user for a moment, then not. (The delete waited for A's cache only.)
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		_, err := b.GetUser(ctx, ns, u.Name)
		return errors.Is(err, directory.ErrNotFound), fmt.Sprintf("deleted user on the other replica: %v", err)
	})
	if _, err := a.GetUser(ctx, ns, "not-an-id"); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("malformed id: %v", err)
	}
}

func TestTeamsAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	a, b, org := replicas(t)
	ns := org.Spec.Namespace
	yes := true
	var ids []string
	for _, n := range []string{"a@x.io", "b@x.io"} {
		u, err := a.CreateUser(ctx, org, v1alpha1.OrgUserSpec{UserName: n, Active: &yes})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.Name)
	}
	// Created on A a moment ago, added on B: resolved, not unresolved.
	team, err := b.CreateTeam(ctx, org, "Eng", "", append(slices.Clone(ids), naming.UserObjectName("nobody")))
	if err != nil {
		t.Fatal(err)
	}
	members, err := b.Members(ctx, team)
	if err != nil || !slices.Equal(members, sortedCopy(ids)) {
		t.Fatalf("members %v (%v), want %v", members, err, sortedCopy(ids))
	}
	var taken *directory.NameTakenError
	if _, err := a.CreateTeam(ctx, org, "eng", "", nil); !errors.As(err, &taken) {
		t.Fatalf("duplicate displayName: %v", err)
	}

	// Remove on A what B just added: A's view is fenced, so the removal is not lost.
	if _, err := a.UpdateTeam(ctx, ns, team.Name, nil, directory.TeamChange{Members: []patch.MemberOp{{Kind: patch.MemberRemove, Values: ids[:1]}}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Members(ctx, team); !slices.Equal(got, ids[1:]) {
		t.Fatalf("members after the removal on the other replica: %v, want %v", got, ids[1:])
	}

	// A rename to a taken name together with a member change: refused, nothing changed.
	other, err := a.CreateTeam(ctx, org, "Ops", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	rename := func(name string) func(v1alpha1.OrgTeamSpec) (v1alpha1.OrgTeamSpec, error) {
		return func(s v1alpha1.OrgTeamSpec) (v1alpha1.OrgTeamSpec, error) { s.DisplayName = name; return s, nil }
	}
	_, err = b.UpdateTeam(ctx, ns, team.Name, nil, directory.TeamChange{Spec: rename("OPS"), Members: []patch.MemberOp{{Kind: patch.MemberRemoveAll}}})
	if !errors.As(err, &taken) {
		t.Fatalf("rename to a taken name: %v", err)
	}
	// Read from the apiserver: B's cache may not show A's removal yet (a read on another
	// replica trails by one watch round trip), and what must hold is that nothing was written.
	if got := env.LiveMembers(t, ns, team.Name); !slices.Equal(got, ids[1:]) {
		t.Fatalf("a refused rename changed the members: %v", got)
	}

	// One version, two writers: exactly one wins.
	v, err := a.View(ctx, team)
	if err != nil {
		t.Fatal(err)
	}
	add := func(d *directory.Directory, id string) error {
		_, err := d.UpdateTeam(ctx, ns, team.Name, directory.Precondition{v.Version}, directory.TeamChange{Members: []patch.MemberOp{{Kind: patch.MemberAdd, Values: []string{id}}}})
		return err
	}
	errA, errB := add(a, ids[0]), add(b, ids[0])
	if errA != nil || !errors.Is(errB, directory.ErrPreconditionFailed) {
		t.Fatalf("two writers with one version: %v, %v; want nil, ErrPreconditionFailed", errA, errB)
	}
	if err := b.DeleteTeam(ctx, ns, other.Name, nil); err != nil {
		t.Fatal(err)
	}
	// Its name is free again at once, on the other replica too.
	if _, err := a.CreateTeam(ctx, org, "Ops", "", nil); err != nil {
		t.Fatalf("re-creating a deleted team's name: %v", err)
	}
	// A GET on the other replica trails by one watch round trip (docs/operations.md).
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		_, err := a.GetTeam(ctx, ns, other.Name)
		return errors.Is(err, directory.ErrNotFound), fmt.Sprintf("deleted team on the other replica: %v", err)
	})
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
