package directory_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/directory"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/scim/patch"
)

// claimOf reads the claim of a display name from the apiserver; nil when there is none.
func claimOf(t *testing.T, ns, displayName string) *v1alpha1.OrgTeamNameClaim {
	t.Helper()
	var c v1alpha1.OrgTeamNameClaim
	err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: naming.TeamNameClaim(displayName)}, &c)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

// putClaim writes a claim as a replica that crashed, or one in flight, would have left it.
func putClaim(t *testing.T, ns, displayName, team string, acquired time.Time) *v1alpha1.OrgTeamNameClaim {
	t.Helper()
	c := &v1alpha1.OrgTeamNameClaim{Spec: v1alpha1.OrgTeamNameClaimSpec{Team: team, DisplayName: displayName, AcquireTime: metav1.NewMicroTime(acquired)}}
	c.Name, c.Namespace = naming.TeamNameClaim(displayName), ns
	c.Labels = map[string]string{v1alpha1.TeamLabel: team}
	if err := env.Client.Create(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

// scimTeam creates a SCIM-managed team directly, as an older Roster did (no claim).
func scimTeam(t *testing.T, org *v1alpha1.Organization, displayName string, finalizers ...string) *v1alpha1.OrgTeam {
	t.Helper()
	team := &v1alpha1.OrgTeam{Spec: v1alpha1.OrgTeamSpec{DisplayName: displayName, ManagedBy: v1alpha1.ManagedBySCIM}}
	team.Name, team.Namespace = naming.NewTeamObjectName(), org.Spec.Namespace
	team.Labels = map[string]string{v1alpha1.OrgLabel: org.Name}
	team.Finalizers = finalizers
	if err := env.Client.Create(context.Background(), team); err != nil {
		t.Fatal(err)
	}
	return team
}

func rename(name string) func(v1alpha1.OrgTeamSpec) (v1alpha1.OrgTeamSpec, error) {
	return func(s v1alpha1.OrgTeamSpec) (v1alpha1.OrgTeamSpec, error) { s.DisplayName = name; return s, nil }
}

// TestDisplayNameClaims: a team's display name is held by an OrgTeamNameClaim that names the
// team; stale claims are taken over only after the grace, a name whose holder is being
// deleted answers "retry", renames and deletes release the name at once.
func TestDisplayNameClaims(t *testing.T) {
	ctx := context.Background()
	a, b, org := replicas(t)
	ns := org.Spec.Namespace
	var taken *directory.NameTakenError
	var deleting *directory.BeingDeletedError

	eng, err := a.CreateTeam(ctx, org, "Eng", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := claimOf(t, ns, "eng")
	if c == nil || c.Spec.Team != eng.Name || c.Spec.DisplayName != "Eng" || c.Labels[v1alpha1.OrgLabel] != org.Name || c.Labels[v1alpha1.TeamLabel] != eng.Name {
		t.Fatalf("claim of Eng: %+v", c)
	}

	// A claim left by a create that never finished: held within the grace, taken over after.
	putClaim(t, ns, "Young", "g-in-flight", time.Now())
	if _, err := b.CreateTeam(ctx, org, "young", "", nil); !errors.As(err, &taken) {
		t.Fatalf("a name claimed a moment ago by a create in flight: %v, want NameTakenError", err)
	}
	putClaim(t, ns, "Stale", "g-crashed", time.Now().Add(-time.Minute))
	stale, err := b.CreateTeam(ctx, org, "STALE", "", nil)
	if err != nil {
		t.Fatalf("taking over a stale claim: %v", err)
	}
	if c := claimOf(t, ns, "stale"); c == nil || c.Spec.Team != stale.Name || c.Spec.DisplayName != "STALE" || c.Labels[v1alpha1.TeamLabel] != stale.Name {
		t.Fatalf("claim after the takeover: %+v", c)
	}

	// The holder is being deleted (its finalizer waits for the identity store): retry.
	leaving := scimTeam(t, org, "Leaving", "test.roster.dev/hold")
	held := putClaim(t, ns, "Leaving", leaving.Name, time.Now())
	if _, err := a.CreateTeam(ctx, org, "leaving", "", nil); !errors.As(err, &taken) {
		t.Fatalf("a name its live holder keeps: %v, want NameTakenError", err)
	}
	if err := env.Client.Delete(ctx, leaving); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateTeam(ctx, org, "leaving", "", nil); !errors.As(err, &deleting) {
		t.Fatalf("a name whose holder is being deleted: %v, want BeingDeletedError", err)
	}
	held.Spec.AcquireTime = metav1.NewMicroTime(time.Now().Add(-time.Minute))
	if err := env.Client.Update(ctx, held); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateTeam(ctx, org, "leaving", "", nil); err != nil {
		t.Fatalf("a stale claim of a team being deleted: %v", err)
	}
	if err := env.Client.Patch(ctx, leaving, client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"finalizers":null}}`))); err != nil {
		t.Fatal(err)
	}

	// A rename moves the claim: the old name is free at once, on either replica.
	if _, err := b.UpdateTeam(ctx, ns, eng.Name, nil, directory.TeamChange{Spec: rename("Platform")}); err != nil {
		t.Fatal(err)
	}
	if c := claimOf(t, ns, "eng"); c != nil {
		t.Fatalf("the old name's claim stayed: %+v", c)
	}
	if c := claimOf(t, ns, "platform"); c == nil || c.Spec.Team != eng.Name {
		t.Fatalf("claim of the new name: %+v", c)
	}
	if _, err := a.CreateTeam(ctx, org, "ENG", "", nil); err != nil {
		t.Fatalf("the name a team was renamed away from: %v", err)
	}

	// A delete releases every claim of the team.
	if err := a.DeleteTeam(ctx, ns, eng.Name, nil); err != nil {
		t.Fatal(err)
	}
	var left v1alpha1.OrgTeamNameClaimList
	if err := env.Client.List(ctx, &left, client.InNamespace(ns), client.MatchingLabels{v1alpha1.TeamLabel: eng.Name}); err != nil || len(left.Items) != 0 {
		t.Fatalf("claims of a deleted team: %v %v", left.Items, err)
	}

	// The apiserver refuses a claim whose name is not derived from a display name.
	bad := &v1alpha1.OrgTeamNameClaim{Spec: v1alpha1.OrgTeamNameClaimSpec{Team: "g-x", DisplayName: "Ops", AcquireTime: metav1.NewMicroTime(time.Now())}}
	bad.Name, bad.Namespace = "ops", ns
	if err := env.Client.Create(ctx, bad); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "team-name- and 32 lower-case hex digits") {
		t.Fatalf("a claim named ops: %v, want Invalid", err)
	}
}

// TestTeamsOfAnOlderRoster: an older Roster reserved display names with Leases, which Roster
// no longer reads. A SCIM team that exists without a claim keeps its name all the same, and
// BackfillClaims gives it its claim; a Lease of the old shape reserves nothing any more.
func TestTeamsOfAnOlderRoster(t *testing.T) {
	ctx := context.Background()
	o := env.NewOrg(t, "dir")
	org := &v1alpha1.Organization{}
	org.Name, org.Spec.Namespace = o.Name, o.Namespace
	ns := org.Spec.Namespace
	// Written before the managers start, as by the older Roster: in their caches once they run.
	legacy := scimTeam(t, org, "Legacy")
	squat := "g-squatter"
	lease := &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{HolderIdentity: &squat}}
	lease.Name, lease.Namespace = naming.TeamNameClaim("Squatted"), ns
	if err := env.Client.Create(ctx, lease); err != nil {
		t.Fatal(err)
	}
	a, b := env.StartRoster(t, nil).Directory, env.StartRoster(t, nil).Directory

	var taken *directory.NameTakenError
	if _, err := b.CreateTeam(ctx, org, "LEGACY", "", nil); !errors.As(err, &taken) {
		t.Fatalf("the name of a SCIM team without a claim: %v, want NameTakenError", err)
	}
	other, err := a.CreateTeam(ctx, org, "Other", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.UpdateTeam(ctx, ns, other.Name, nil, directory.TeamChange{Spec: rename("legacy"), Members: []patch.MemberOp{{Kind: patch.MemberRemoveAll}}}); !errors.As(err, &taken) {
		t.Fatalf("a rename to the name of a SCIM team without a claim: %v, want NameTakenError", err)
	}
	if c := claimOf(t, ns, "legacy"); c != nil {
		t.Fatalf("a refused create or rename left a claim: %+v", c)
	}
	if _, err := b.CreateTeam(ctx, org, "squatted", "", nil); err != nil {
		t.Fatalf("a name only a Lease holds: %v", err)
	}

	n, err := a.BackfillClaims(ctx)
	if err != nil || n < 1 {
		t.Fatalf("backfill: %d claims, %v", n, err)
	}
	c := claimOf(t, ns, "legacy")
	if c == nil || c.Spec.Team != legacy.Name || c.Spec.DisplayName != "Legacy" || c.Labels[v1alpha1.OrgLabel] != org.Name {
		t.Fatalf("backfilled claim: %+v", c)
	}
	if _, err := b.BackfillClaims(ctx); err != nil {
		t.Fatal(err)
	}
	if again := claimOf(t, ns, "legacy"); again == nil || again.ResourceVersion != c.ResourceVersion {
		t.Fatalf("a second backfill rewrote the claim: %+v", again)
	}

	// The team of an older Roster is deleted like any other: its name is free at once.
	if err := b.DeleteTeam(ctx, ns, legacy.Name, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateTeam(ctx, org, "Legacy", "", nil); err != nil {
		t.Fatalf("the name of a deleted team of an older Roster: %v", err)
	}
}
