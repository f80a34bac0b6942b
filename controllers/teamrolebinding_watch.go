package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/index"
)

// RenderedSelector selects the RoleBindings and ClusterRoleBindings Roster renders: the
// manager caches no others.
func RenderedSelector() labels.Selector {
	req, err := labels.NewRequirement(rosterv1.BindingKindLabel, selection.Exists, nil)
	if err != nil {
		panic(err)
	}
	return labels.NewSelector().Add(*req)
}

// TeamRoleBindingReconciler renders TeamRoleBindings (AccessReconciler).
type TeamRoleBindingReconciler struct{ *AccessReconciler }

// Reconcile renders one TeamRoleBinding.
func (r TeamRoleBindingReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	b := &rosterv1.TeamRoleBinding{}
	if err := r.Get(ctx, req.NamespacedName, b); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return r.reconcile(ctx, teamRoleBinding(b))
}

// ClusterTeamRoleBindingReconciler renders ClusterTeamRoleBindings (AccessReconciler).
type ClusterTeamRoleBindingReconciler struct{ *AccessReconciler }

// Reconcile renders one ClusterTeamRoleBinding.
func (r ClusterTeamRoleBindingReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	b := &rosterv1.ClusterTeamRoleBinding{}
	if err := r.Get(ctx, req.NamespacedName, b); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return r.reconcile(ctx, clusterTeamRoleBinding(b))
}

// SetupWithManager registers the two controllers. Each watches its kind and, mapped to the
// bindings they concern: teams (created, renamed, deleted), member slices, users
// (deactivated, renamed, deleted), namespaces (created, relabelled), Organizations (access
// settings), Roles and ClusterRoles (created later), and the rendered objects themselves
// (edited or deleted by hand).
func (r *AccessReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.cache = mgr.GetCache()
	for _, kind := range []string{rosterv1.KindTeamRoleBinding, rosterv1.KindClusterTeamRoleBinding} {
		var obj client.Object
		var rec reconcile.Reconciler
		if kind == rosterv1.KindTeamRoleBinding {
			obj, rec = &rosterv1.TeamRoleBinding{}, TeamRoleBindingReconciler{r}
		} else {
			obj, rec = &rosterv1.ClusterTeamRoleBinding{}, ClusterTeamRoleBindingReconciler{r}
		}
		m := mapper{r: r, kind: kind}
		roleMeta := func(k string) *metav1.PartialObjectMetadata {
			p := &metav1.PartialObjectMetadata{}
			p.SetGroupVersionKind(rbacv1.SchemeGroupVersion.WithKind(k))
			return p
		}
		err := ctrl.NewControllerManagedBy(mgr).
			Named(map[string]string{rosterv1.KindTeamRoleBinding: "teamrolebinding", rosterv1.KindClusterTeamRoleBinding: "clusterteamrolebinding"}[kind]).
			For(obj, builder.WithPredicates(storePredicate())).
			Watches(&rosterv1.OrgTeam{}, handler.EnqueueRequestsFromMapFunc(m.team)).
			Watches(&rosterv1.OrgTeamMemberSlice{}, handler.EnqueueRequestsFromMapFunc(m.slice)).
			Watches(&rosterv1.OrgUser{}, handler.EnqueueRequestsFromMapFunc(m.user)).
			Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(m.namespace)).
			Watches(&rosterv1.Organization{}, handler.EnqueueRequestsFromMapFunc(m.organization)).
			Watches(roleMeta("Role"), handler.EnqueueRequestsFromMapFunc(m.role), builder.OnlyMetadata).
			Watches(roleMeta("ClusterRole"), handler.EnqueueRequestsFromMapFunc(m.role), builder.OnlyMetadata).
			Watches(&rbacv1.RoleBinding{}, handler.EnqueueRequestsFromMapFunc(m.rendered)).
			Watches(&rbacv1.ClusterRoleBinding{}, handler.EnqueueRequestsFromMapFunc(m.rendered)).
			WithOptions(storeControllerOptions()).
			Complete(rec)
		if err != nil {
			return err
		}
	}
	return nil
}

// mapper maps events to the bindings of one kind they concern.
type mapper struct {
	r    *AccessReconciler
	kind string
}

// ofOrg lists the bindings of org, whose namespace is namespace, filtered by keep (nil: all).
func (m mapper) ofOrg(ctx context.Context, org, namespace string, keep func(*binding) bool) []reconcile.Request {
	var out []reconcile.Request
	for _, b := range m.all(ctx, org, namespace) {
		if keep == nil || keep(b) {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: b.obj.GetNamespace(), Name: b.obj.GetName()}})
		}
	}
	return out
}

// all lists the bindings of this kind, of org ("": of every org; TeamRoleBindings are then
// listed everywhere). namespace is org's, taken from the event rather than read again: the
// Organization may be gone, and its deletion must still reach its bindings.
func (m mapper) all(ctx context.Context, org, namespace string) []*binding {
	var out []*binding
	if m.kind == rosterv1.KindTeamRoleBinding {
		var opts []client.ListOption
		if org != "" {
			opts = append(opts, client.InNamespace(namespace))
		}
		var list rosterv1.TeamRoleBindingList
		if err := m.r.List(ctx, &list, opts...); err != nil {
			return nil
		}
		for i := range list.Items {
			out = append(out, teamRoleBinding(&list.Items[i]))
		}
		return out
	}
	var list rosterv1.ClusterTeamRoleBindingList
	if err := m.r.List(ctx, &list); err != nil {
		return nil
	}
	for i := range list.Items {
		if org == "" || list.Items[i].Spec.Organization == org {
			out = append(out, clusterTeamRoleBinding(&list.Items[i]))
		}
	}
	return out
}

// orgsOf names the organizations whose namespace is ns.
func (m mapper) orgsOf(ctx context.Context, ns string) []string {
	orgs, err := index.OrgsUsingNamespace(ctx, m.r.Client, ns)
	if err != nil {
		return nil
	}
	out := make([]string, len(orgs))
	for i := range orgs {
		out[i] = orgs[i].Name
	}
	return out
}

// team: every binding of the team's organization. A rename must reach the bindings that
// named the old display name too, which the new object no longer tells.
func (m mapper) team(ctx context.Context, o client.Object) []reconcile.Request {
	var out []reconcile.Request
	for _, org := range m.orgsOf(ctx, o.GetNamespace()) {
		out = append(out, m.ofOrg(ctx, org, o.GetNamespace(), nil)...)
	}
	return out
}

// teamNamed: the bindings that name the team.
func (m mapper) teamNamed(ctx context.Context, namespace, name string) []reconcile.Request {
	var team rosterv1.OrgTeam
	if err := m.r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &team); err != nil {
		return nil // a team that is gone has its own event
	}
	var out []reconcile.Request
	for _, org := range m.orgsOf(ctx, namespace) {
		out = append(out, m.ofOrg(ctx, org, namespace, func(b *binding) bool { return b.refersTo(&team) })...)
	}
	return out
}

func (m mapper) slice(ctx context.Context, o client.Object) []reconcile.Request {
	return m.teamNamed(ctx, o.GetNamespace(), o.(*rosterv1.OrgTeamMemberSlice).Spec.Team)
}

// user: the bindings of the teams whose slices list the user.
func (m mapper) user(ctx context.Context, o client.Object) []reconcile.Request {
	var list rosterv1.OrgTeamMemberSliceList
	if err := index.SlicesWithMember(o.GetName()).List(ctx, m.r, o.GetNamespace(), &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []reconcile.Request
	for i := range list.Items {
		if t := list.Items[i].Spec.Team; !seen[t] {
			seen[t] = true
			out = append(out, m.teamNamed(ctx, o.GetNamespace(), t)...)
		}
	}
	return out
}

// namespace: every binding that selects namespaces. Only the new labels are known here, and
// a namespace that lost the selector's labels must lose the binding too.
func (m mapper) namespace(ctx context.Context, _ client.Object) []reconcile.Request {
	var out []reconcile.Request
	for _, b := range m.all(ctx, "", "") {
		if b.ns != nil {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: b.obj.GetNamespace(), Name: b.obj.GetName()}})
		}
	}
	return out
}

func (m mapper) organization(ctx context.Context, o client.Object) []reconcile.Request {
	if !m.r.serves(o.(*rosterv1.Organization)) {
		// Labelled into this shard after it started: its namespace is not cached (the
		// replica restarts for it). One relabelled away is still served as it was until its
		// Delete event, which must reach its bindings (they decide live: not revoked).
		return nil
	}
	return m.ofOrg(ctx, o.GetName(), o.(*rosterv1.Organization).Spec.Namespace, nil)
}

func (m mapper) role(ctx context.Context, o client.Object) []reconcile.Request {
	kind := "ClusterRole"
	if o.GetNamespace() != "" {
		kind = "Role"
	}
	var out []reconcile.Request
	for _, b := range m.all(ctx, "", "") {
		if b.role.Kind == kind && b.role.Name == o.GetName() {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: b.obj.GetNamespace(), Name: b.obj.GetName()}})
		}
	}
	return out
}

// rendered: the binding a rendered object comes from, by its labels.
func (m mapper) rendered(ctx context.Context, o client.Object) []reconcile.Request {
	l := o.GetLabels()
	if l[rosterv1.BindingKindLabel] != m.kind {
		return nil
	}
	if m.kind == rosterv1.KindClusterTeamRoleBinding {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: l[rosterv1.BindingLabel]}}}
	}
	var org rosterv1.Organization
	if err := m.r.Get(ctx, client.ObjectKey{Name: l[rosterv1.OrgLabel]}, &org); err == nil {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: org.Spec.Namespace, Name: l[rosterv1.BindingLabel]}}}
	}
	// The organization is gone: the TeamRoleBinding is found by its UID.
	for _, b := range m.all(ctx, "", "") {
		if string(b.obj.GetUID()) == l[rosterv1.BindingUIDLabel] {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: b.obj.GetNamespace(), Name: b.obj.GetName()}}}
		}
	}
	return nil
}
