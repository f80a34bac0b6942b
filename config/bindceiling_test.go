package config_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/controllers"
)

// ceilingGroupPrefix is the groupPrefix of the organization of TestInstallRBACIsSufficientAndNoMore.
const ceilingGroupPrefix = "oidc:"

// ceilingAccess lets the organization's teams be bound to view and admin: admin is allowed by
// the organization but not bindable under the install (config/rbac/bindable_roles.yaml).
func ceilingAccess() *rosterv1.AccessSpec {
	return &rosterv1.AccessSpec{Subjects: rosterv1.SubjectsGroup, GroupPrefix: ceilingGroupPrefix,
		AllowedRoles: []rosterv1.RoleRef{{Kind: "ClusterRole", Name: "view"}, {Kind: "ClusterRole", Name: "admin"}}}
}

// checkBindCeiling binds the pushed team to view and to admin while the manager runs as the
// install's ServiceAccount: the install grants bind on view (rendered, and the team's group
// may then read pods) but not on admin (RoleNotBindable, a Warning event, nothing rendered).
// The caller checks afterwards that the apiserver refused none of the manager's requests:
// the SelfSubjectAccessReview must keep the manager from trying the admin binding at all.
func checkBindCeiling(t *testing.T, admin client.Client, ns, team string) {
	t.Helper()
	ctx := context.Background()
	// envtest runs no controller-manager: the aggregated view and admin ClusterRoles exist but
	// are empty. Give each one rule so what the binding grants is observable.
	ensureRoleRule(t, admin, "view", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}})
	ensureRoleRule(t, admin, "admin", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"delete"}})

	bind := func(name, role string) *rosterv1.TeamRoleBinding {
		b := &rosterv1.TeamRoleBinding{Spec: rosterv1.TeamRoleBindingSpec{
			Team: rosterv1.TeamRef{DisplayName: team}, RoleRef: rosterv1.RoleRef{Kind: "ClusterRole", Name: role}}}
		b.Namespace, b.Name = ns, name
		if err := admin.Create(ctx, b); err != nil {
			t.Fatalf("creating TeamRoleBinding %s: %v", name, err)
		}
		return b
	}
	view, adm := bind("team-view", "view"), bind("team-admin", "admin")

	awaitBindingReady(t, admin, view, metav1.ConditionTrue, controllers.ReasonRendered)
	if got := renderedLive(t, admin, view); len(got) != 1 || got[0].RoleRef.Name != "view" {
		t.Errorf("RoleBindings rendered for the view binding: %v, want one to ClusterRole view", names(got))
	}
	group := ceilingGroupPrefix + team
	// The apiserver's authorizer follows RoleBindings (and the rule given to view above)
	// through its own watch: right after the binding is written it may not grant yet.
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return groupMay(t, admin, group, ns, "get"), nil
	}); err != nil {
		t.Errorf("group %s may not get pods in %s after the view binding was rendered", group, ns)
	}

	c := awaitBindingReady(t, admin, adm, metav1.ConditionFalse, controllers.ReasonRoleNotBindable)
	if got := renderedLive(t, admin, adm); len(got) != 0 || adm.Status.RenderedCount != 0 {
		t.Errorf("the admin binding rendered %v (renderedCount %d), want nothing", names(got), adm.Status.RenderedCount)
	}
	if groupMay(t, admin, group, ns, "delete") {
		t.Errorf("group %s may delete pods in %s: admin was bound past the install's ceiling", group, ns)
	}
	t.Logf("admin binding: %s", c.Message)
	awaitWarning(t, admin, adm, controllers.ReasonRoleNotBindable)
}

// ensureRoleRule makes sure the ClusterRole exists and holds the rule.
func ensureRoleRule(t *testing.T, c client.Client, name string, rule rbacv1.PolicyRule) {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.ClusterRole{}
	err := c.Get(ctx, client.ObjectKey{Name: name}, role)
	switch {
	case apierrors.IsNotFound(err):
		role.Name, role.Rules = name, []rbacv1.PolicyRule{rule}
		err = c.Create(ctx, role)
	case err == nil && len(role.Rules) == 0:
		role.Rules = []rbacv1.PolicyRule{rule}
		err = c.Update(ctx, role)
	}
	if err != nil {
		t.Fatalf("ClusterRole %s: %v", name, err)
	}
}

// awaitBindingReady polls the binding (live) until its Ready condition has status and reason.
func awaitBindingReady(t *testing.T, c client.Client, b *rosterv1.TeamRoleBinding, status metav1.ConditionStatus, reason string) *metav1.Condition {
	t.Helper()
	var cond *metav1.Condition
	last := "no Ready condition"
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(b), b); err != nil {
			last = err.Error()
			return false, nil
		}
		if cond = meta.FindStatusCondition(b.Status.Conditions, rosterv1.ConditionReady); cond != nil {
			last = fmt.Sprintf("%s/%s: %s", cond.Status, cond.Reason, cond.Message)
			return cond.Status == status && cond.Reason == reason, nil
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("TeamRoleBinding %s: Ready %s, want %s/%s", b.Name, last, status, reason)
	}
	return cond
}

// renderedLive lists, from the apiserver, the RoleBindings rendered for the binding.
func renderedLive(t *testing.T, c client.Client, b *rosterv1.TeamRoleBinding) []rbacv1.RoleBinding {
	t.Helper()
	var list rbacv1.RoleBindingList
	if err := c.List(context.Background(), &list, client.MatchingLabels{rosterv1.BindingUIDLabel: string(b.UID)}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func names(rbs []rbacv1.RoleBinding) []string {
	var s []string
	for _, rb := range rbs {
		s = append(s, rb.Namespace+"/"+rb.Name+"→"+rb.RoleRef.Name)
	}
	return s
}

// groupMay asks the apiserver's authorizer whether a member of group may verb pods in ns.
func groupMay(t *testing.T, c client.Client, group, ns, verb string) bool {
	t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: "someone@example.com", Groups: []string{group, "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: verb, Resource: "pods"},
	}}
	if err := c.Create(context.Background(), sar); err != nil {
		t.Fatal(err)
	}
	return sar.Status.Allowed
}

// awaitWarning polls for a Warning event with the reason on the object.
func awaitWarning(t *testing.T, c client.Client, obj client.Object, reason string) {
	t.Helper()
	var seen []string
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		var events corev1.EventList
		if err := c.List(ctx, &events, client.InNamespace(obj.GetNamespace())); err != nil {
			return false, nil
		}
		seen = seen[:0]
		for _, e := range events.Items {
			if e.InvolvedObject.UID != obj.GetUID() {
				continue
			}
			if e.Type == corev1.EventTypeWarning && e.Reason == reason {
				return true, nil
			}
			seen = append(seen, e.Type+"/"+e.Reason)
		}
		return false, nil
	})
	if err != nil {
		t.Errorf("no Warning event %s on %s; its events: %v", reason, obj.GetName(), slices.Compact(seen))
	}
}
