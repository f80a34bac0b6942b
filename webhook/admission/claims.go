package admission

import (
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

var claimsResource = rosterv1.GroupVersion.WithResource("orgteamnameclaims").GroupResource()

// judgeClaim: an OrgTeamNameClaim reserves a SCIM team's display name in its organization,
// and only Roster's SCIM server takes, moves or drops one. Anyone else could squat a name the
// identity provider is about to push (a create), hand a name to another team (an update) or
// free a name a team still holds (a delete), so every claim write of anyone else is refused —
// beside what exempt lets through: Kubernetes emptying a deleted namespace, no-op updates and
// unsticking a deletion.
func (g *guard) judgeClaim(_ context.Context, r request) error {
	ok, changed, err := g.exempt(r)
	if ok || err != nil {
		return err
	}
	c := r.subject().(*rosterv1.OrgTeamNameClaim)
	idp := identityProvider(c)
	var msg string
	switch r.op {
	case admissionv1.Create:
		msg = fmt.Sprintf("display-name claims are taken by Roster's SCIM server when %s pushes a group; "+
			"to reserve a name push the group from there (Okta: Push Groups; Entra ID: assign the group to Roster's app) "+
			"— only Roster's SCIM server creates OrgTeamNameClaims", idp)
	case admissionv1.Delete:
		msg = fmt.Sprintf("the display name %q is held by team %q, provisioned by SCIM from %s; rename or delete the group there "+
			"(Okta: Push Groups; Entra ID: Users and groups) and Roster releases the name — only Roster's SCIM server deletes OrgTeamNameClaims",
			c.Spec.DisplayName, c.Spec.Team, idp)
	default:
		msg = fmt.Sprintf("the display name %q is held by team %q, provisioned by SCIM from %s; change the group there "+
			"(Okta: Push Groups; Entra ID: Users and groups) — only Roster's SCIM server changes OrgTeamNameClaims",
			c.Spec.DisplayName, c.Spec.Team, idp)
	}
	return forbidden(claimsResource, c, pathOf(r, changed, field.NewPath("spec", "displayName")), msg)
}
