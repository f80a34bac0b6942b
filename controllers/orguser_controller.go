package controllers

import (
	"context"
	"encoding/json"
	"errors"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/identitystore"
	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/metrics"
	"github.com/rosterhq/roster/internal/reconcileerr"
	"github.com/rosterhq/roster/internal/slimuser"
)

// OrgUserReconciler writes each OrgUser to the identity store as a row of roster_users, and
// on deletion removes the row, its memberships and the user's place in every team's slices.
type OrgUserReconciler struct {
	client.Client
	Store    identitystore.Store
	Members  *membership.Store
	Recorder record.EventRecorder
	// Events, when set, re-queues users on the store watcher's request (the store is back).
	Events *StoreWatcher

	// cache is the manager's, walked in place when every user is re-queued (requestsFor).
	cache client.Reader
}

// +kubebuilder:rbac:groups=scim.roster.dev,resources=orgusers,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=scim.roster.dev,resources=orgusers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=scim.roster.dev,resources=orgusers/finalizers,verbs=update
// +kubebuilder:rbac:groups=scim.roster.dev,resources=orgteammemberslices,verbs=get;list;watch;update;patch;delete

// Reconcile syncs one OrgUser into the identity store.
func (r *OrgUserReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	user := &rosterv1.OrgUser{}
	if err := r.Get(ctx, req.NamespacedName, user); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	patch := newStatusPatch(user)
	defer func() { retErr = r.finish(ctx, user, patch, retErr) }()

	org, err := orgOf(ctx, r.Client, user, !user.DeletionTimestamp.IsZero())
	if err != nil {
		return ctrl.Result{}, err
	}
	if !user.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.reconcileDelete(ctx, org, user)
	}
	if err := ensureFinalizer(ctx, r.Client, user); err != nil {
		return ctrl.Result{}, err
	}
	patch.rebase(user)
	return ctrl.Result{}, r.reconcileRow(ctx, org, user)
}

// reconcileRow makes the user's row match the OrgUser (the Synced condition).
func (r *OrgUserReconciler) reconcileRow(ctx context.Context, org string, user *rosterv1.OrgUser) error {
	want := storeUser(org, user)
	got, err := r.Store.ObserveUser(ctx, org, user.Name)
	switch {
	case identitystore.IsNotFound(err):
		// No event: the Synced condition says it (store.go, the event reasons).
		if err := r.Store.CreateUser(ctx, want); err != nil {
			return storeErr(err, "creating the user in the identity store")
		}
		logOutcome(ctx, user, "OrgUser", "Created user %q in the identity store (active=%t)", want.UserName, want.Active)
	case err != nil:
		return storeErr(err, "reading the user from the identity store")
	case !sameUser(got, want):
		// CreateUser upserts: the row may have been deleted by hand since it was observed.
		if err := r.Store.CreateUser(ctx, want); err != nil {
			return storeErr(err, "updating the user in the identity store")
		}
		switch {
		case got.Active && !want.Active:
			r.Recorder.Eventf(user, corev1.EventTypeNormal, EventDeactivated, "Marked user %q inactive in the identity store", want.UserName)
		case !got.Active && want.Active:
			r.Recorder.Eventf(user, corev1.EventTypeNormal, EventReactivated, "Marked user %q active in the identity store", want.UserName)
		default:
			logOutcome(ctx, user, "OrgUser", "Updated user %q in the identity store", want.UserName)
		}
	}
	return nil
}

// reconcileDelete takes the user out of every team's slices and deletes its row and its
// memberships, then lets the object go.
func (r *OrgUserReconciler) reconcileDelete(ctx context.Context, org string, user *rosterv1.OrgUser) error {
	if _, err := r.Members.RemoveUserEverywhere(ctx, user.Namespace, user.Name); err != nil {
		return apiErr(err, "removing the user from its teams")
	}
	if err := r.Store.DeleteUser(ctx, org, user.Name); err != nil {
		return storeErr(err, "deleting the user from the identity store")
	}
	r.Recorder.Eventf(user, corev1.EventTypeNormal, EventDeletedFromStore, "Deleted user %q and its team memberships from the identity store", user.Spec.UserName)
	return removeFinalizer(ctx, r.Client, user)
}

// finish sets the conditions from the outcome, patches the status and records a Warning event
// when the user starts failing for a new reason.
func (r *OrgUserReconciler) finish(ctx context.Context, user *rosterv1.OrgUser, patch *statusPatch, err error) error {
	before := setSyncResult(&user.Status.Conditions, user.Generation, err, "the user is in the identity store")
	if err != nil {
		metrics.StoreSyncErrors.WithLabelValues("OrgUser", reconcileerr.Reason(err, ReasonStoreError)).Inc()
	}
	if err == nil {
		user.Status.ObservedGeneration = user.Generation
	} else if before == nil || before.Reason != reconcileerr.Reason(err, ReasonStoreError) {
		r.Recorder.Event(user, corev1.EventTypeWarning, reconcileerr.Reason(err, ReasonStoreError), truncate(err.Error(), 1024))
	}
	if !user.DeletionTimestamp.IsZero() && err == nil {
		return nil // the object is gone
	}
	return reconcileerr.Result(errors.Join(err, apiErr(patch.apply(ctx, r.Client, user), "patching the status")))
}

// storeUser is the row an OrgUser is written as.
func storeUser(org string, u *rosterv1.OrgUser) identitystore.User {
	row := identitystore.User{
		Org: org, ID: u.Name, UserName: u.Spec.UserName, ExternalID: u.Spec.ExternalID,
		DisplayName: u.Spec.DisplayName, Email: u.Spec.PrimaryEmail(), Active: u.Spec.IsActive(),
		ManagedBy: identitystore.ManagedBySCIM, Extensions: storeExtensions(u.Spec.Extensions),
	}
	if n := u.Spec.Name; n != nil {
		row.GivenName, row.FamilyName = n.GivenName, n.FamilyName
	}
	return row
}

// sameUser compares the columns Roster writes.
func sameUser(a, b identitystore.User) bool {
	return a.UserName == b.UserName && a.ExternalID == b.ExternalID && a.DisplayName == b.DisplayName &&
		a.GivenName == b.GivenName && a.FamilyName == b.FamilyName && a.Email == b.Email &&
		a.Active == b.Active && a.ManagedBy == b.ManagedBy && identitystore.SameJSON(a.Extensions, b.Extensions)
}

// storeExtensions is the extensions column of an OrgUser's or OrgTeam's spec.extensions, in
// the canonical form the stores return (so that an unchanged value compares equal). Every
// stored value goes, also of attributes the Organization no longer declares: the column
// mirrors the object, as kubectl shows it.
func storeExtensions(ext rosterv1.ExtensionValues) string {
	if len(ext) == 0 {
		return "{}"
	}
	b, err := json.Marshal(ext)
	if err != nil {
		return "{}" // values the apiserver accepted are JSON
	}
	c, err := identitystore.CanonicalJSON(string(b))
	if err != nil {
		return "{}"
	}
	return c
}

// SetupWithManager watches OrgUsers (spec changes and deletions, not status) and, when a store
// watcher is set, its requests to re-check every user.
func (r *OrgUserReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.cache = mgr.GetCache()
	b := ctrl.NewControllerManagedBy(mgr).
		Named("orguser").
		For(&rosterv1.OrgUser{}, builder.WithPredicates(storePredicate())).
		WithOptions(storeControllerOptions())
	if r.Events != nil {
		b = b.WatchesRawSource(source.Channel(r.Events.users, handler.TypedEnqueueRequestsFromMapFunc(r.requestsFor)))
	}
	return b.Complete(r)
}

// requestsFor maps a store change to users: all of them (Change{}), or an org's. They are
// walked in the cache's store (internal/cachescan): no copy of 100,000 users to name them.
func (r *OrgUserReconciler) requestsFor(ctx context.Context, c identitystore.Change) []reconcile.Request {
	namespace := ""
	if !c.All() {
		var org rosterv1.Organization
		if err := r.Get(ctx, client.ObjectKey{Name: c.Org}, &org); err != nil {
			return nil
		}
		namespace = org.Spec.Namespace
	}
	reader := r.cache
	if reader == nil {
		reader = r.Client
	}
	var out []reconcile.Request
	err := slimuser.Each(ctx, reader, namespace, func(u *slimuser.User) {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: u.GetNamespace(), Name: u.GetName()}})
	})
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing users to re-check")
		return nil
	}
	return out
}
