// Package controllers holds Roster's reconcilers.
package controllers

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/cachescan"
	"github.com/rosterhq/roster/internal/identitystore"
	"github.com/rosterhq/roster/internal/identitystore/lazy"
	"github.com/rosterhq/roster/internal/index"
	"github.com/rosterhq/roster/internal/slimuser"
	"github.com/rosterhq/roster/internal/token"
)

// Reasons of the Organization's conditions and events.
const (
	ReasonTokenMissing     = "TokenMissing"
	ReasonTokenConfigured  = "TokenConfigured"
	ReasonNamespaceMissing = "NamespaceMissing"
	ReasonNamespaceShared  = "NamespaceShared"
	ReasonReady            = "Ready"
	ReasonTokenFresh       = "TokenFresh"
	ReasonTokenTooOld      = "TokenTooOld"
)

// ConditionTokenFresh is False when the SCIM token is older than TokenMaxAge: a warning that
// it is time to rotate, not an outage (Ready stays True).
const ConditionTokenFresh = "TokenFresh"

// OrganizationReconciler keeps an Organization's status true: user and team counts, when the
// token was rotated, whether SCIM can serve it (namespace and token present) and, with an
// identity store, whether its users and teams are in the store (the Synced condition).
type OrganizationReconciler struct {
	client.Client
	Recorder record.EventRecorder
	// TokenNamespace is Roster's namespace, where the token Secrets are (internal/token).
	TokenNamespace string
	// Store is the identity store; nil when Roster runs without one (no Synced condition).
	Store *lazy.Store
	// Events, when set, re-queues every Organization when the store's reachability changes.
	Events *StoreWatcher
	// TokenMaxAge is the age past which the TokenFresh condition warns (0: never).
	TokenMaxAge time.Duration
	// Now returns the current time; tests may replace it.
	Now func() time.Time
	// AllOrgs, when set, holds every Organization with the index.OrgNamespace index (nil:
	// the manager's cache). A shard's cache holds its own only, and NamespaceShared must see
	// another shard's Organization naming the same namespace (internal/shard.Organizations).
	AllOrgs cache.Cache
	// Cache is the manager's cache, whose users and teams are counted in place
	// (internal/cachescan); nil: set by SetupWithManager (a reconciler built without it
	// lists them through Client).
	Cache cache.Cache
	// Shard, when set, tells which organizations this replica serves: one labelled into the
	// shard after it started is left to the replica that restarts for it (its namespace is
	// not cached here yet).
	Shard Sharding

	// last is when each organization's status was last computed; see debounce.
	mu   sync.Mutex
	last map[string]time.Time
}

// statusInterval is the least time between two computations of one organization's status.
// Every user and team event maps to its organization, and counting walks all of them: during
// a bulk load (Okta's first push) recomputing on each event would cost O(users²).
const statusInterval = 2 * time.Second

// debounce returns how long to wait before the org's status may be computed again, and
// records the computation when it may happen now.
func (r *OrganizationReconciler) debounce(org string) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.last == nil {
		r.last = map[string]time.Time{}
	}
	if since := now.Sub(r.last[org]); since < statusInterval {
		return statusInterval - since
	}
	r.last[org] = now
	return 0
}

// +kubebuilder:rbac:groups=scim.roster.dev,resources=organizations,verbs=get;list;watch
// +kubebuilder:rbac:groups=scim.roster.dev,resources=organizations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=scim.roster.dev,resources=orgusers;orgteams;orgteammemberslices,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=scim.roster.dev,resources=orgusers/status;orgteams/status,verbs=get;update;patch
// Token Secrets are read in Roster's namespace only (config/rbac/token_secret_role.yaml).
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile computes the Organization's status.
func (r *OrganizationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var org rosterv1.Organization
	if err := r.Get(ctx, req.NamespacedName, &org); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if r.Shard != nil && !r.Shard.Serves(&org) {
		return ctrl.Result{}, nil
	}
	if wait := r.debounce(org.Name); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	base := org.DeepCopy()
	before := &base.Status

	var releaseRetry time.Duration
	if org.SCIMDisabled() {
		retry, err := r.releaseTeams(ctx, &org)
		if err != nil {
			return ctrl.Result{}, err
		}
		if retry {
			releaseRetry = statusInterval
		}
	}

	tally, err := r.countMembers(ctx, &org)
	if err != nil {
		return ctrl.Result{}, err
	}
	r.observeStore(&org, tally)
	tokenOK, err := r.observeToken(ctx, &org)
	if err != nil {
		return ctrl.Result{}, err
	}
	recheck := r.observeTokenAge(&org, before)
	nsOK, err := r.namespaceExists(ctx, &org)
	if err != nil {
		return ctrl.Result{}, err
	}
	sharedWith, err := r.namespaceSharedWith(ctx, &org)
	if err != nil {
		return ctrl.Result{}, err
	}
	ready := metav1.Condition{Type: rosterv1.ConditionReady, Status: metav1.ConditionTrue, Reason: ReasonReady,
		Message: "SCIM is served at /scim/v2/" + org.Name}
	switch {
	case sharedWith != "":
		ready.Status, ready.Reason = metav1.ConditionFalse, ReasonNamespaceShared
		ready.Message = fmt.Sprintf("namespace %q is also used by organization %q; SCIM refuses both until each has its own namespace (create a new Organization with another spec.namespace)", org.Spec.Namespace, sharedWith)
	case !nsOK:
		ready.Status, ready.Reason = metav1.ConditionFalse, ReasonNamespaceMissing
		ready.Message = fmt.Sprintf("namespace %q does not exist: create it (kubectl create namespace %s); it holds the org's users, teams and token", org.Spec.Namespace, org.Spec.Namespace)
	case org.SCIMDisabled():
		ready.Status, ready.Reason = metav1.ConditionFalse, ReasonSCIMDisabled
		ready.Message = fmt.Sprintf("SCIM is disabled (spec.scim: Disabled): /scim/v2/%s answers 403 and the org's teams are managed by hand; set spec.scim: Enabled to serve the identity provider again", org.Name)
	case !tokenOK:
		ready.Status, ready.Reason = metav1.ConditionFalse, ReasonTokenMissing
		ready.Message = fmt.Sprintf("no SCIM token yet: run `roster token rotate --org %s`", org.Name)
	}
	ready.ObservedGeneration = org.Generation
	meta.SetStatusCondition(&org.Status.Conditions, ready)
	org.Status.ObservedGeneration = org.Generation

	if releaseRetry > 0 && (recheck == 0 || releaseRetry < recheck) {
		recheck = releaseRetry
	}
	if equalStatus(before, &org.Status) {
		return ctrl.Result{RequeueAfter: recheck}, nil
	}
	// A merge patch of status: no conflict with concurrent writers of other fields.
	return ctrl.Result{RequeueAfter: recheck}, r.Status().Patch(ctx, &org, client.MergeFrom(base))
}

// namespaceSharedWith names another organization that uses the same namespace, if any.
func (r *OrganizationReconciler) namespaceSharedWith(ctx context.Context, org *rosterv1.Organization) (string, error) {
	names, err := r.orgNamesUsing(ctx, org.Spec.Namespace)
	for _, n := range names {
		if n != org.Name {
			return n, err
		}
	}
	return "", err
}

// namespaceExists reports whether the org's namespace exists.
func (r *OrganizationReconciler) namespaceExists(ctx context.Context, org *rosterv1.Organization) (bool, error) {
	var ns corev1.Namespace
	err := r.Get(ctx, types.NamespacedName{Name: org.Spec.Namespace}, &ns)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// observeTokenAge sets TokenFresh from TokenRotatedAt, emits a warning event when the token
// turns too old, and returns when to look again so the condition flips on time.
func (r *OrganizationReconciler) observeTokenAge(org *rosterv1.Organization, before *rosterv1.OrganizationStatus) time.Duration {
	at := org.Status.TokenRotatedAt
	if r.TokenMaxAge <= 0 || at == nil {
		meta.RemoveStatusCondition(&org.Status.Conditions, ConditionTokenFresh)
		return 0
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	age := now().Sub(at.Time)
	cond := metav1.Condition{Type: ConditionTokenFresh, ObservedGeneration: org.Generation}
	if age < r.TokenMaxAge {
		cond.Status, cond.Reason = metav1.ConditionTrue, ReasonTokenFresh
		cond.Message = fmt.Sprintf("the SCIM token was rotated %s ago; rotation is due after %s", age.Round(time.Hour), r.TokenMaxAge)
		meta.SetStatusCondition(&org.Status.Conditions, cond)
		return r.TokenMaxAge - age + time.Second
	}
	cond.Status, cond.Reason = metav1.ConditionFalse, ReasonTokenTooOld
	cond.Message = fmt.Sprintf("the SCIM token was rotated %s ago, more than the allowed %s: run `roster token rotate --org %s --grace 1h` and paste the new token into the identity provider",
		age.Round(time.Hour), r.TokenMaxAge, org.Name)
	if old := meta.FindStatusCondition(before.Conditions, ConditionTokenFresh); old == nil || old.Status != metav1.ConditionFalse {
		r.Recorder.Event(org, corev1.EventTypeWarning, ReasonTokenTooOld, cond.Message)
	}
	meta.SetStatusCondition(&org.Status.Conditions, cond)
	return 0
}

// storeTally counts the users and teams that are (not) in the identity store.
type storeTally struct {
	syncedUsers, syncedTeams int32
	// failing names one object whose Synced condition is False, with its reason.
	failing string
	failed  int
}

func (t *storeTally) add(kind, name string, conds []metav1.Condition, generation int64, synced *int32) {
	t.addSynced(kind, name, meta.FindStatusCondition(conds, rosterv1.ConditionSynced), generation, synced)
}

// addSynced is add of an object's Synced condition c (nil: it has none).
func (t *storeTally) addSynced(kind, name string, c *metav1.Condition, generation int64, synced *int32) {
	if isSynced(c, generation) {
		*synced++
		return
	}
	if c != nil && c.Status == metav1.ConditionFalse {
		t.failed++
		if t.failing == "" {
			t.failing = fmt.Sprintf("%s %s: %s: %s", kind, name, c.Reason, truncate(c.Message, 300))
		}
	}
}

// countMembers sets the user and team counts from the cache, and tallies their store state.
// It walks the cached objects in place (internal/cachescan): an org of 100,000 users is
// counted without copying them, on every user or team event of the org.
func (r *OrganizationReconciler) countMembers(ctx context.Context, org *rosterv1.Organization) (storeTally, error) {
	var tally storeTally
	var users, active, teams int32
	reader := client.Reader(r.Client)
	if r.Cache != nil {
		reader = r.Cache
	}
	// Users are read in the cache's compact form: active and the Synced condition without a
	// decode (internal/slimuser).
	err := slimuser.Each(ctx, reader, org.Spec.Namespace, func(u *slimuser.User) {
		users++
		if u.Active() {
			active++
		}
		var synced *metav1.Condition // on the stack: addSynced keeps nothing of it
		if c, ok := u.Condition(rosterv1.ConditionSynced); ok {
			synced = &c
		}
		tally.addSynced("OrgUser", u.GetName(), synced, u.GetGeneration(), &tally.syncedUsers)
	})
	if err != nil {
		return tally, err
	}
	err = cachescan.Each(ctx, reader, &rosterv1.OrgTeamList{}, org.Spec.Namespace, func(t *rosterv1.OrgTeam) {
		teams++
		tally.add("OrgTeam", t.Name, t.Status.Conditions, t.Generation, &tally.syncedTeams)
	})
	if err != nil {
		return tally, err
	}
	org.Status.Users, org.Status.ActiveUsers, org.Status.Teams = users, active, teams
	return tally, nil
}

// observeStore sets the Synced condition: whether the store is reachable and holds every
// user and team of the organization.
func (r *OrganizationReconciler) observeStore(org *rosterv1.Organization, t storeTally) {
	if r.Store == nil {
		return
	}
	st := org.Status
	cond := metav1.Condition{Type: rosterv1.ConditionSynced, ObservedGeneration: org.Generation, Status: metav1.ConditionFalse}
	counts := fmt.Sprintf("%d of %d users and %d of %d teams are in the identity store", t.syncedUsers, st.Users, t.syncedTeams, st.Teams)
	switch h := r.Store.Health(); {
	case h.Known && !h.Available:
		cond.Reason = ReasonStoreUnavailable
		cond.Message = fmt.Sprintf("the identity store is unreachable since %s (SCIM keeps accepting changes; they are written when it is back): %s; %s",
			h.Since.UTC().Format(time.RFC3339), truncate(h.Err.Error(), 300), counts)
	case t.syncedUsers == st.Users && t.syncedTeams == st.Teams:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionTrue, ReasonInStore, counts
	case t.failed > 0:
		cond.Reason = ReasonSyncFailed
		cond.Message = fmt.Sprintf("%s; %d failing, e.g. %s", counts, t.failed, t.failing)
	default:
		cond.Reason, cond.Message = ReasonSyncPending, counts
	}
	meta.SetStatusCondition(&org.Status.Conditions, cond)
}

// observeToken sets TokenConfigured and TokenRotatedAt from the token Secret.
func (r *OrganizationReconciler) observeToken(ctx context.Context, org *rosterv1.Organization) (bool, error) {
	var secret corev1.Secret
	key := token.SecretKey(r.TokenNamespace, org.Name)
	err := r.Get(ctx, key, &secret)
	if err != nil && !apierrors.IsNotFound(err) {
		return false, err
	}
	cond := metav1.Condition{Type: rosterv1.ConditionTokenConfigured, ObservedGeneration: org.Generation}
	if err == nil && token.Configured(&secret) && token.ForOrg(&secret, org.Name) {
		cond.Status, cond.Reason, cond.Message = metav1.ConditionTrue, ReasonTokenConfigured, "the token Secret holds a token hash"
		if at, ok := token.RotatedAt(&secret); ok {
			t := metav1.NewTime(at)
			org.Status.TokenRotatedAt = &t
		}
	} else {
		cond.Status, cond.Reason = metav1.ConditionFalse, ReasonTokenMissing
		cond.Message = fmt.Sprintf("Secret %s holds no token hash for this organization: run `roster token rotate --org %s`"+
			" (after an upgrade from an install that kept it in the organization's namespace: `roster token migrate`)", key, org.Name)
	}
	meta.SetStatusCondition(&org.Status.Conditions, cond)
	return cond.Status == metav1.ConditionTrue, nil
}

func equalStatus(a, b *rosterv1.OrganizationStatus) bool {
	if a.Users != b.Users || a.ActiveUsers != b.ActiveUsers || a.Teams != b.Teams || a.ObservedGeneration != b.ObservedGeneration {
		return false
	}
	if (a.TokenRotatedAt == nil) != (b.TokenRotatedAt == nil) || (a.TokenRotatedAt != nil && !a.TokenRotatedAt.Equal(b.TokenRotatedAt)) {
		return false
	}
	if len(a.Conditions) != len(b.Conditions) {
		return false
	}
	for i := range a.Conditions {
		x, y := a.Conditions[i], b.Conditions[i]
		if x.Type != y.Type || x.Status != y.Status || x.Reason != y.Reason || x.Message != y.Message || x.ObservedGeneration != y.ObservedGeneration {
			return false
		}
	}
	return true
}

// teamTallyChanged passes the team events that can change what the org's status shows of
// its teams: creates and deletes, and updates that move the generation, the Synced condition,
// the deletion or the org label. A membership change writes the team's annotations (its
// change marks) twice, and each would otherwise recount every user of the org — at 100,000
// users 0.13 s of CPU, in the middle of the PUT that made it.
var teamTallyChanged = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	o, okOld := e.ObjectOld.(*rosterv1.OrgTeam)
	n, okNew := e.ObjectNew.(*rosterv1.OrgTeam)
	if !okOld || !okNew {
		return true
	}
	return o.Generation != n.Generation ||
		!o.DeletionTimestamp.Equal(n.DeletionTimestamp) ||
		o.Labels[rosterv1.OrgLabel] != n.Labels[rosterv1.OrgLabel] ||
		!reflect.DeepEqual(meta.FindStatusCondition(o.Status.Conditions, rosterv1.ConditionSynced),
			meta.FindStatusCondition(n.Status.Conditions, rosterv1.ConditionSynced))
}}

// orgNamespaceChanged passes the Organization events that can change another org's Ready:
// creates and deletes, and updates that move spec.namespace or the deletion. Why: every
// status patch of an org came back through this watch and recounted the org 2 s later
// (debounce) — at 100,000 users 0.14 s of CPU for nothing, after every change of its counts.
var orgNamespaceChanged = predicate.TypedFuncs[client.Object]{UpdateFunc: func(e event.TypedUpdateEvent[client.Object]) bool {
	o, okOld := e.ObjectOld.(*rosterv1.Organization)
	n, okNew := e.ObjectNew.(*rosterv1.Organization)
	if !okOld || !okNew {
		return true
	}
	return o.Spec.Namespace != n.Spec.Namespace || !o.DeletionTimestamp.Equal(n.DeletionTimestamp)
}}

// SetupWithManager watches Organizations and, mapped to their org, users, teams and token
// Secrets, so counts and token state follow within seconds.
func (r *OrganizationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Cache == nil {
		r.Cache = mgr.GetCache()
	}
	labelledOrg := func(_ context.Context, o client.Object) []reconcile.Request {
		if org := o.GetLabels()[rosterv1.OrgLabel]; org != "" {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: org}}}
		}
		return nil
	}
	toOrg := handler.EnqueueRequestsFromMapFunc(labelledOrg)
	// Users and teams count for the orgs whose namespace holds them (countMembers), labelled
	// or not: one created by hand may lack the org label. The label, which Roster's own
	// objects carry, names that org without a lookup (an indexed List of the orgs per event
	// would copy them at every one of a first push's ~300,000 user events).
	toCountingOrgs := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		if reqs := labelledOrg(ctx, o); reqs != nil {
			return reqs
		}
		return r.orgsUsing(ctx, o.GetNamespace())
	})
	// Counts change on create and delete, active flips change ActiveUsers, and Synced
	// conditions of users and teams change the org's Synced: every event counts.
	b := ctrl.NewControllerManagedBy(mgr).
		For(&rosterv1.Organization{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&rosterv1.OrgUser{}, toCountingOrgs).
		Watches(&rosterv1.OrgTeam{}, toCountingOrgs, builder.WithPredicates(teamTallyChanged)).
		Watches(&corev1.Secret{}, toOrg).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, ns client.Object) []reconcile.Request {
			return r.orgsUsing(ctx, ns.GetName())
		})).
		WithOptions(controllerOptions())
	// Another org naming the same namespace changes this one's Ready, whatever its shard.
	b = b.WatchesRawSource(source.Kind(r.everyOrg(mgr), client.Object(&rosterv1.Organization{}),
		handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return r.orgsUsing(ctx, o.(*rosterv1.Organization).Spec.Namespace)
		}), orgNamespaceChanged))
	if r.Events != nil {
		b = b.WatchesRawSource(source.Channel(r.Events.orgs, handler.TypedEnqueueRequestsFromMapFunc(r.allOrgs)))
	}
	return b.Complete(r)
}

// orgsUsing maps a namespace to the organizations that keep their objects in it.
func (r *OrganizationReconciler) orgsUsing(ctx context.Context, namespace string) []reconcile.Request {
	names, _ := r.orgNamesUsing(ctx, namespace)
	out := make([]reconcile.Request, len(names))
	for i, n := range names {
		out[i].Name = n
	}
	return out
}

// everyOrg returns the cache holding every Organization, and sets AllOrgs to it.
func (r *OrganizationReconciler) everyOrg(mgr ctrl.Manager) cache.Cache {
	if r.AllOrgs == nil {
		r.AllOrgs = mgr.GetCache()
	}
	return r.AllOrgs
}

// orgNamesUsing lists the organizations whose spec.namespace is namespace, through the index
// of every Organization.
func (r *OrganizationReconciler) orgNamesUsing(ctx context.Context, namespace string) ([]string, error) {
	var every client.Reader = r.Client
	if r.AllOrgs != nil {
		every = r.AllOrgs
	}
	orgs, err := index.OrgsUsingNamespace(ctx, every, namespace)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(orgs))
	for i := range orgs {
		names[i] = orgs[i].Name
	}
	return names, nil
}

// allOrgs maps a change of the store's reachability to every Organization.
func (r *OrganizationReconciler) allOrgs(ctx context.Context, _ identitystore.Change) []reconcile.Request {
	var orgs rosterv1.OrganizationList
	if err := r.List(ctx, &orgs, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	out := make([]reconcile.Request, len(orgs.Items))
	for i := range orgs.Items {
		out[i].Name = orgs.Items[i].Name
	}
	return out
}

// controllerOptions are the options of every Roster controller. Name validation is skipped
// because tests run several managers (replicas) in one process.
func controllerOptions() controller.Options {
	skip := true
	return controller.Options{MaxConcurrentReconciles: 2, SkipNameValidation: &skip}
}
