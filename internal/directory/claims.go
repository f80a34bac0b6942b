package directory

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
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
// cannot be object names; instead each one is reserved by a Lease named after it, whose holder
// is the team. The apiserver lets only one create of that Lease succeed.
//
// A claim whose holder is gone, or holds another name now, is stale (a crash between the
// claim and the team write, or a failed release) and may be taken over — but only once it is
// older than claimGrace, so an in-flight create or rename of another replica is never stolen.
const claimGrace = 30 * time.Second

// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;delete

// claimDisplayName reserves displayName for team (an OrgTeam object name, which need not
// exist yet). It fails with a NameTakenError when another team holds the name, and with a
// BeingDeletedError while the team that held it is being deleted.
func (d *Directory) claimDisplayName(ctx context.Context, team *rosterv1.OrgTeam, displayName string) error {
	// Teams made by hand hold no claim; one of them with this name also makes it taken.
	var same rosterv1.OrgTeamList
	if err := d.client.List(ctx, &same, client.InNamespace(team.Namespace),
		client.MatchingFields{index.TeamName: index.TeamNameValue(displayName)}, client.UnsafeDisableDeepCopy); err != nil {
		return err
	}
	for _, other := range same.Items {
		if other.Name != team.Name && other.Spec.ManagedBy != rosterv1.ManagedBySCIM {
			return &NameTakenError{Detail: fmt.Sprintf("a team named %q already exists (created by hand, not by SCIM)", displayName)}
		}
	}
	now := metav1.NewMicroTime(d.now())
	holder := team.Name
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Name:      naming.TeamNameClaim(displayName),
			Namespace: team.Namespace,
			Labels:    map[string]string{rosterv1.OrgLabel: team.Labels[rosterv1.OrgLabel], rosterv1.TeamLabel: team.Name},
			Annotations: map[string]string{
				"scim.roster.dev/display-name": displayName,
			},
		},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, AcquireTime: &now},
	}
	err := d.client.Create(ctx, lease)
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	var existing coordinationv1.Lease
	if err := d.api.Get(ctx, client.ObjectKeyFromObject(lease), &existing); err != nil {
		return err
	}
	if h := existing.Spec.HolderIdentity; h != nil && *h == holder {
		return nil // ours already (a retried request)
	}
	state, err := d.claimState(ctx, &existing, displayName)
	if err != nil {
		return err // not known to be held: the identity provider must retry, not give up
	}
	switch state {
	case claimHeld:
		return &NameTakenError{Detail: fmt.Sprintf("a Group with displayName %q already exists", displayName)}
	case claimReleasing:
		return &BeingDeletedError{Detail: fmt.Sprintf("the previous Group with displayName %q is still being deleted; retry shortly", displayName)}
	}
	existing.Spec.HolderIdentity, existing.Spec.AcquireTime = &holder, &now
	existing.Labels = lease.Labels
	if err := d.client.Update(ctx, &existing); err != nil {
		if apierrors.IsConflict(err) {
			return &NameTakenError{Detail: fmt.Sprintf("a Group with displayName %q already exists", displayName)}
		}
		return err
	}
	return nil
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
func (d *Directory) claimState(ctx context.Context, lease *coordinationv1.Lease, displayName string) (claimStatus, error) {
	young := lease.Spec.AcquireTime != nil && d.now().Sub(lease.Spec.AcquireTime.Time) < claimGrace
	if lease.Spec.HolderIdentity == nil {
		if young {
			return claimHeld, nil
		}
		return claimStale, nil
	}
	var holder rosterv1.OrgTeam
	err := d.api.Get(ctx, types.NamespacedName{Namespace: lease.Namespace, Name: *lease.Spec.HolderIdentity}, &holder)
	switch {
	case err != nil && !apierrors.IsNotFound(err):
		return claimHeld, err
	case err == nil && holder.DeletionTimestamp == nil && naming.Fold(holder.Spec.DisplayName) == naming.Fold(displayName):
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
	var lease coordinationv1.Lease
	key := types.NamespacedName{Namespace: team.Namespace, Name: naming.TeamNameClaim(displayName)}
	if err := d.api.Get(ctx, key, &lease); err != nil {
		return client.IgnoreNotFound(err)
	}
	if h := lease.Spec.HolderIdentity; h == nil || *h != team.Name {
		return nil
	}
	rv := lease.ResourceVersion
	err := d.client.Delete(ctx, &lease, client.Preconditions{ResourceVersion: &rv})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone, or taken over: either way no longer ours
	}
	return err
}

// releaseClaims drops every display-name claim team holds, found by its label in the
// apiserver (not by the display name this replica last saw: another replica may have renamed
// the team a moment ago).
func (d *Directory) releaseClaims(ctx context.Context, team *rosterv1.OrgTeam) error {
	var leases coordinationv1.LeaseList
	if err := d.api.List(ctx, &leases, client.InNamespace(team.Namespace), client.MatchingLabels{rosterv1.TeamLabel: team.Name}); err != nil {
		return err
	}
	for i := range leases.Items {
		l := &leases.Items[i]
		if h := l.Spec.HolderIdentity; h == nil || *h != team.Name {
			continue
		}
		rv := l.ResourceVersion
		if err := d.client.Delete(ctx, l, client.Preconditions{ResourceVersion: &rv}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return err
		}
	}
	return nil
}
