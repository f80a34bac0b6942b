package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/access"
	"github.com/rosterhq/roster/internal/index"
	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/reconcileerr"
)

// BindingFinalizer is on every TeamRoleBinding and ClusterTeamRoleBinding: its rendered
// bindings are deleted before it goes. ownerReferences would do that for the RoleBindings in
// a TeamRoleBinding's own namespace only (an owner in another namespace is invalid), and only
// where a garbage collector runs; the finalizer covers every namespace, and does not wait for
// the collector.
const BindingFinalizer = "scim.roster.dev/rendered-bindings"

// Reasons of a TeamRoleBinding's Ready condition; each failure is also a Warning event.
const (
	// ReasonRendered: the rendered bindings match the team.
	ReasonRendered = "Rendered"
	// ReasonTeamNotFound: no OrgTeam of the organization has the id or display name.
	ReasonTeamNotFound = "TeamNotFound"
	// ReasonRoleNotFound: the Role or ClusterRole does not exist (in some namespaces).
	ReasonRoleNotFound = "RoleNotFound"
	// ReasonRoleNotAllowed: the organization's spec.access.allowedRoles does not list it.
	ReasonRoleNotAllowed = "RoleNotAllowed"
	// ReasonRoleNotBindable: Roster's install does not grant it the bind verb on the role.
	ReasonRoleNotBindable = "RoleNotBindable"
	// ReasonTeamNotSCIM: the team named by id is a manual team. Only teams the identity
	// provider pushes (managedBy: scim) grant access: a manual team's name and members are
	// whatever a namespace editor writes.
	ReasonTeamNotSCIM = "TeamNotSCIM"
	// ReasonReservedSubject: a subject's name (prefix included) starts with "system:", the
	// prefix Kubernetes reserves for its own users and groups (system:authenticated,
	// system:masters, …); it is never rendered.
	ReasonReservedSubject = "ReservedSubject"
	// ReasonNameConflict: an object that Roster did not render has a rendered object's name;
	// Roster leaves it alone and binds nothing in its place.
	ReasonNameConflict = "NameConflict"
)

// Rendered bindings are written and read by Roster, and only Roster: the webhook keeps them.
// Roles and ClusterRoles are watched (metadata only) so a role created later is bound at once.
// bind is granted by the install on named roles only (config/rbac/bindable_roles.yaml).
// +kubebuilder:rbac:groups=scim.roster.dev,resources=teamrolebindings;clusterteamrolebindings,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=scim.roster.dev,resources=teamrolebindings/status;clusterteamrolebindings/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=scim.roster.dev,resources=teamrolebindings/finalizers;clusterteamrolebindings/finalizers,verbs=update
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=rolebindings;clusterrolebindings,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;clusterroles,verbs=get;list;watch
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=selfsubjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// AccessReconciler renders TeamRoleBindings and ClusterTeamRoleBindings into RoleBindings and
// ClusterRoleBindings and keeps them exact: members removed, users deactivated, teams deleted
// or renamed, namespaces relabelled and access settings changed show in the bindings within a
// watch round trip; objects changed by anyone else are rewritten.
//
// It decides from the manager's cache. A cache a moment behind the apiserver can make one
// write name a member who was just removed; the event that removal produces is already on its
// way and queues this binding again, so the next reconcile (milliseconds later) takes the
// member out. The window is that of a watch round trip, never a resync. SCIM teams are read
// only once settled (membership.Store.Settled): a multi-slice change in flight is waited for,
// so a member moving between slices is never dropped for a moment.
type AccessReconciler struct {
	client.Client
	// APIReader lists rendered objects live when a binding is deleted: nothing looks again
	// after its finalizer goes, so an object the cache has not seen yet must not be missed.
	APIReader client.Reader
	Members   *membership.Store
	Recorder  record.EventRecorder
	// Shard, when set, tells the organizations this replica's controllers act for
	// (internal/shard; a nil *shard.Shard serves all). Another shard's organization, one
	// relabelled away included, is left untouched: not revoked, no status written.
	Shard Sharding

	// cache is the manager's, where members are read in place (SetupWithManager).
	cache client.Reader
}

// Sharding tells which organizations a replica serves (internal/shard.Shard).
type Sharding interface {
	// Serves reports whether the replica serves org, as it is now.
	Serves(org *rosterv1.Organization) bool
	// ServesName reports whether the organization called name was selected at start.
	ServesName(name string) bool
}

// errNotServed: the binding's organization exists but another shard serves it. It is never
// a reason to revoke: "no longer selected by me" is not "gone".
var errNotServed = errors.New("the organization is served by another shard")

// serves reports whether this replica serves org (every org when unsharded).
func (r *AccessReconciler) serves(org *rosterv1.Organization) bool {
	return r.Shard == nil || r.Shard.Serves(org)
}

// binding is either kind seen through what rendering needs.
type binding struct {
	obj    client.Object
	kind   string
	org    string // ClusterTeamRoleBinding: spec.organization; TeamRoleBinding: resolved
	team   rosterv1.TeamRef
	role   rosterv1.RoleRef
	ns     *rosterv1.NamespaceSelection
	status *rosterv1.TeamRoleBindingStatus
	// requeue: the reconcile only pruned (the team was not settled); the status stays.
	requeue bool
}

func teamRoleBinding(b *rosterv1.TeamRoleBinding) *binding {
	return &binding{obj: b, kind: rosterv1.KindTeamRoleBinding, team: b.Spec.Team, role: b.Spec.RoleRef,
		ns: b.Spec.Namespaces, status: &b.Status}
}

func clusterTeamRoleBinding(b *rosterv1.ClusterTeamRoleBinding) *binding {
	return &binding{obj: b, kind: rosterv1.KindClusterTeamRoleBinding, org: b.Spec.Organization, team: b.Spec.Team,
		role: b.Spec.RoleRef, ns: b.Spec.Namespaces, status: &b.Status}
}

// refersTo reports whether the binding names the team.
func (b *binding) refersTo(team *rosterv1.OrgTeam) bool {
	if b.team.ID != "" {
		return b.team.ID == team.Name
	}
	return naming.Fold(b.team.DisplayName) == naming.Fold(team.Spec.DisplayName)
}

// selector of every object rendered from the binding: by its UID, which needs neither its
// organization (it may be gone) nor its name (another organization's binding may share it).
func (b *binding) selector() client.MatchingLabels {
	return client.MatchingLabels{rosterv1.BindingKindLabel: b.kind, rosterv1.BindingUIDLabel: string(b.obj.GetUID())}
}

// legacySelector finds what Roster rendered before objects carried BindingUIDLabel: by kind,
// name and organization (known), among objects without that label.
func (b *binding) legacySelector() (client.ListOption, bool) {
	if b.org == "" {
		return nil, false
	}
	noUID, err := labels.NewRequirement(rosterv1.BindingUIDLabel, selection.DoesNotExist, nil)
	if err != nil {
		panic(err)
	}
	sel := labels.SelectorFromSet(labels.Set{rosterv1.BindingKindLabel: b.kind, rosterv1.BindingLabel: b.obj.GetName(), rosterv1.OrgLabel: b.org}).Add(*noUID)
	return client.MatchingLabelsSelector{Selector: sel}, true
}

// renderedBy lists the objects rendered from the binding through reader (the cache, or the
// apiserver), the ones from before BindingUIDLabel included.
func (r *AccessReconciler) renderedBy(ctx context.Context, reader client.Reader, b *binding) ([]client.Object, error) {
	sels := []client.ListOption{b.selector()}
	if legacy, ok := b.legacySelector(); ok {
		sels = append(sels, legacy)
	}
	var out []client.Object
	for _, sel := range sels {
		var rbs rbacv1.RoleBindingList
		if err := reader.List(ctx, &rbs, sel); err != nil {
			return nil, apiErr(err, "listing rendered RoleBindings")
		}
		for i := range rbs.Items {
			out = append(out, &rbs.Items[i])
		}
		if b.kind == rosterv1.KindClusterTeamRoleBinding {
			var crbs rbacv1.ClusterRoleBindingList
			if err := reader.List(ctx, &crbs, sel); err != nil {
				return nil, apiErr(err, "listing rendered ClusterRoleBindings")
			}
			for i := range crbs.Items {
				out = append(out, &crbs.Items[i])
			}
		}
	}
	return out, nil
}

// reconcile renders one binding.
func (r *AccessReconciler) reconcile(ctx context.Context, b *binding) (result ctrl.Result, retErr error) {
	patch := newStatusPatch(b.obj)
	if !b.obj.GetDeletionTimestamp().IsZero() {
		return ctrl.Result{}, r.reconcileDelete(ctx, b)
	}
	// Decided before the finalizer and the status: another shard's binding gets neither.
	org, orgErr := r.organization(ctx, b)
	if errors.Is(orgErr, errNotServed) {
		return ctrl.Result{}, nil
	}
	if !controllerutil.ContainsFinalizer(b.obj, BindingFinalizer) {
		base := b.obj.DeepCopyObject().(client.Object)
		controllerutil.AddFinalizer(b.obj, BindingFinalizer)
		if err := r.Patch(ctx, b.obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			return ctrl.Result{}, apiErr(err, "adding the finalizer")
		}
		patch.rebase(b.obj)
	}
	defer func() { retErr = r.finish(ctx, b, patch, retErr) }()

	if orgErr != nil {
		return ctrl.Result{}, r.revoke(ctx, b, orgErr)
	}
	b.org = org.Name
	want, retry, err := r.desired(ctx, b, org)
	if retry > 0 {
		// The team's members are changing: nothing is added until they settle, but whoever
		// must lose access loses it now. Ready and observedGeneration wait for a render.
		b.requeue = true
		return ctrl.Result{RequeueAfter: retry}, r.prune(ctx, b, org)
	}
	if err != nil && want == nil {
		return ctrl.Result{}, r.revoke(ctx, b, err)
	}
	// With err set here, some namespaces lack the Role: the others are rendered all the same.
	if werr := r.apply(ctx, b, want); werr != nil {
		return ctrl.Result{}, werr
	}
	return ctrl.Result{}, err
}

// revoke deletes every rendered object when the binding cannot be resolved (team, role or
// organization gone, role not allowed): no stale grant outlives what it was granted from.
// API errors change nothing: they are retried.
func (r *AccessReconciler) revoke(ctx context.Context, b *binding, cause error) error {
	if reconcileerr.Reason(cause, ReasonAPIError) == ReasonAPIError {
		return cause
	}
	if b.org == "" {
		b.org = b.obj.GetLabels()[rosterv1.OrgLabel]
	}
	if err := r.apply(ctx, b, nil); err != nil {
		return errors.Join(cause, err)
	}
	b.status.Subjects, b.status.Team = 0, ""
	return cause
}

// reconcileDelete deletes the rendered objects, then lets the binding go.
func (r *AccessReconciler) reconcileDelete(ctx context.Context, b *binding) error {
	if !controllerutil.ContainsFinalizer(b.obj, BindingFinalizer) {
		return nil
	}
	org, err := r.organization(ctx, b)
	switch {
	case errors.Is(err, errNotServed):
		return nil // its organization's shard deletes it
	case err == nil:
		b.org = org.Name
	case reconcileerr.Reason(err, ReasonAPIError) == ReasonAPIError:
		return err
	}
	// The organization is gone (or unresolvable): any shard's leader may finish the delete,
	// which reads live.
	if err := r.deleteAll(ctx, b); err != nil {
		return err
	}
	base := b.obj.DeepCopyObject().(client.Object)
	controllerutil.RemoveFinalizer(b.obj, BindingFinalizer)
	err = r.Patch(ctx, b.obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
	return apiErr(client.IgnoreNotFound(err), "removing the finalizer")
}

// organization returns the binding's Organization, or errNotServed when another shard
// serves it. The cache holds only this shard's Organizations: one missing from it may be
// gone, relabelled to another shard, or not cached yet, so a miss is confirmed live before it
// counts as gone (OrganizationNotFound, which revokes).
func (r *AccessReconciler) organization(ctx context.Context, b *binding) (*rosterv1.Organization, error) {
	if b.kind == rosterv1.KindTeamRoleBinding {
		name, err := orgOf(ctx, r.Client, b.obj, false)
		if reconcileerr.Reason(err, "") != ReasonOrganizationNotFound {
			if err != nil {
				return nil, err
			}
			return r.organizationNamed(ctx, name)
		}
		// No cached Organization uses the namespace: ask the apiserver.
		orgs, lerr := r.liveOrgsUsing(ctx, b.obj.GetNamespace())
		switch {
		case lerr != nil:
			return nil, lerr
		case len(orgs) == 1 && !r.serves(&orgs[0]):
			return nil, errNotServed
		case len(orgs) == 1:
			return nil, apiErr(errors.New("not in the cache yet"), "reading the organization of namespace %s", b.obj.GetNamespace())
		}
		return nil, err
	}
	deleting := !b.obj.GetDeletionTimestamp().IsZero()
	if r.Shard != nil && !r.Shard.ServesName(b.org) && !deleting {
		// Not selected at start: another shard's, or one this replica restarts for. No read.
		return nil, errNotServed
	}
	org, err := r.organizationNamed(ctx, b.org)
	if err == nil || reconcileerr.Reason(err, "") != ReasonOrganizationNotFound {
		return org, err
	}
	// Gone for good (confirmed live): any shard's leader may finish deleting the binding, as
	// no shard serves a deleted organization.
	return nil, err
}

// organizationNamed reads the Organization called name from the cache, and live when the
// cache has no such Organization.
func (r *AccessReconciler) organizationNamed(ctx context.Context, name string) (*rosterv1.Organization, error) {
	org := &rosterv1.Organization{}
	err := r.Get(ctx, client.ObjectKey{Name: name}, org)
	if err == nil {
		if !r.serves(org) {
			return nil, errNotServed // labelled into this shard after it started
		}
		return org, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, apiErr(err, "reading organization %q", name)
	}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Name: name}, org); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, reconcileerr.NewStalling(ReasonOrganizationNotFound, fmt.Errorf("organization %q does not exist", name))
		}
		return nil, apiErr(err, "reading organization %q", name)
	}
	if !r.serves(org) {
		return nil, errNotServed
	}
	// Ours, and not cached yet: retried, nothing revoked.
	return nil, apiErr(errors.New("not in the cache yet"), "reading organization %q", name)
}

// liveOrgsUsing lists, live, the Organizations whose spec.namespace is namespace. The cache's
// index cannot say: it holds this shard's Organizations only.
func (r *AccessReconciler) liveOrgsUsing(ctx context.Context, namespace string) ([]rosterv1.Organization, error) {
	var list rosterv1.OrganizationList
	if err := r.APIReader.List(ctx, &list); err != nil {
		return nil, apiErr(err, "listing organizations")
	}
	var out []rosterv1.Organization
	for _, o := range list.Items {
		if o.Spec.Namespace == namespace {
			out = append(out, o)
		}
	}
	return out, nil
}

// target is where rendered objects go: a namespace, or "" for one ClusterRoleBinding.
type target = string

// rendering is what a binding should look like: its subjects in every target.
type rendering struct {
	teamObj  string // the OrgTeam's object name, for the team label
	teamName string
	subjects []rbacv1.Subject
	targets  []target
}

// desired resolves the organization's access settings, the role, the team, its subjects and
// the namespaces. A nil rendering with an error renders nothing; a rendering with an error
// (RoleNotFound in some namespaces) is rendered where it can be.
func (r *AccessReconciler) desired(ctx context.Context, b *binding, org *rosterv1.Organization) (*rendering, time.Duration, error) {
	if !org.Spec.Access.Allows(b.role) {
		return nil, 0, reconcileerr.NewStalling(ReasonRoleNotAllowed, fmt.Errorf(
			"%s %q is not in organization %q's spec.access.allowedRoles (%s); a platform admin adds it there",
			b.role.Kind, b.role.Name, org.Name, allowedList(org.Spec.Access)))
	}
	if err := r.bindable(ctx, b.role); err != nil {
		return nil, 0, err
	}
	team, err := r.findTeam(ctx, org, b.team)
	if err != nil {
		return nil, 0, err
	}
	subjects, retry, subjErr := r.subjects(ctx, org, team)
	if retry > 0 || (subjErr != nil && subjects == nil) {
		return nil, retry, subjErr
	}
	targets, err := r.targets(ctx, b)
	if err != nil {
		return nil, 0, err
	}
	targets, missing, err := r.withRole(ctx, b.role, targets)
	if err != nil {
		return nil, 0, err
	}
	want := &rendering{teamObj: team.Name, teamName: team.Spec.DisplayName, subjects: subjects, targets: targets}
	if len(missing) > 0 {
		what := fmt.Sprintf("ClusterRole %q does not exist", b.role.Name)
		if b.role.Kind == "Role" {
			what = fmt.Sprintf("Role %q does not exist in namespaces %s", b.role.Name, sample(missing, 5))
		}
		err = reconcileerr.New(ReasonRoleNotFound, fmt.Errorf("%s; it is bound as soon as it is created", what))
		if len(targets) == 0 {
			return nil, 0, errors.Join(err, subjErr)
		}
	}
	return want, 0, errors.Join(err, subjErr)
}

func allowedList(a *rosterv1.AccessSpec) string {
	if a == nil || len(a.AllowedRoles) == 0 {
		return "empty: nothing may be bound"
	}
	var s []string
	for _, r := range a.AllowedRoles {
		s = append(s, r.Kind+"/"+r.Name)
	}
	return strings.Join(s, ", ")
}

// bindable asks the apiserver whether Roster itself may bind the role (the bind verb on its
// name). Without it the apiserver would refuse every binding that grants more than Roster
// holds; asking first turns that into a condition that says what to change.
func (r *AccessReconciler) bindable(ctx context.Context, role rosterv1.RoleRef) error {
	resource := "clusterroles"
	if role.Kind == "Role" {
		resource = "roles"
	}
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "bind", Group: rbacv1.GroupName, Resource: resource, Name: role.Name},
	}}
	if err := r.Create(ctx, review); err != nil {
		return apiErr(err, "asking whether Roster may bind %s %q", role.Kind, role.Name)
	}
	if !review.Status.Allowed {
		return reconcileerr.NewStalling(ReasonRoleNotBindable, fmt.Errorf(
			"Roster's install does not grant it the bind verb on %s %q; add the name to the ClusterRole roster-bindable-roles (config/rbac/bindable_roles.yaml; docs/access.md)",
			resource, role.Name))
	}
	return nil
}

// findTeam finds the team by id or (case-insensitive) display name in the org's namespace.
// Only SCIM teams count: a manual team is created and renamed by anyone who may edit OrgTeams
// in the namespace and takes no display-name claim, so it could borrow the name of a group
// not pushed yet (and bring its own members) or shadow a pushed one. Among several SCIM
// teams of one display name (a rename in flight), the holder of the name's claim wins.
func (r *AccessReconciler) findTeam(ctx context.Context, org *rosterv1.Organization, ref rosterv1.TeamRef) (*rosterv1.OrgTeam, error) {
	var team *rosterv1.OrgTeam
	if ref.ID != "" {
		t := &rosterv1.OrgTeam{}
		err := r.Get(ctx, client.ObjectKey{Namespace: org.Spec.Namespace, Name: ref.ID}, t)
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, apiErr(err, "reading team %s", ref.ID)
		}
		if err == nil && t.DeletionTimestamp.IsZero() && t.Spec.ManagedBy != rosterv1.ManagedBySCIM {
			return nil, reconcileerr.NewStalling(ReasonTeamNotSCIM, fmt.Errorf(
				"team %s (%q) of organization %q is a manual team (managedBy: %s); only teams the identity provider pushes grant access",
				t.Name, t.Spec.DisplayName, org.Name, t.Spec.ManagedBy))
		}
		if err == nil {
			team = t
		}
	} else {
		var list rosterv1.OrgTeamList
		if err := index.TeamsNamed(ref.DisplayName).List(ctx, r, org.Spec.Namespace, &list); err != nil {
			return nil, apiErr(err, "finding team %q", ref.DisplayName)
		}
		var scim []*rosterv1.OrgTeam
		for i := range list.Items {
			if t := &list.Items[i]; t.Spec.ManagedBy == rosterv1.ManagedBySCIM && t.DeletionTimestamp.IsZero() {
				scim = append(scim, t)
			}
		}
		switch {
		case len(scim) == 1:
			team = scim[0]
		case len(scim) > 1:
			t, err := r.claimHolder(ctx, org.Spec.Namespace, ref.DisplayName, scim)
			if err != nil {
				return nil, err
			}
			team = t
		}
	}
	if team == nil || !team.DeletionTimestamp.IsZero() {
		what := fmt.Sprintf("id %q", ref.ID)
		if ref.ID == "" {
			what = fmt.Sprintf("display name %q", ref.DisplayName)
		}
		return nil, reconcileerr.New(ReasonTeamNotFound, fmt.Errorf("organization %q has no team pushed by its identity provider with %s", org.Name, what))
	}
	return team, nil
}

// claimHolder picks, among SCIM teams that show one display name, the one holding the name's
// claim (internal/directory/claims.go), read from the apiserver: Roster caches no claims.
// None: nil (TeamNotFound until the rename settles).
func (r *AccessReconciler) claimHolder(ctx context.Context, namespace, displayName string, teams []*rosterv1.OrgTeam) (*rosterv1.OrgTeam, error) {
	claim := &rosterv1.OrgTeamNameClaim{}
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: naming.TeamNameClaim(displayName)}, claim)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, apiErr(err, "reading the claim on display name %q", displayName)
	}
	for _, t := range teams {
		if t.Name == claim.Spec.Team {
			return t, nil
		}
	}
	return nil, nil
}

// subjects are the team's subjects: its group, or its active members. A subject whose name
// starts with "system:" is left out with a ReservedSubject error; in User mode the others
// are returned with it.
func (r *AccessReconciler) subjects(ctx context.Context, org *rosterv1.Organization, team *rosterv1.OrgTeam) ([]rbacv1.Subject, time.Duration, error) {
	a := org.Spec.Access
	if access.Mode(a) == rosterv1.SubjectsGroup {
		s := access.GroupSubject(a, team.Spec.DisplayName)
		if access.Reserved(s.Name) {
			return nil, 0, reconcileerr.NewStalling(ReasonReservedSubject, fmt.Errorf(
				"the group of team %q would be %q: names starting with %q are Kubernetes' own and are never bound; set spec.access.groupPrefix of organization %q",
				team.Spec.DisplayName, s.Name, access.ReservedPrefix, org.Name))
		}
		return []rbacv1.Subject{s}, 0, nil
	}
	held, wait, err := heldSlices(ctx, r.Client, r.Members, team, true)
	if err != nil || wait > 0 {
		return nil, wait, err
	}
	ids := membership.Members(held)
	out := make([]rbacv1.Subject, 0, len(ids))
	var reserved []string
	var scratch rosterv1.OrgUser
	users := userReader(r.cache, r.Client)
	for id := range ids {
		u, err := users.Get(ctx, client.ObjectKey{Namespace: team.Namespace, Name: id})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, 0, apiErr(err, "reading user %s", id)
		}
		s, ok := userSubject(a, u, &scratch)
		switch {
		case ok && access.Reserved(s.Name):
			reserved = append(reserved, s.Name)
		case ok:
			out = append(out, s)
		}
	}
	if len(reserved) > 0 {
		slices.Sort(reserved)
		err = reconcileerr.NewStalling(ReasonReservedSubject, fmt.Errorf(
			"users %s of team %q are left out: names starting with %q are Kubernetes' own and are never bound",
			sample(reserved, 5), team.Spec.DisplayName, access.ReservedPrefix))
	}
	return access.SortSubjects(out), 0, err
}

// prune takes out of the rendered objects, while the team's members are not settled (User
// mode), every subject that must not keep access whatever the change in flight does: users
// deactivated, deleted, or listed in no slice of the team as the cache has them now (a change
// never moves a member between slices: membership.Plan keeps each where it is). It never adds
// anyone; the render after the team settles does.
func (r *AccessReconciler) prune(ctx context.Context, b *binding, org *rosterv1.Organization) error {
	if access.Mode(org.Spec.Access) != rosterv1.SubjectsUser {
		return nil // only User mode waits for a team to settle
	}
	team, err := r.findTeam(ctx, org, b.team)
	if err != nil {
		return nil // not settled is about an existing team; the next reconcile decides
	}
	held, _, err := heldSlices(ctx, r.Client, r.Members, team, false)
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	var scratch rosterv1.OrgUser
	users := userReader(r.cache, r.Client)
	for id := range membership.Members(held) {
		u, err := users.Get(ctx, client.ObjectKey{Namespace: team.Namespace, Name: id})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return apiErr(err, "reading user %s", id)
		}
		if s, ok := userSubject(org.Spec.Access, u, &scratch); ok && !access.Reserved(s.Name) {
			keep[s.Name] = true
		}
	}
	cur, err := r.current(ctx, b)
	if err != nil {
		return err
	}
	var errs []error
	for _, objs := range cur {
		for _, o := range objs {
			have := subjectsOf(o)
			left := slices.DeleteFunc(slices.Clone(have), func(s rbacv1.Subject) bool { return s.Kind != rbacv1.UserKind || !keep[s.Name] })
			if len(left) == len(have) {
				continue
			}
			o = o.DeepCopyObject().(client.Object)
			setSubjects(o, left)
			errs = append(errs, apiErr(r.Update(ctx, o), "updating %s", describe(o)))
		}
	}
	return errors.Join(errs...)
}

func setSubjects(o client.Object, s []rbacv1.Subject) {
	switch o := o.(type) {
	case *rbacv1.RoleBinding:
		o.Subjects = s
	case *rbacv1.ClusterRoleBinding:
		o.Subjects = s
	}
}

// targets are the namespaces to render in ("" alone: one ClusterRoleBinding), sorted.
func (r *AccessReconciler) targets(ctx context.Context, b *binding) ([]target, error) {
	if b.ns == nil {
		if b.kind == rosterv1.KindTeamRoleBinding {
			return []target{b.obj.GetNamespace()}, nil
		}
		return []target{""}, nil // a ClusterRole (CEL refuses a Role without namespaces)
	}
	var out []target
	if b.ns.Selector != nil {
		sel, err := metav1.LabelSelectorAsSelector(b.ns.Selector)
		if err != nil {
			return nil, reconcileerr.NewStalling(ReasonInvalidSelector, fmt.Errorf("spec.namespaces.selector: %w", err))
		}
		var list corev1.NamespaceList
		if err := r.List(ctx, &list, client.MatchingLabelsSelector{Selector: sel}); err != nil {
			return nil, apiErr(err, "listing namespaces")
		}
		for _, ns := range list.Items {
			if ns.DeletionTimestamp.IsZero() {
				out = append(out, ns.Name)
			}
		}
	} else {
		for _, name := range b.ns.Names {
			var ns corev1.Namespace
			err := r.Get(ctx, client.ObjectKey{Name: name}, &ns)
			if err == nil && ns.DeletionTimestamp.IsZero() {
				out = append(out, name)
			} else if err != nil && !apierrors.IsNotFound(err) {
				return nil, apiErr(err, "reading namespace %s", name)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// ReasonInvalidSelector: spec.namespaces.selector does not parse.
const ReasonInvalidSelector = "InvalidSelector"

// withRole keeps the targets where the role exists and returns the others.
func (r *AccessReconciler) withRole(ctx context.Context, role rosterv1.RoleRef, targets []target) (have, missing []target, err error) {
	for _, t := range targets {
		m := &metav1.PartialObjectMetadata{}
		key := client.ObjectKey{Name: role.Name}
		if role.Kind == "Role" {
			m.SetGroupVersionKind(rbacv1.SchemeGroupVersion.WithKind("Role"))
			key.Namespace = t
		} else {
			m.SetGroupVersionKind(rbacv1.SchemeGroupVersion.WithKind("ClusterRole"))
		}
		err := r.Get(ctx, key, m)
		switch {
		case err == nil:
			have = append(have, t)
		case apierrors.IsNotFound(err):
			missing = append(missing, t)
		default:
			return nil, nil, apiErr(err, "reading %s %s", role.Kind, role.Name)
		}
		if role.Kind != "Role" && err != nil {
			return nil, targets, nil // one ClusterRole for every target
		}
	}
	return have, missing, nil
}

// rendered are a binding's current objects, by target and name.
type rendered map[target]map[string]client.Object

// current lists the binding's rendered objects from the cache.
func (r *AccessReconciler) current(ctx context.Context, b *binding) (rendered, error) {
	objs, err := r.renderedBy(ctx, r.Client, b)
	if err != nil {
		return nil, err
	}
	out := rendered{}
	for _, o := range objs {
		if out[o.GetNamespace()] == nil {
			out[o.GetNamespace()] = map[string]client.Object{}
		}
		out[o.GetNamespace()][o.GetName()] = o
	}
	return out, nil
}

// apply makes the binding's rendered objects equal to want (nil: none), then records them in
// the status.
func (r *AccessReconciler) apply(ctx context.Context, b *binding, want *rendering) error {
	cur, err := r.current(ctx, b)
	if err != nil {
		return err
	}
	base := access.BaseName(b.kind, b.obj.GetNamespace(), b.obj.GetName(), b.role)
	var kept []rosterv1.RenderedObject
	var errs []error
	wanted := map[target]bool{}
	if want != nil {
		for _, t := range want.targets {
			wanted[t] = true
			objs, err := r.applyTarget(ctx, b, want, t, base, cur[t])
			errs = append(errs, err)
			kept = append(kept, objs...)
		}
	}
	for t, objs := range cur {
		for name, o := range objs {
			if wanted[t] {
				if _, ok := access.ChunkIndex(base, name); ok {
					continue // applyTarget's
				}
			}
			errs = append(errs, r.deleteRendered(ctx, o))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	slices.SortFunc(kept, func(a, c rosterv1.RenderedObject) int {
		return strings.Compare(a.Namespace+"/"+a.Name, c.Namespace+"/"+c.Name)
	})
	b.status.RenderedCount = int32(len(kept))
	b.status.Rendered = kept[:min(len(kept), rosterv1.MaxRenderedInStatus)]
	if want != nil {
		b.status.Subjects, b.status.Team = int32(len(want.subjects)), want.teamName
		b.status.Namespaces = summarize(want.targets)
	} else {
		b.status.Subjects, b.status.Namespaces = 0, ""
	}
	return nil
}

// summarize is status.namespaces.
func summarize(targets []target) string {
	switch {
	case len(targets) == 1 && targets[0] == "":
		return "(cluster)"
	case len(targets) == 0:
		return "(none)"
	case len(targets) <= 3:
		return strings.Join(targets, ",")
	}
	return fmt.Sprintf("%s,… (%d)", strings.Join(targets[:2], ","), len(targets))
}

// applyTarget renders the chunks of one target: each subject stays in the chunk that holds it
// (access.Layout), so a removal rewrites one object.
func (r *AccessReconciler) applyTarget(ctx context.Context, b *binding, want *rendering, t target, base string, cur map[string]client.Object) ([]rosterv1.RenderedObject, error) {
	have := map[int][]rbacv1.Subject{}
	for name, o := range cur {
		if i, ok := access.ChunkIndex(base, name); ok {
			have[i] = subjectsOf(o)
		}
	}
	layout := access.Layout(have, want.subjects, rosterv1.MaxSubjectsPerBinding)
	if len(want.subjects) == 0 {
		// An empty team keeps one binding without subjects: status and kubectl show where
		// its access goes, and the first member added fills it.
		layout = map[int][]rbacv1.Subject{0: nil}
	}
	var out []rosterv1.RenderedObject
	var errs []error
	for name, o := range cur {
		if i, ok := access.ChunkIndex(base, name); ok {
			if _, keep := layout[i]; !keep {
				errs = append(errs, r.deleteRendered(ctx, o))
			}
		}
	}
	for i, subjects := range layout {
		name := access.ChunkName(base, i)
		obj := r.build(b, want, t, name, subjects)
		errs = append(errs, r.write(ctx, b, obj, cur[name]))
		kind := "RoleBinding"
		if t == "" {
			kind = "ClusterRoleBinding"
		}
		out = append(out, rosterv1.RenderedObject{Kind: kind, Namespace: t, Name: name})
	}
	return out, errors.Join(errs...)
}

func subjectsOf(o client.Object) []rbacv1.Subject {
	switch o := o.(type) {
	case *rbacv1.RoleBinding:
		return o.Subjects
	case *rbacv1.ClusterRoleBinding:
		return o.Subjects
	}
	return nil
}

// build returns the object to render: labels, owner, roleRef, subjects.
func (r *AccessReconciler) build(b *binding, want *rendering, t target, name string, subjects []rbacv1.Subject) client.Object {
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: b.role.Kind, Name: b.role.Name}
	var o client.Object
	if t == "" {
		o = &rbacv1.ClusterRoleBinding{RoleRef: ref, Subjects: subjects}
	} else {
		o = &rbacv1.RoleBinding{RoleRef: ref, Subjects: subjects}
		o.SetNamespace(t)
	}
	o.SetName(name)
	o.SetLabels(access.Labels(b.org, want.teamObj, b.kind, b.obj.GetName(), string(b.obj.GetUID())))
	// An owner in another namespace is invalid: those RoleBindings are the finalizer's alone.
	// A ClusterTeamRoleBinding, cluster-scoped, may own them all.
	if b.kind == rosterv1.KindClusterTeamRoleBinding || t == b.obj.GetNamespace() {
		gvk := rosterv1.GroupVersion.WithKind(b.kind)
		o.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind,
			Name: b.obj.GetName(), UID: b.obj.GetUID(), Controller: ptrTrue(), BlockOwnerDeletion: ptrTrue()}})
	}
	return o
}

func ptrTrue() *bool { t := true; return &t }

// write creates obj, or updates cur (at its resourceVersion) when it differs. An object of
// that name that is not in the cache is read live: Roster's own (just created, or from before
// BindingUIDLabel) is overwritten; anyone else's is left alone and reported (NameConflict):
// rendered names are predictable, and whoever may create RoleBindings in a namespace must not
// be able to have Roster take over, or replace, a binding of theirs.
func (r *AccessReconciler) write(ctx context.Context, b *binding, obj, cur client.Object) error {
	if cur == nil {
		err := r.Create(ctx, obj)
		if !apierrors.IsAlreadyExists(err) {
			return apiErr(err, "creating %s", describe(obj))
		}
		cur = obj.DeepCopyObject().(client.Object)
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(obj), cur); err != nil {
			return apiErr(err, "reading %s", describe(obj))
		}
		if !renderedFrom(cur, b) {
			return reconcileerr.New(ReasonNameConflict, fmt.Errorf(
				"%s exists and was not rendered by Roster from this %s; Roster leaves it alone and binds nothing there until it is deleted or renamed",
				describe(obj), b.kind))
		}
	}
	if same(obj, cur) {
		return nil
	}
	if roleRefOf(obj) != roleRefOf(cur) {
		// roleRef is immutable (and part of the name's hash): only an old object of ours
		// written by hand past the webhook can differ here.
		if err := r.deleteRendered(ctx, cur); err != nil {
			return err
		}
		return apiErr(r.Create(ctx, obj), "creating %s", describe(obj))
	}
	obj.SetResourceVersion(cur.GetResourceVersion())
	return apiErr(r.Update(ctx, obj), "updating %s", describe(obj))
}

// renderedFrom reports whether o was rendered by Roster from a binding of b's kind and name
// (only Roster writes objects with BindingKindLabel: the admission webhook). The rendered
// name hashes the kind, namespace, name and role, so such an object is b's: current, from
// before BindingUIDLabel, or left by an earlier binding of the same name.
func renderedFrom(o client.Object, b *binding) bool {
	l := o.GetLabels()
	return l[rosterv1.BindingKindLabel] == b.kind && l[rosterv1.BindingLabel] == b.obj.GetName()
}

func describe(o client.Object) string {
	if o.GetNamespace() == "" {
		return "ClusterRoleBinding " + o.GetName()
	}
	return "RoleBinding " + o.GetNamespace() + "/" + o.GetName()
}

func roleRefOf(o client.Object) rbacv1.RoleRef {
	switch o := o.(type) {
	case *rbacv1.RoleBinding:
		return o.RoleRef
	case *rbacv1.ClusterRoleBinding:
		return o.RoleRef
	}
	return rbacv1.RoleRef{}
}

// same reports whether cur already is obj: subjects, labels, owners, no annotations added.
func same(obj, cur client.Object) bool {
	return slices.Equal(subjectsOf(obj), subjectsOf(cur)) &&
		maps.Equal(obj.GetLabels(), cur.GetLabels()) &&
		len(cur.GetAnnotations()) == 0 &&
		slices.EqualFunc(obj.GetOwnerReferences(), cur.GetOwnerReferences(), func(a, b metav1.OwnerReference) bool {
			return a.UID == b.UID && a.Kind == b.Kind && a.Name == b.Name
		})
}

// deleteRendered deletes one rendered object at the UID it was read with.
func (r *AccessReconciler) deleteRendered(ctx context.Context, o client.Object) error {
	uid := o.GetUID()
	err := r.Delete(ctx, o, client.Preconditions{UID: &uid})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone already, or replaced: the next reconcile sees it
	}
	return apiErr(err, "deleting %s", describe(o))
}

// deleteAll deletes every object rendered from the binding, read live: the binding is going
// and nothing will look again.
func (r *AccessReconciler) deleteAll(ctx context.Context, b *binding) error {
	objs, err := r.renderedBy(ctx, r.APIReader, b)
	if err != nil {
		return err
	}
	var errs []error
	for _, o := range objs {
		errs = append(errs, r.deleteRendered(ctx, o))
	}
	return errors.Join(errs...)
}

// finish sets Ready from the outcome, records a Warning event when the binding starts failing
// for a new reason, and patches the status.
func (r *AccessReconciler) finish(ctx context.Context, b *binding, patch *statusPatch, err error) error {
	if b.requeue && err == nil {
		return nil
	}
	conds := &b.status.Conditions
	before := meta.FindStatusCondition(*conds, rosterv1.ConditionReady)
	var beforeReason string
	if before != nil {
		beforeReason = before.Reason
	}
	ready := metav1.Condition{Type: rosterv1.ConditionReady, Status: metav1.ConditionTrue, Reason: ReasonRendered,
		ObservedGeneration: b.obj.GetGeneration(),
		Message:            fmt.Sprintf("%d subjects bound in %d objects", b.status.Subjects, b.status.RenderedCount)}
	if err != nil {
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, reconcileerr.Reason(err, ReasonAPIError), truncate(err.Error(), 1024)
		if ready.Reason != beforeReason {
			r.Recorder.Event(b.obj, corev1.EventTypeWarning, ready.Reason, ready.Message)
		}
	} else {
		b.status.ObservedGeneration = b.obj.GetGeneration()
	}
	meta.SetStatusCondition(conds, ready)
	return reconcileerr.Result(errors.Join(err, apiErr(patch.apply(ctx, r.Client, b.obj), "patching the status")))
}
