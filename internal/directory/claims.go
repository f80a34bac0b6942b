package directory

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/index"
	"github.com/rosterhq/roster/internal/naming"
)

// A team's display name is unique in its organization, case-insensitively, also when two
// replicas create or rename at once. Display names change (Okta renames groups), so they
// cannot be object names; instead each one is reserved by an OrgTeamNameClaim named after it
// (naming.TeamNameClaim), whose spec.team is the holder. The apiserver lets only one create of
// that claim succeed, and the admission webhook lets nobody but Roster write claims, so a
// tenant cannot squat a name.
//
// A claim whose holder is gone, or holds another name now, is stale (a crash between the
// claim and the team write, or a failed release) and may be taken over — but only once it is
// older than claimGrace, so an in-flight create or rename of another replica is never stolen.
//
// Claims are read and written only through the apiserver, never the cache: Roster watches no
// claims.
const claimGrace = 30 * time.Second

// +kubebuilder:rbac:groups=scim.roster.dev,resources=orgteamnameclaims,verbs=get;list;create;update;delete

// claimDisplayName reserves displayName for team (an OrgTeam object name, which need not
// exist yet). It fails with a NameTakenError when another team holds the name, and with a
// BeingDeletedError while the team that held it is being deleted.
func (d *Directory) claimDisplayName(ctx context.Context, team *rosterv1.OrgTeam, displayName string) error {
	if err := d.heldWithoutClaim(ctx, team, displayName); err != nil {
		return err
	}
	now := metav1.NewMicroTime(d.now())
	claim := &rosterv1.OrgTeamNameClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name:      naming.TeamNameClaim(displayName),
			Namespace: team.Namespace,
			Labels:    map[string]string{rosterv1.OrgLabel: team.Labels[rosterv1.OrgLabel], rosterv1.TeamLabel: team.Name},
		},
		Spec: rosterv1.OrgTeamNameClaimSpec{Team: team.Name, DisplayName: displayName, AcquireTime: now},
	}
	err := d.client.Create(ctx, claim)
	if err == nil {
		recordWrite(ctx, kindClaim, claim.Name)
	}
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	var existing rosterv1.OrgTeamNameClaim
	if err := d.api.Get(ctx, client.ObjectKeyFromObject(claim), &existing); err != nil {
		return err
	}
	if existing.Spec.Team == team.Name {
		return nil // ours already (a retried request)
	}
	state, err := d.claimState(ctx, &existing, displayName)
	if err != nil {
		return err // not known to be held: the identity provider must retry, not give up
	}
	switch state {
	case claimHeld:
		return nameTaken(displayName)
	case claimReleasing:
		return &BeingDeletedError{Detail: fmt.Sprintf("the previous Group with displayName %q is still being deleted; retry shortly", displayName)}
	}
	existing.Spec = claim.Spec
	existing.Labels = claim.Labels
	if err := d.client.Update(ctx, &existing); err != nil {
		if apierrors.IsConflict(err) {
			return nameTaken(displayName)
		}
		return err
	}
	recordWrite(ctx, kindClaim, existing.Name)
	return nil
}

func nameTaken(displayName string) error {
	return &NameTakenError{Detail: fmt.Sprintf("a Group with displayName %q already exists", displayName)}
}

// heldWithoutClaim fails with a NameTakenError when another team holds displayName without
// a claim: a team made by hand (those hold none), or a SCIM team from before claims were
// OrgTeamNameClaims (they were Leases, which Roster no longer reads; BackfillClaims gives
// such teams their claim). The cache finds the candidates and each is confirmed in the
// apiserver: the cache may still show a name the team was just renamed away from (by another
// replica, or by hand with kubectl), and a 409 is final for an identity provider. A team
// made by hand a moment ago, not in the cache yet, is not found: its creator raced the push.
func (d *Directory) heldWithoutClaim(ctx context.Context, team *rosterv1.OrgTeam, displayName string) error {
	var same rosterv1.OrgTeamList
	if err := index.TeamsNamed(displayName).List(ctx, d.client, team.Namespace, &same, client.UnsafeDisableDeepCopy); err != nil {
		return err
	}
	for _, other := range same.Items {
		if other.Name == team.Name {
			continue
		}
		var live rosterv1.OrgTeam
		err := d.api.Get(ctx, client.ObjectKeyFromObject(&other), &live)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if !holdsName(&live, displayName) {
			continue // renamed away (or being deleted) a moment ago: the cache is behind
		}
		if live.Spec.ManagedBy != rosterv1.ManagedBySCIM {
			return &NameTakenError{Detail: fmt.Sprintf("a team named %q already exists (created by hand, not by SCIM)", displayName)}
		}
		return nameTaken(displayName)
	}
	return nil
}

// holdsName reports whether team, as read from the apiserver, has displayName and keeps it:
// a team being deleted gives its name up.
func holdsName(team *rosterv1.OrgTeam, displayName string) bool {
	return team.DeletionTimestamp == nil && naming.Fold(team.Spec.DisplayName) == naming.Fold(displayName)
}

type claimStatus int

const (
	claimHeld      claimStatus = iota // its holder has the name
	claimReleasing                    // its holder is gone or going, within claimGrace
	claimStale                        // may be taken over
)

// claimState says whether a claim may be taken over: its holder no longer exists, is being
// deleted or holds another display name, and the claim is older than claimGrace. Within the
// grace a claim whose holder is being deleted is "releasing": a create of that name should
// retry (the delete releases it); a holder that does not exist yet is a create in flight.
func (d *Directory) claimState(ctx context.Context, claim *rosterv1.OrgTeamNameClaim, displayName string) (claimStatus, error) {
	young := d.now().Sub(claim.Spec.AcquireTime.Time) < claimGrace
	var holder rosterv1.OrgTeam
	err := d.api.Get(ctx, types.NamespacedName{Namespace: claim.Namespace, Name: claim.Spec.Team}, &holder)
	switch {
	case err != nil && !apierrors.IsNotFound(err):
		return claimHeld, err
	case err == nil && holdsName(&holder, displayName):
		return claimHeld, nil
	case young && err == nil && holder.DeletionTimestamp != nil:
		return claimReleasing, nil
	case young:
		return claimHeld, nil // being created, or renamed a moment ago: either may still be in flight
	}
	return claimStale, nil
}

// releaseDisplayName drops team's claim on displayName, if it still holds it.
func (d *Directory) releaseDisplayName(ctx context.Context, team *rosterv1.OrgTeam, displayName string) error {
	var claim rosterv1.OrgTeamNameClaim
	key := types.NamespacedName{Namespace: team.Namespace, Name: naming.TeamNameClaim(displayName)}
	if err := d.api.Get(ctx, key, &claim); err != nil {
		return client.IgnoreNotFound(err)
	}
	if claim.Spec.Team != team.Name {
		return nil
	}
	return d.dropClaim(ctx, &claim)
}

// releaseClaims drops every display-name claim team holds, found by its label in the
// apiserver (not by the display name this replica last saw: another replica may have renamed
// the team a moment ago).
func (d *Directory) releaseClaims(ctx context.Context, team *rosterv1.OrgTeam) error {
	var claims rosterv1.OrgTeamNameClaimList
	if err := d.api.List(ctx, &claims, client.InNamespace(team.Namespace), client.MatchingLabels{rosterv1.TeamLabel: team.Name}); err != nil {
		return err
	}
	for i := range claims.Items {
		if c := &claims.Items[i]; c.Spec.Team == team.Name {
			if err := d.dropClaim(ctx, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// dropClaim deletes a claim at the version it was read, so a claim another team took over
// in between stays.
func (d *Directory) dropClaim(ctx context.Context, claim *rosterv1.OrgTeamNameClaim) error {
	rv := claim.ResourceVersion
	err := d.client.Delete(ctx, claim, client.Preconditions{ResourceVersion: &rv})
	if err == nil {
		recordWrite(ctx, kindClaim, claim.Name)
	}
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone, or taken over: either way no longer ours
	}
	return err
}

// BackfillClaims gives every SCIM-managed team that holds its display name without an
// OrgTeamNameClaim its claim, and returns for how many teams it claimed a name. Teams created before claims
// were OrgTeamNameClaims have only a Lease, which Roster no longer reads. claimDisplayName
// counts such a team as the holder of its name anyway (heldWithoutClaim); the backfill makes
// the claims the complete record of taken names. It lists the teams from the cache (wait
// for it to sync) and the claims from the apiserver, and is safe to run on any replica at
// any time: a claim is created as a SCIM create would take it, for the team as the
// apiserver holds it.
func (d *Directory) BackfillClaims(ctx context.Context) (int, error) {
	var teams rosterv1.OrgTeamList
	if err := d.client.List(ctx, &teams, client.UnsafeDisableDeepCopy); err != nil {
		return 0, fmt.Errorf("listing teams: %w", err)
	}
	var claims rosterv1.OrgTeamNameClaimList
	if err := d.api.List(ctx, &claims); err != nil {
		return 0, fmt.Errorf("listing display-name claims: %w", err)
	}
	claimed := make(map[types.NamespacedName]string, len(claims.Items))
	for _, c := range claims.Items {
		claimed[types.NamespacedName{Namespace: c.Namespace, Name: c.Name}] = c.Spec.Team
	}
	claimedNow := 0
	for i := range teams.Items {
		t := &teams.Items[i]
		key := types.NamespacedName{Namespace: t.Namespace, Name: naming.TeamNameClaim(t.Spec.DisplayName)}
		if t.Spec.ManagedBy != rosterv1.ManagedBySCIM || t.DeletionTimestamp != nil || claimed[key] == t.Name {
			continue
		}
		var live rosterv1.OrgTeam
		if err := d.api.Get(ctx, client.ObjectKeyFromObject(t), &live); apierrors.IsNotFound(err) {
			continue
		} else if err != nil {
			return claimedNow, err
		}
		if live.DeletionTimestamp != nil {
			continue
		}
		var taken *NameTakenError
		var deleting *BeingDeletedError
		switch err := d.claimDisplayName(ctx, &live, live.Spec.DisplayName); {
		case errors.As(err, &taken), errors.As(err, &deleting):
			// Another team holds the name too (e.g. a manual team of that name made by
			// hand): there is nothing this team could reserve.
		case err != nil:
			return claimedNow, fmt.Errorf("claiming %q for team %s/%s: %w", live.Spec.DisplayName, live.Namespace, live.Name, err)
		default:
			claimedNow++
		}
	}
	return claimedNow, nil
}
