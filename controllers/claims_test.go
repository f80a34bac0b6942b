package controllers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/naming"
)

// TestUpgradeBackfillsClaims: SCIM teams of an older Roster reserved their display names with
// Leases; the leader of a new Roster gives each of them its OrgTeamNameClaim when it starts.
func TestUpgradeBackfillsClaims(t *testing.T) {
	ctx := context.Background()
	org := env.NewOrg(t, "up")
	legacy := &rosterv1.OrgTeam{Spec: rosterv1.OrgTeamSpec{DisplayName: "Legacy", ManagedBy: rosterv1.ManagedBySCIM}}
	legacy.Name, legacy.Namespace = naming.NewTeamObjectName(), org.Namespace
	legacy.Labels = map[string]string{rosterv1.OrgLabel: org.Name}
	manual := &rosterv1.OrgTeam{Spec: rosterv1.OrgTeamSpec{DisplayName: "By Hand", ManagedBy: rosterv1.ManagedByManual}}
	manual.Name, manual.Namespace = "by-hand", org.Namespace
	for _, team := range []*rosterv1.OrgTeam{legacy, manual} {
		if err := env.Client.Create(ctx, team); err != nil {
			t.Fatal(err)
		}
	}
	env.StartRoster(t, func(c *app.Config) { c.IdentityStore = sqliteURL(t) })

	var claim rosterv1.OrgTeamNameClaim
	eventually(t, 15*time.Second, func() (bool, string) {
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: org.Namespace, Name: naming.TeamNameClaim("legacy")}, &claim)
		return err == nil && claim.Spec.Team == legacy.Name, fmt.Sprintf("claim of Legacy: %+v %v", claim.Spec, err)
	})
	// Manual teams hold no claim: SCIM finds them by their name.
	var claims rosterv1.OrgTeamNameClaimList
	if err := env.Client.List(ctx, &claims, client.InNamespace(org.Namespace)); err != nil || len(claims.Items) != 1 {
		t.Fatalf("claims in the org: %d, %v; want only Legacy's", len(claims.Items), err)
	}
}
