package controllers

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/identitystore"
	"github.com/rosterhq/roster/internal/index"
	"github.com/rosterhq/roster/internal/reconcileerr"
)

// Finalizer is on every OrgUser and OrgTeam whose rows the controllers write to the identity
// store. It is added before the first write and removed once the rows are gone: deleting the
// object is the only way rows leave the store.
const Finalizer = "scim.roster.dev/identity-store"

// Reasons of the Synced and Ready conditions of OrgUsers, OrgTeams and Organizations.
const (
	// ReasonInStore: the object's rows match it.
	ReasonInStore = "InStore"
	// ReasonStoreUnavailable: the database cannot be reached (or opened); retried with back-off.
	ReasonStoreUnavailable = "StoreUnavailable"
	// ReasonStoreConflict: another row of the org has the same userName in the store.
	ReasonStoreConflict = "StoreConflict"
	// ReasonStoreRejected: the store refuses the data; retrying cannot help.
	ReasonStoreRejected = "StoreRejected"
	// ReasonStoreError: any other failed statement.
	ReasonStoreError = "StoreError"
	// ReasonOrganizationNotFound: no Organization uses the object's namespace.
	ReasonOrganizationNotFound = "OrganizationNotFound"
	// ReasonAPIError: reading or writing Kubernetes objects failed.
	ReasonAPIError = "APIError"
	// ReasonSyncPending (Organization): some users or teams are not written yet.
	ReasonSyncPending = "SyncPending"
	// ReasonSyncFailed (Organization): some users or teams failed to be written.
	ReasonSyncFailed = "SyncFailed"
)

// Reasons of the events the store controllers record. A routine write of an object's row (a
// user or team created or updated in the store) records none: the Synced condition says it
// (its lastTransitionTime and observedGeneration), and an event per object would be an
// apiserver write per user on every push — 100,000 for an initial one; it is logged instead
// (logOutcome). Warnings, and the
// changes a person may need to trace (deactivation, reactivation, members added, removed or
// pruned, drift reverted, rows deleted, break-glass) do record one.
const (
	EventDeactivated      = "Deactivated"
	EventReactivated      = "Reactivated"
	EventMembersAdded     = "MembersAdded"
	EventMembersRemoved   = "MembersRemoved"
	EventMembersPruned    = "MembersPruned"
	EventDriftReverted    = "DriftReverted"
	EventDeletedFromStore = "DeletedFromStore"
	EventRemovedFromTeams = "RemovedFromTeams"
	// EventBreakGlassOpened: Roster recorded a team's members before break-glass edits, which
	// are open now; EventBreakGlassRefused (Warning): it did not, and they stay closed.
	EventBreakGlassOpened  = "BreakGlassOpened"
	EventBreakGlassRefused = "BreakGlassRefused"
)

// storeErr wraps a failed store operation in a typed error whose reason says what a person
// can do about it.
func storeErr(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf(format+": %w", append(args, err)...)
	switch {
	case identitystore.IsUnavailable(err):
		return reconcileerr.New(ReasonStoreUnavailable, err)
	case errors.Is(err, identitystore.ErrConflict):
		return reconcileerr.New(ReasonStoreConflict, err)
	case errors.Is(err, identitystore.ErrInvalid):
		return reconcileerr.NewStalling(ReasonStoreRejected, err)
	}
	return reconcileerr.New(ReasonStoreError, err)
}

// apiErr wraps a failed Kubernetes API call.
func apiErr(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return reconcileerr.New(ReasonAPIError, fmt.Errorf(format+": %w", append(args, err)...))
}

// orgOf returns the organization (login name) an object belongs to: the Organization whose
// spec.namespace is the object's namespace. The org label is believed only when no
// Organization claims the namespace any more (it was deleted first), so that the rows of a
// deleted object can still be found; it is never enough to write rows of another org.
func orgOf(ctx context.Context, c client.Reader, obj client.Object, deleting bool) (string, error) {
	orgs, err := index.OrgsUsingNamespace(ctx, c, obj.GetNamespace())
	if err != nil {
		return "", apiErr(err, "finding the organization of namespace %s", obj.GetNamespace())
	}
	switch {
	case len(orgs) == 1:
		return orgs[0].Name, nil
	case len(orgs) > 1:
		return "", reconcileerr.NewStalling(ReasonOrganizationNotFound,
			fmt.Errorf("%d Organizations use namespace %s; exactly one may", len(orgs), obj.GetNamespace()))
	case deleting && obj.GetLabels()[rosterv1.OrgLabel] != "":
		return obj.GetLabels()[rosterv1.OrgLabel], nil
	}
	return "", reconcileerr.New(ReasonOrganizationNotFound,
		fmt.Errorf("no Organization has spec.namespace %s", obj.GetNamespace()))
}

// statusPatch merge-patches an object's status at the end of a reconcile, from the copy taken
// when it was read. A merge patch carries only the fields that changed, so it never undoes a
// concurrent writer of other status fields (the SCIM server writes OrgTeam unresolved members).
type statusPatch struct{ base client.Object }

func newStatusPatch(obj client.Object) *statusPatch {
	return &statusPatch{base: obj.DeepCopyObject().(client.Object)}
}

// rebase takes obj as the new starting point, after a metadata write (the finalizer).
func (p *statusPatch) rebase(obj client.Object) { p.base = obj.DeepCopyObject().(client.Object) }

// apply writes what changed since the base, if anything.
func (p *statusPatch) apply(ctx context.Context, c client.Client, obj client.Object) error {
	// Nothing changed is the common case (a resync, a re-queued event): answered without
	// building the merge patch, which marshals both objects and decodes them again (~20 KB
	// allocated per team; docs/benchmarks.md, "At rest").
	if reflect.DeepEqual(p.base, obj) { // exact: equal objects make equal JSON
		return nil
	}
	patch := client.MergeFrom(p.base)
	data, err := patch.Data(obj)
	if err != nil || string(data) == "{}" {
		return err
	}
	// NotFound: the object went away once its finalizer was removed.
	return client.IgnoreNotFound(c.Status().Patch(ctx, obj, patch))
}

// ensureFinalizer adds Finalizer before anything is written to the store. The patch carries
// the resourceVersion, so it cannot drop a finalizer someone else adds meanwhile.
func ensureFinalizer(ctx context.Context, c client.Client, obj client.Object) error {
	if controllerutil.ContainsFinalizer(obj, Finalizer) {
		return nil
	}
	base := obj.DeepCopyObject().(client.Object)
	controllerutil.AddFinalizer(obj, Finalizer)
	return apiErr(c.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})), "adding the finalizer")
}

// removeFinalizer lets the apiserver delete the object, once its rows are gone.
func removeFinalizer(ctx context.Context, c client.Client, obj client.Object) error {
	if !controllerutil.ContainsFinalizer(obj, Finalizer) {
		return nil
	}
	base := obj.DeepCopyObject().(client.Object)
	controllerutil.RemoveFinalizer(obj, Finalizer)
	err := c.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
	return apiErr(client.IgnoreNotFound(err), "removing the finalizer")
}

// setSyncResult sets the Synced and Ready conditions from a reconcile's outcome; ok is the
// message of success. It returns the Synced condition as it was before, for events.
func setSyncResult(conds *[]metav1.Condition, generation int64, err error, ok string) (before *metav1.Condition) {
	if c := meta.FindStatusCondition(*conds, rosterv1.ConditionSynced); c != nil {
		before = c.DeepCopy()
	}
	synced := metav1.Condition{Type: rosterv1.ConditionSynced, Status: metav1.ConditionTrue, Reason: ReasonInStore,
		Message: ok, ObservedGeneration: generation}
	if err != nil {
		synced.Status, synced.Reason = metav1.ConditionFalse, reconcileerr.Reason(err, ReasonStoreError)
		synced.Message = truncate(err.Error(), 1024)
	}
	ready := synced
	ready.Type = rosterv1.ConditionReady
	meta.SetStatusCondition(conds, synced)
	meta.SetStatusCondition(conds, ready)
	return before
}

// isSynced reports whether an object's Synced condition c (nil: it has none) is true for its
// current generation.
func isSynced(c *metav1.Condition, generation int64) bool {
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == generation
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// storeControllerOptions are the options of the OrgUser and OrgTeam controllers. While the
// store is down every object fails: retries back off per object from 100ms to 30s, and all
// retries together are held to 20 per second, so an outage is not a hot loop. The store
// watcher re-queues everything as soon as the store answers again, so convergence does not
// wait for the longest back-off.
func storeControllerOptions() controller.Options {
	opts := controllerOptions()
	opts.MaxConcurrentReconciles = 4
	opts.RateLimiter = workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](100*time.Millisecond, 30*time.Second),
		&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(20), 200)},
	)
	return opts
}

// storePredicate lets through what can change an object's rows: spec changes (generation),
// the start of a deletion, a finalizer taken away, label changes, and the cache's periodic
// resync (an update whose resourceVersion did not move). Status-only writes, such as the
// controller's own and the SCIM server's, are skipped, and so is a finalizer added: the
// controllers add theirs in the reconcile that goes on to write the rows and the status, so
// the event of their own patch would only run every new object a second time — on a cache
// that may not show that status yet, writing it again (docs/benchmarks.md, "Memory").
func storePredicate() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld, e.ObjectNew
		return o.GetResourceVersion() == n.GetResourceVersion() ||
			o.GetGeneration() != n.GetGeneration() ||
			o.GetDeletionTimestamp().IsZero() != n.GetDeletionTimestamp().IsZero() ||
			finalizerRemoved(o.GetFinalizers(), n.GetFinalizers()) ||
			o.GetLabels()[rosterv1.OrgLabel] != n.GetLabels()[rosterv1.OrgLabel]
	}}
}

// finalizerRemoved reports whether a finalizer of before is missing from after.
func finalizerRemoved(before, after []string) bool {
	for _, f := range before {
		if !slices.Contains(after, f) {
			return true
		}
	}
	return false
}

// sample returns up to n ids for a message, with a count of the rest.
func sample(ids []string, n int) string {
	if len(ids) <= n {
		return fmt.Sprint(ids)
	}
	return fmt.Sprintf("%v and %d more", ids[:n], len(ids)-n)
}

// OutcomeLogger is the name of the logger of routine reconcile outcomes: the store writes that
// record no event. They are logged at debug with the object, as controller-runtime logs
// recorded events, so that `roster dev`'s console shows both the same way.
const OutcomeLogger = "outcome"

// logOutcome logs a routine reconcile outcome of obj (see OutcomeLogger).
func logOutcome(ctx context.Context, obj client.Object, kind, format string, args ...any) {
	logf.FromContext(ctx).WithName(OutcomeLogger).V(1).Info(fmt.Sprintf(format, args...), "type", corev1.EventTypeNormal,
		"object", corev1.ObjectReference{Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName()})
}
