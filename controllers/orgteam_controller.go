package controllers

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/identitystore"
	"github.com/rosterhq/roster/internal/index"
	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/metrics"
	"github.com/rosterhq/roster/internal/reconcileerr"
)

// OrgTeamReconciler writes each OrgTeam to the identity store (a roster_teams row) with its
// memberships: the union of the team's OrgTeamMemberSlices, counting only ids of existing
// OrgUsers. Memberships of SCIM-managed teams changed in the store by anyone else are put
// back; those of manual teams are written only when the team's members change in Kubernetes
// (docs/identity-store.md, "Manual teams").
type OrgTeamReconciler struct {
	client.Client
	Store    identitystore.Store
	Members  *membership.Store
	Recorder record.EventRecorder
	// Events, when set, feeds store notifications and periodic resyncs to this controller.
	Events *StoreWatcher

	// written holds, per team UID, the digest of the member set this process last wrote. It
	// is status.membersDigest without the cache's lag: a reconcile that follows a write at
	// once may still read the team without it.
	written sync.Map
	// cache is the manager's, where members are read in place (SetupWithManager).
	cache client.Reader
}

// +kubebuilder:rbac:groups=scim.roster.dev,resources=orgteams,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=scim.roster.dev,resources=orgteams/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=scim.roster.dev,resources=orgteams/finalizers,verbs=update
// +kubebuilder:rbac:groups=scim.roster.dev,resources=orgteammemberslices,verbs=get;list;watch;delete;deletecollection

// Reconcile syncs one OrgTeam and its memberships into the identity store.
func (r *OrgTeamReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	team := &rosterv1.OrgTeam{}
	if err := r.Get(ctx, req.NamespacedName, team); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	patch := newStatusPatch(team)
	defer func() { retErr = r.finish(ctx, team, patch, retErr) }()

	org, err := orgOf(ctx, r.Client, team, !team.DeletionTimestamp.IsZero())
	if err != nil {
		return ctrl.Result{}, err
	}
	if !team.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.reconcileDelete(ctx, org, team)
	}
	if err := ensureFinalizer(ctx, r.Client, team); err != nil {
		return ctrl.Result{}, err
	}
	patch.rebase(team)
	// The member count follows the slices even while the store is down.
	members, retry, err := r.countMembers(ctx, team)
	if err != nil {
		return ctrl.Result{}, err
	}
	created, err := r.reconcileRow(ctx, org, team)
	if err != nil {
		return ctrl.Result{}, err
	}
	if retry > 0 {
		// A membership change is in flight, or this cache is behind the apiserver: the store
		// gets the members once the change is whole.
		return ctrl.Result{RequeueAfter: retry}, nil
	}
	if err := r.reconcileMembers(ctx, org, team, members, created); err != nil {
		return ctrl.Result{}, err
	}
	next, err := r.deleteEmptySlices(ctx, team)
	return ctrl.Result{RequeueAfter: next}, err
}

// deleteEmptySlices removes the slices that membership changes emptied, once they have been
// empty long enough (membership.Store.DeleteEmpty); next is when to look again. Not during a
// break-glass edit: the empty slice for members added by hand stays.
func (r *OrgTeamReconciler) deleteEmptySlices(ctx context.Context, team *rosterv1.OrgTeam) (next time.Duration, err error) {
	if team.Spec.ManagedBy == rosterv1.ManagedBySCIM && membership.InBreakGlass(team.Annotations) {
		return 0, nil
	}
	var list rosterv1.OrgTeamMemberSliceList
	if err := index.SlicesOfTeam(team.Name).List(ctx, r, team.Namespace, &list, client.UnsafeDisableDeepCopy); err != nil {
		return 0, apiErr(err, "listing the team's member slices")
	}
	next, err = r.Members.DeleteEmpty(ctx, list.Items)
	return next, apiErr(err, "deleting empty member slices")
}

// countMembers sets status.memberCount and returns the members to write to the store: the
// ids in the team's slices that name an OrgUser which exists and is not being deleted.
//
// A SCIM team's slices are taken only when settled (membership.Store.Settled): no
// multi-slice change in flight, and the cache at the team's watermark — otherwise retry says
// when to look again and nothing is counted. Ids that name no user at all are pruned from its slices: ids
// derive from userNames, so such a leftover (a delete that raced a membership change) would
// make a re-created user of that userName a member again.
func (r *OrgTeamReconciler) countMembers(ctx context.Context, team *rosterv1.OrgTeam) (members []string, retry time.Duration, err error) {
	scim := team.Spec.ManagedBy == rosterv1.ManagedBySCIM
	held, wait, err := heldSlices(ctx, r.Client, r.Members, team, scim)
	if err != nil || wait > 0 {
		return nil, wait, err
	}
	all := membership.Members(held)
	team.Status.MemberCount = int32(len(all))
	out := make([]string, 0, len(all))
	var missing []string
	users := userReader(r.cache, r.Client)
	for id := range all {
		// The cached object itself: only its existence and deletion matter.
		u, err := users.Get(ctx, client.ObjectKey{Namespace: team.Namespace, Name: id})
		switch {
		case err == nil && u.GetDeletionTimestamp().IsZero():
			out = append(out, id)
		case apierrors.IsNotFound(err):
			missing = append(missing, id)
		case err != nil:
			return nil, 0, apiErr(err, "reading user %s", id)
		}
	}
	if scim && len(missing) > 0 {
		pruned, err := r.Members.Prune(ctx, team, missing)
		if err != nil {
			return nil, 0, apiErr(err, "pruning %d ids that are not users", len(missing))
		}
		if len(pruned) > 0 {
			sort.Strings(pruned)
			r.Recorder.Eventf(team, corev1.EventTypeNormal, EventMembersPruned,
				"Removed %d member ids that are no longer users of the organization: %s", len(pruned), sample(pruned, 5))
		}
	}
	slices.Sort(out)
	return out, 0, nil
}

// reconcileRow makes the team's row match the OrgTeam; created reports a new row.
func (r *OrgTeamReconciler) reconcileRow(ctx context.Context, org string, team *rosterv1.OrgTeam) (created bool, err error) {
	want := identitystore.Team{Org: org, ID: team.Name, DisplayName: team.Spec.DisplayName, ExternalID: team.Spec.ExternalID,
		Extensions: storeExtensions(team.Spec.Extensions)}
	if team.Spec.ManagedBy == rosterv1.ManagedBySCIM {
		want.ManagedBy = identitystore.ManagedBySCIM
	}
	got, err := r.Store.ObserveTeam(ctx, org, team.Name)
	switch {
	case identitystore.IsNotFound(err):
		if err := r.Store.CreateTeam(ctx, want); err != nil {
			return false, storeErr(err, "creating the team in the identity store")
		}
		logOutcome(ctx, team, "OrgTeam", "Created team %q in the identity store", want.DisplayName)
		return true, nil
	case err != nil:
		return false, storeErr(err, "reading the team from the identity store")
	case got.DisplayName != want.DisplayName || got.ExternalID != want.ExternalID || got.ManagedBy != want.ManagedBy ||
		!identitystore.SameJSON(got.Extensions, want.Extensions):
		if err := r.Store.CreateTeam(ctx, want); err != nil { // an upsert
			return false, storeErr(err, "updating the team in the identity store")
		}
		logOutcome(ctx, team, "OrgTeam", "Updated team %q in the identity store", want.DisplayName)
	}
	return false, nil
}

// reconcileMembers makes the store's memberships of the team equal to members, with one
// AddMembers and one RemoveMembers call at most.
//
// status.membersDigest is the member set last written. When members still match it, any
// difference in the store was made there, not in Kubernetes: it is drift, reverted (with an
// event) for SCIM-managed teams and left alone for manual teams.
func (r *OrgTeamReconciler) reconcileMembers(ctx context.Context, org string, team *rosterv1.OrgTeam, members []string, newRow bool) error {
	digest := membership.Digest(members)
	last := team.Status.MembersDigest
	if d, ok := r.written.Load(team.UID); ok {
		last = d.(string)
	}
	changedInKube := newRow || last != digest
	if !changedInKube && team.Spec.ManagedBy != rosterv1.ManagedBySCIM {
		return nil
	}
	observed, err := r.Store.ObserveMembers(ctx, org, team.Name)
	if err != nil {
		return storeErr(err, "reading the team's members from the identity store")
	}
	add, remove := diffSorted(members, observed)
	if len(add) > 0 {
		if err := r.Store.AddMembers(ctx, org, team.Name, add); err != nil {
			return storeErr(err, "adding %d members in the identity store", len(add))
		}
	}
	if len(remove) > 0 {
		if err := r.Store.RemoveMembers(ctx, org, team.Name, remove); err != nil {
			return storeErr(err, "removing %d members in the identity store", len(remove))
		}
	}
	team.Status.MembersDigest = digest
	r.written.Store(team.UID, digest)
	switch {
	case len(add)+len(remove) == 0:
	case !changedInKube:
		r.Recorder.Eventf(team, corev1.EventTypeWarning, EventDriftReverted,
			"Reverted a membership change made in the identity store, not through SCIM: removed %d added there %s, re-added %d removed there %s; change members in the identity provider",
			len(remove), sample(remove, 5), len(add), sample(add, 5))
	default:
		if len(add) > 0 {
			r.Recorder.Eventf(team, corev1.EventTypeNormal, EventMembersAdded, "Added %d members in the identity store: %s", len(add), sample(add, 5))
		}
		if len(remove) > 0 {
			r.Recorder.Eventf(team, corev1.EventTypeNormal, EventMembersRemoved, "Removed %d members in the identity store: %s", len(remove), sample(remove, 5))
		}
	}
	return nil
}

// reconcileDelete deletes the team's row, its memberships and its slices, then lets the
// object go.
func (r *OrgTeamReconciler) reconcileDelete(ctx context.Context, org string, team *rosterv1.OrgTeam) error {
	if err := r.Store.DeleteTeam(ctx, org, team.Name); err != nil {
		return storeErr(err, "deleting the team from the identity store")
	}
	if err := r.Members.DeleteAll(ctx, team); err != nil {
		return apiErr(err, "deleting the team's member slices")
	}
	r.Recorder.Eventf(team, corev1.EventTypeNormal, EventDeletedFromStore, "Deleted team %q and its memberships from the identity store", team.Spec.DisplayName)
	r.written.Delete(team.UID)
	return removeFinalizer(ctx, r.Client, team)
}

// finish sets the conditions from the outcome, patches the status and records a Warning event
// when the team starts failing for a new reason.
func (r *OrgTeamReconciler) finish(ctx context.Context, team *rosterv1.OrgTeam, patch *statusPatch, err error) error {
	before := setSyncResult(&team.Status.Conditions, team.Generation, err, "the team and its memberships are in the identity store")
	if err != nil {
		metrics.StoreSyncErrors.WithLabelValues("OrgTeam", reconcileerr.Reason(err, ReasonStoreError)).Inc()
	}
	if err == nil {
		team.Status.ObservedGeneration = team.Generation
	} else if before == nil || before.Reason != reconcileerr.Reason(err, ReasonStoreError) {
		r.Recorder.Event(team, corev1.EventTypeWarning, reconcileerr.Reason(err, ReasonStoreError), truncate(err.Error(), 1024))
	}
	if !team.DeletionTimestamp.IsZero() && err == nil {
		return nil // the object is gone
	}
	return reconcileerr.Result(errors.Join(err, apiErr(patch.apply(ctx, r.Client, team), "patching the status")))
}

// diffSorted returns what is in want but not in have, and what is in have but not in want.
// Both inputs are sorted bytewise (ObserveMembers' order).
func diffSorted(want, have []string) (add, remove []string) {
	i, j := 0, 0
	for i < len(want) || j < len(have) {
		switch {
		case j == len(have) || (i < len(want) && want[i] < have[j]):
			add = append(add, want[i])
			i++
		case i == len(want) || have[j] < want[i]:
			remove = append(remove, have[j])
			j++
		default:
			i++
			j++
		}
	}
	return add, remove
}

// SetupWithManager watches OrgTeams, their slices (mapped to the team), users appearing or
// going away (mapped to the teams whose slices list them), and store changes.
func (r *OrgTeamReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.cache = mgr.GetCache()
	sliceToTeam := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		sl := o.(*rosterv1.OrgTeamMemberSlice)
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: sl.Namespace, Name: sl.Spec.Team}}}
	})
	// A user counts as a member only while it exists; only its creation and deletion matter.
	userLifecycle := predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero()
	}}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("orgteam").
		For(&rosterv1.OrgTeam{}, builder.WithPredicates(storePredicate())).
		Watches(&rosterv1.OrgTeamMemberSlice{}, sliceToTeam).
		Watches(&rosterv1.OrgUser{}, handler.EnqueueRequestsFromMapFunc(r.teamsOfUser), builder.WithPredicates(userLifecycle)).
		WithOptions(storeControllerOptions())
	if r.Events != nil {
		b = b.WatchesRawSource(source.Channel(r.Events.teams, handler.TypedEnqueueRequestsFromMapFunc(r.requestsFor)))
	}
	return b.Complete(r)
}

// teamsOfUser maps a user to the teams whose slices list it.
func (r *OrgTeamReconciler) teamsOfUser(ctx context.Context, o client.Object) []reconcile.Request {
	var list rosterv1.OrgTeamMemberSliceList
	if err := index.SlicesWithMember(o.GetName()).List(ctx, r, o.GetNamespace(), &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []reconcile.Request
	for i := range list.Items {
		if t := list.Items[i].Spec.Team; !seen[t] {
			seen[t] = true
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: t}})
		}
	}
	return out
}

// requestsFor maps a store change to teams: one team, or all of them (Change{}).
func (r *OrgTeamReconciler) requestsFor(ctx context.Context, c identitystore.Change) []reconcile.Request {
	if !c.All() {
		var org rosterv1.Organization
		if err := r.Get(ctx, client.ObjectKey{Name: c.Org}, &org); err != nil {
			return nil // not an org of this cluster: nothing to put back
		}
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: org.Spec.Namespace, Name: c.TeamID}}}
	}
	var teams rosterv1.OrgTeamList
	if err := r.List(ctx, &teams, client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing teams to re-check")
		return nil
	}
	out := make([]reconcile.Request, len(teams.Items))
	for i := range teams.Items {
		out[i].Namespace, out[i].Name = teams.Items[i].Namespace, teams.Items[i].Name
	}
	return out
}

// heldSlices are a team's member slices: settled ones (membership.Store.Settled: no change
// of the team half-way) when settled is set, else the cache's as they are.
func heldSlices(ctx context.Context, c client.Reader, members *membership.Store, team *rosterv1.OrgTeam, settled bool) ([]rosterv1.OrgTeamMemberSlice, time.Duration, error) {
	if settled && members != nil {
		sl, wait, err := members.Settled(ctx, team)
		return sl, wait, apiErr(err, "reading the team's member slices")
	}
	var list rosterv1.OrgTeamMemberSliceList
	if err := index.SlicesOfTeam(team.Name).List(ctx, c, team.Namespace, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, 0, apiErr(err, "listing the team's member slices")
	}
	return list.Items, 0, nil
}
