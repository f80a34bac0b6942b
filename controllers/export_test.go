package controllers

import (
	"context"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// CountMembers runs the Organization reconciler's count on org: its status counts are set.
func (r *OrganizationReconciler) CountMembers(ctx context.Context, org *rosterv1.Organization) error {
	_, err := r.countMembers(ctx, org)
	return err
}
