package accesstest_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
	"github.com/rosterhq/roster/internal/testutil/testenv"
)

// env is a real kube-apiserver + etcd (RBAC authorization on, as envtest configures it) with
// Roster's webhook configuration installed, served by the package's one shared Roster. The
// shared Roster, its controllers and env.Client all act as the control plane's admin user:
// "Roster's own identity" here. What a real cluster adds: kube-controller-manager's garbage
// collector (it would also delete the RoleBindings a TeamRoleBinding owns in its own
// namespace; the finalizer does it first, everywhere) and the aggregated view/edit roles
// (empty here, so the tests bind a ClusterRole of their own).
var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.RunWithWebhook(m, &env)) }

var (
	rosterOnce sync.Once
	shared     *testenv.Roster
)

// org is an organization for one test, with a SCIM client.
type org struct {
	t    *testing.T
	ctx  context.Context
	org  testenv.Org
	scim *scimtest.Client
}

// newOrg starts the shared Roster (no identity store: the access controllers need none) and
// creates an organization with the given access settings.
func newOrg(t *testing.T, access *rosterv1.AccessSpec) *org {
	t.Helper()
	rosterOnce.Do(func() { shared = env.StartSharedRoster(t, nil) })
	o := &org{t: t, ctx: context.Background(), org: env.NewOrg(t, "acc")}
	o.scim = scimtest.New(shared.BaseURL, o.org.Name, o.org.Token)
	o.setAccess(access)
	eventually(t, 15*time.Second, func() (bool, string) {
		s := o.scim.Do(t, http.MethodGet, "/ServiceProviderConfig", nil).Status
		return s == http.StatusOK, fmt.Sprintf("token not accepted yet: %d", s)
	})
	return o
}

func (o *org) setAccess(a *rosterv1.AccessSpec) {
	o.t.Helper()
	// The organization controller writes the status meanwhile: retry on conflict.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var obj rosterv1.Organization
		if err := env.Client.Get(o.ctx, client.ObjectKey{Name: o.org.Name}, &obj); err != nil {
			return err
		}
		obj.Spec.Access = a
		return env.Client.Update(o.ctx, &obj)
	})
	if err != nil {
		o.t.Fatalf("setting spec.access: %v", err)
	}
}

func (o *org) createUser(userName string) string {
	o.t.Helper()
	body := map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": userName, "active": true,
		"emails": []map[string]any{{"value": "mail-" + userName, "primary": true}},
	}
	return o.scim.Do(o.t, http.MethodPost, "/Users", body).Expect(o.t, http.StatusCreated).String("id")
}

func (o *org) createGroup(displayName string, members ...string) string {
	o.t.Helper()
	refs := make([]map[string]any, len(members))
	for i, m := range members {
		refs[i] = map[string]any{"value": m}
	}
	body := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": displayName, "members": refs}
	return o.scim.Do(o.t, http.MethodPost, "/Groups", body).Expect(o.t, http.StatusCreated).String("id")
}

func (o *org) patch(path string, ops ...map[string]any) {
	o.t.Helper()
	body := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": ops}
	s := o.scim.Do(o.t, http.MethodPatch, path, body).Status
	if s != http.StatusOK && s != http.StatusNoContent {
		o.t.Fatalf("PATCH %s: %d", path, s)
	}
}

// podReader creates (once per name) a ClusterRole that grants get pods.
func podReader(t *testing.T, name string) rosterv1.RoleRef {
	t.Helper()
	role := &rbacv1.ClusterRole{Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}}}
	role.Name = name
	if err := env.Client.Create(context.Background(), role); client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}
	return rosterv1.RoleRef{Kind: "ClusterRole", Name: name}
}

// namespace creates a namespace with labels.
func namespace(t *testing.T, name string, labels map[string]string) *corev1.Namespace {
	t.Helper()
	ns := &corev1.Namespace{}
	ns.Name, ns.Labels = name, labels
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns
}

// who is a person as the API server would authenticate them.
type who struct {
	user   string
	groups []string
}

// canGetPods asks the real apiserver's authorizer (a SubjectAccessReview), not the bindings.
func canGetPods(t *testing.T, w who, ns string) bool {
	t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: w.user, Groups: w.groups,
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: "get", Resource: "pods"},
	}}
	if err := env.Client.Create(context.Background(), sar); err != nil {
		t.Fatal(err)
	}
	return sar.Status.Allowed
}

// awaitAccess waits until w may (or may not) get pods in ns.
func awaitAccess(t *testing.T, w who, ns string, want bool) {
	t.Helper()
	eventually(t, 10*time.Second, func() (bool, string) {
		got := canGetPods(t, w, ns)
		return got == want, fmt.Sprintf("%+v may get pods in %q: %v, want %v", w, ns, got, want)
	})
}

// awaitReady waits for the binding's Ready condition to have status and reason.
func awaitReady(t *testing.T, obj client.Object, status metav1.ConditionStatus, reason string) *metav1.Condition {
	t.Helper()
	var c *metav1.Condition
	eventually(t, 10*time.Second, func() (bool, string) {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, err.Error()
		}
		c = meta.FindStatusCondition(statusOf(obj).Conditions, rosterv1.ConditionReady)
		if c == nil {
			return false, "no Ready condition"
		}
		return c.Status == status && c.Reason == reason, fmt.Sprintf("Ready %s/%s (%s), want %s/%s", c.Status, c.Reason, c.Message, status, reason)
	})
	return c
}

// awaitStatus waits until the binding is Ready (Rendered) with a status that satisfies want:
// the status is patched after the objects it describes, so an access check that passes says
// nothing yet of the status, and Ready may be left from an earlier render.
func awaitStatus(t *testing.T, obj client.Object, want func(*rosterv1.TeamRoleBindingStatus) bool) {
	t.Helper()
	eventually(t, 10*time.Second, func() (bool, string) {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, err.Error()
		}
		st := statusOf(obj)
		c := meta.FindStatusCondition(st.Conditions, rosterv1.ConditionReady)
		ok := c != nil && c.Status == metav1.ConditionTrue && c.Reason == "Rendered" && want(st)
		return ok, fmt.Sprintf("status %+v", *st)
	})
}

func statusOf(obj client.Object) *rosterv1.TeamRoleBindingStatus {
	switch o := obj.(type) {
	case *rosterv1.TeamRoleBinding:
		return &o.Status
	case *rosterv1.ClusterTeamRoleBinding:
		return &o.Status
	}
	return nil
}

// rendered lists the RoleBindings rendered from a binding, everywhere (by its UID: other
// tests' bindings share its name).
func rendered(t *testing.T, binding client.Object) []rbacv1.RoleBinding {
	t.Helper()
	var list rbacv1.RoleBindingList
	if err := env.Client.List(context.Background(), &list, client.MatchingLabels{rosterv1.BindingUIDLabel: string(binding.GetUID())}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	testenv.Eventually(t, timeout, cond)
}
