package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// Reasons of the events recorded when SCIM is disabled for an organization.
const (
	// ReasonSCIMDisabled is the Ready condition's reason while spec.scim is Disabled.
	ReasonSCIMDisabled = "SCIMDisabled"
	// EventManagedByManual is recorded on each team that Roster turned manual.
	EventManagedByManual = "ManagedByManual"
	// EventTeamsReleased is recorded on the Organization when some of its teams were.
	EventTeamsReleased = "TeamsReleased"
)

// releaseTeams turns the SCIM-managed teams of an organization whose SCIM is disabled into
// manual teams (spec.managedBy: manual), with an event on each and one on the organization.
// This explicit switch is the only way a team leaves SCIM: the CRD lets managedBy change
// only from scim to manual, and the admission webhook lets only Roster do it, only while the
// organization is disabled. It runs on every reconcile of a disabled organization, so a team
// that a SCIM write in flight at the switch created is released too. retry is true when a
// team changed under the write (or the cache trailed it): the next pass decides again, and
// no team gets its event twice.
func (r *OrganizationReconciler) releaseTeams(ctx context.Context, org *rosterv1.Organization) (retry bool, err error) {
	var teams rosterv1.OrgTeamList
	if err := r.List(ctx, &teams, client.InNamespace(org.Spec.Namespace), client.MatchingLabels{rosterv1.OrgLabel: org.Name},
		client.UnsafeDisableDeepCopy); err != nil {
		return false, err
	}
	var released []string
	for i := range teams.Items {
		cached := &teams.Items[i]
		if cached.Spec.ManagedBy != rosterv1.ManagedBySCIM || cached.DeletionTimestamp != nil {
			continue
		}
		t := cached.DeepCopy()
		t.Spec.ManagedBy = rosterv1.ManagedByManual
		err := r.Patch(ctx, t, client.MergeFromWithOptions(cached, client.MergeFromWithOptimisticLock{}))
		switch {
		case apierrors.IsNotFound(err):
			continue
		case apierrors.IsConflict(err):
			retry = true
			continue
		case err != nil:
			return false, fmt.Errorf("making team %s manual: %w", t.Name, err)
		}
		r.Recorder.Eventf(t, corev1.EventTypeNormal, EventManagedByManual,
			"SCIM is disabled for organization %q (spec.scim: Disabled): team %q is no longer provisioned by the identity provider "+
				"and is edited by hand from now on (managedBy: manual); it stays manual if SCIM is enabled again", org.Name, t.Spec.DisplayName)
		released = append(released, t.Name)
	}
	if len(released) > 0 {
		r.Recorder.Eventf(org, corev1.EventTypeNormal, EventTeamsReleased,
			"SCIM is disabled: %d SCIM-managed teams are manual now and stay manual if SCIM is enabled again: %s", len(released), sample(released, 5))
	}
	return retry, nil
}
