package admission_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/naming"
)

const claimWebhook = "vorgteamnameclaim.scim.roster.dev"

// editTenant returns a client that impersonates a user with the built-in edit role in
// namespace. envtest runs no controller-manager, so the aggregated edit role is empty: the
// user is bound to system:aggregate-to-edit, the rules edit aggregates.
func editTenant(t *testing.T, namespace string) client.Client {
	t.Helper()
	name := "tenant-" + namespace
	rb := &rbacv1.RoleBinding{
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:aggregate-to-edit"},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: name}},
	}
	rb.Name, rb.Namespace = "tenant-edit", namespace
	if err := env.Client.Create(context.Background(), rb); err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: name, Groups: []string{"system:authenticated"}}
	c, err := newClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// nameClaim is a claim of displayName for team, shaped as Roster writes them.
func nameClaim(org, displayName, team string) *rosterv1.OrgTeamNameClaim {
	c := &rosterv1.OrgTeamNameClaim{Spec: rosterv1.OrgTeamNameClaimSpec{Team: team, DisplayName: displayName, AcquireTime: metav1.NewMicroTime(time.Now())}}
	c.Name, c.Namespace = naming.TeamNameClaim(displayName), org
	c.Labels = map[string]string{rosterv1.OrgLabel: org, rosterv1.TeamLabel: team}
	return c
}

// TestNameClaimsAreRosters: a tenant with edit in the org's namespace cannot squat a display
// name the identity provider is about to push — a Lease of the claim's name no longer
// reserves anything, and claims are out of its reach — and neither can a cluster-admin or a
// user RBAC lets write claims: the webhook refuses them, saying where names come from. Roster
// still claims, keeps and releases names.
func TestNameClaimsAreRosters(t *testing.T) {
	ctx := context.Background()
	org, c := newOrg(t)
	tenant := editTenant(t, org.Namespace)

	// What a tenant with edit could do before claims were Roster's own resource.
	squatter := "g-squatter"
	// A Lease held by a team that does not exist, kept fresh: an older Roster took it for a
	// create in flight and refused the name.
	now := metav1.NewMicroTime(time.Now())
	lease := &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{HolderIdentity: &squatter, AcquireTime: &now}}
	lease.Name, lease.Namespace = naming.TeamNameClaim("Eng"), org.Namespace
	lease.Labels = map[string]string{rosterv1.TeamLabel: squatter}
	if err := tenant.Create(ctx, lease); err != nil {
		t.Fatalf("a tenant with edit writing a Lease (which edit allows) of the claim's name: %v", err)
	}

	if err := tenant.Create(ctx, nameClaim(org.Name, "Eng", squatter)); !apierrors.IsForbidden(err) {
		t.Fatalf("a tenant with edit creating a claim: %v, want Forbidden", err)
	}
	for who, other := range others(t) {
		t.Run(who+" squats", func(t *testing.T) {
			expectDenied(t, other.Create(ctx, nameClaim(org.Name, "Eng", squatter)), claimWebhook, "spec.displayName",
				"only Roster's SCIM server creates OrgTeamNameClaims", "Push Groups")
		})
	}

	// Roster takes the name, and keeps it.
	id := c.Do(t, http.MethodPost, "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Eng"}`).Expect(t, http.StatusCreated).String("id")
	var held rosterv1.OrgTeamNameClaim
	key := client.ObjectKey{Namespace: org.Namespace, Name: naming.TeamNameClaim("Eng")}
	if err := env.Client.Get(ctx, key, &held); err != nil || held.Spec.Team != id {
		t.Fatalf("Roster's claim of Eng: %+v %v, want held by %s", held.Spec, err, id)
	}
	c.Do(t, http.MethodPost, "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"eng"}`).Expect(t, http.StatusConflict)

	for who, other := range others(t) {
		t.Run(who+" moves or frees", func(t *testing.T) {
			moved := held.DeepCopy()
			moved.Spec.Team = squatter
			expectDenied(t, other.Update(ctx, moved), claimWebhook, "spec.team", `the display name "Eng" is held by team "`+id+`"`)
			expectDenied(t, other.Delete(ctx, &held), claimWebhook, "spec.displayName", "Roster releases the name")
			expectDenied(t, other.DeleteAllOf(ctx, &rosterv1.OrgTeamNameClaim{}, client.InNamespace(org.Namespace)), claimWebhook, "spec.displayName")
		})
	}
	if err := tenant.Delete(ctx, &held); !apierrors.IsForbidden(err) {
		t.Fatalf("a tenant with edit deleting a claim: %v, want Forbidden", err)
	}
	var after rosterv1.OrgTeamNameClaim
	if err := env.Client.Get(ctx, key, &after); err != nil || after.Spec.Team != id || after.ResourceVersion != held.ResourceVersion {
		t.Fatalf("claim after the denials: %+v %v", after.Spec, err)
	}

	// Roster renames the team and releases the old name (its own delete, through the webhook).
	c.Do(t, http.MethodPatch, "/Groups/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"Platform"}]}`).Expect(t, http.StatusNoContent)
	if err := env.Client.Get(ctx, key, &after); !apierrors.IsNotFound(err) {
		t.Fatalf("claim of the old name after a rename: %+v %v", after.Spec, err)
	}
	c.Do(t, http.MethodPost, "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Eng"}`).Expect(t, http.StatusCreated)
}
