package config_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
	"github.com/rosterhq/roster/internal/testutil/testenv"
	"github.com/rosterhq/roster/internal/token"
	"github.com/rosterhq/roster/webhook/admission"
)

// TestInstallRBACIsSufficientAndNoMore applies the RBAC of config/default to the apiserver for
// real, runs a manager that authenticates as the install's ServiceAccount (impersonated: the
// apiserver authorizes every request as that account, exactly as for the pod's token), drives
// an Okta push and an Entra push through its SCIM server until the controllers have written
// every user and team to the identity store, has Prometheus scrape the metrics (the manager's
// TokenReview and SubjectAccessReview) and asks who Roster is (the webhook's SelfSubjectReview),
// and checks that the apiserver refused none of the manager's requests — and that what the
// manager must never do is refused.
//
// What a real cluster adds: the aggregated edit/admin/view ClusterRoles (envtest runs no
// controller-manager); Roster's roles aggregate nothing into them that the manager needs.
// The admission webhook's configuration is not installed here (its reads — OrgTeams,
// Organizations — and its Events use the same grants the push exercises); its own decisions
// are tested in webhook/admission.
//
// It also binds a pushed team to ClusterRoles view and admin (both allowed by the
// Organization): the install's ceiling (config/rbac/bindable_roles.yaml) lets Roster bind view
// only, so admin must show RoleNotBindable without the manager ever trying the write.
func TestInstallRBACIsSufficientAndNoMore(t *testing.T) {
	ctx := context.Background()
	r := render(t, "default")
	var rbac rendered
	for _, o := range r {
		switch o.GetKind() {
		case "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
			rbac = append(rbac, o)
		}
	}
	applyForReal(t, rbac)
	dep := decode[appsv1.Deployment](t, r.get(t, "Deployment", "roster-controller-manager"))
	sa := "system:serviceaccount:" + dep.Namespace + ":" + dep.Spec.Template.Spec.ServiceAccountName
	saGroups := []string{"system:serviceaccounts", "system:serviceaccounts:" + dep.Namespace, "system:authenticated"}
	awaitGranted(t, rbac, &rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: dep.Spec.Template.Spec.ServiceAccountName, Namespace: dep.Namespace}, sa, saGroups)

	// A tenant: its namespace and Organization, and a token written by an admin.
	const orgName = "rbac-acme"
	ensureNamespace(t, orgName)
	org := &rosterv1.Organization{}
	org.Name, org.Spec.Namespace = orgName, orgName
	org.Spec.Access = ceilingAccess()
	admin, err := client.New(restConfig, client.Options{Scheme: app.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(ctx, org); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	tok := rotateAsPlatformAdmin(t, orgName)

	// The manager, as the ServiceAccount, every apiserver answer recorded.
	cfg := rest.CopyConfig(restConfig)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: sa, Groups: saGroups}
	rec := &requestLog{}
	cfg.Wrap(rec.wrap)
	metricsAddr := testenv.FreeAddr(t)
	roster, err := app.New(cfg, app.Config{
		Namespace: installNamespace, SCIMAddr: "127.0.0.1:0", MetricsAddr: metricsAddr, ProbeAddr: "0",
		LeaderElection: true, LeaderElectionNamespace: installNamespace,
		IdentityStore: "sqlite://" + filepath.Join(t.TempDir(), "roster.db"),
		// The webhook's configuration is not installed in this apiserver.
		Webhook: app.WebhookConfig{Disabled: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- roster.Manager.Start(mctx) }()
	stopManager := sync.OnceFunc(func() { stop(); <-done })
	t.Cleanup(stopManager)
	select {
	case <-roster.SCIM.Ready():
	case err := <-done:
		t.Fatalf("manager stopped: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("SCIM server did not start")
	}
	base := "http://" + roster.SCIM.Addr()
	okta := scimtest.New(base, orgName, tok)
	entra := scimtest.New(base, orgName, tok)
	entra.UserAgent = "Azure-AD-SCIM-Provisioning-Client/1.0"
	pushOkta(t, okta)
	pushEntra(t, entra)
	// The pushed team bound to a role the install lets Roster bind, and to one it does not.
	checkBindCeiling(t, admin, orgName, "Engineering")
	// The webhook asks who Roster is at startup (SelfSubjectReview), as the ServiceAccount.
	if who, err := admission.SelfIdentity(ctx, cfg); err != nil || who != sa {
		t.Errorf("SelfIdentity as the ServiceAccount: %q, %v; want %s", who, err, sa)
	}
	// Prometheus, bound as config/prometheus binds it, scrapes: the manager's TokenReview and
	// SubjectAccessReview go out as the ServiceAccount too.
	scrapeAsPrometheus(t, metricsAddr)

	// The controllers write everything to the identity store; the org then reports it.
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		var o rosterv1.Organization
		if err := admin.Get(ctx, client.ObjectKey{Name: orgName}, &o); err != nil {
			return false, nil
		}
		for _, c := range o.Status.Conditions {
			if c.Type == rosterv1.ConditionSynced && c.Status == metav1.ConditionTrue && o.Status.Users > 0 && c.ObservedGeneration == o.Generation {
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		t.Errorf("the organization never reported everything synced to the identity store")
	}
	stopManager()

	if denied := rec.forbidden(); len(denied) > 0 {
		t.Errorf("the install's RBAC refused the manager %d request(s); first ones:\n%s", len(denied), strings.Join(denied[:min(len(denied), 10)], "\n"))
	}
	if rec.count() < 20 {
		t.Fatalf("only %d apiserver requests recorded: the manager did not run as the ServiceAccount", rec.count())
	}

	// What the manager's account must never be able to do.
	c, err := client.New(cfg, client.Options{Scheme: app.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	lease := func(ns string) *coordinationv1.Lease {
		l := &coordinationv1.Lease{}
		l.Namespace, l.Name = ns, "roster-squat"
		return l
	}
	secret := func(ns, name string) *corev1.Secret {
		s := &corev1.Secret{}
		s.Namespace, s.Name = ns, name
		s.StringData = map[string]string{token.HashKey: "sha256:00"}
		return s
	}
	for _, tc := range []struct {
		what string
		do   func() error
	}{
		{"read a Secret in kube-system", func() error {
			return c.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: "any"}, &corev1.Secret{})
		}},
		{"list Secrets cluster-wide", func() error { return c.List(ctx, &corev1.SecretList{}) }},
		{"read a Secret in a tenant namespace", func() error {
			return c.Get(ctx, client.ObjectKey{Namespace: orgName, Name: "scim-token"}, &corev1.Secret{})
		}},
		{"write a token Secret in a tenant namespace", func() error { return c.Create(ctx, secret(orgName, "scim-token")) }},
		{"write a token Secret in its own namespace", func() error { return c.Create(ctx, secret(installNamespace, token.SecretName("other"))) }},
		{"write a Lease in kube-system", func() error { return c.Create(ctx, lease("kube-system")) }},
		{"write a Lease in a tenant namespace", func() error { return c.Create(ctx, lease(orgName)) }},
		{"read Leases in kube-system", func() error { return c.List(ctx, &coordinationv1.LeaseList{}, client.InNamespace("kube-system")) }},
		{"create an Organization", func() error {
			o := &rosterv1.Organization{}
			o.Name, o.Spec.Namespace = "rbac-rogue", "kube-system"
			return c.Create(ctx, o)
		}},
	} {
		if err := tc.do(); !apierrors.IsForbidden(err) {
			t.Errorf("the manager's account may %s: err = %v, want Forbidden", tc.what, err)
		}
	}
}

// scrapeAsPrometheus applies config/prometheus's binding, makes its ServiceAccount and a token
// for it, and scrapes the manager's metrics with that token.
func scrapeAsPrometheus(t *testing.T, addr string) {
	t.Helper()
	ctx := context.Background()
	crb := decode[rbacv1.ClusterRoleBinding](t, render(t, "prometheus").get(t, "ClusterRoleBinding", "metrics-reader-prometheus"))
	crb.RoleRef.Name = namePrefix + crb.RoleRef.Name // as config/default's namePrefix renames it
	if err := k8s.Create(ctx, crb); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	subject := crb.Subjects[0]
	ensureNamespace(t, subject.Namespace)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: subject.Namespace, Name: subject.Name}}
	if err := k8s.Create(ctx, sa); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	tr, err := kubernetes.NewForConfigOrDie(restConfig).CoreV1().ServiceAccounts(sa.Namespace).CreateToken(ctx, sa.Name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	httpc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // self-signed
	var code int
	var body []byte
	_ = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+tr.Status.Token)
		resp, err := httpc.Do(req)
		if err != nil {
			return false, nil // not listening yet
		}
		defer resp.Body.Close()
		code = resp.StatusCode
		body, _ = io.ReadAll(resp.Body)
		return true, nil
	})
	if code != http.StatusOK || !strings.Contains(string(body), "scim_requests_total") {
		t.Errorf("Prometheus's scrape: %d, want 200 with scim_requests_total\n%.300s", code, body)
	}
}

// rotateAsPlatformAdmin rotates the org's token as a person holding exactly what
// docs/operations.md says `roster token rotate` needs: the install's token rotator Role in
// Roster's namespace and the organization viewer ClusterRole. A namespace editor of the
// organization cannot rotate.
func rotateAsPlatformAdmin(t *testing.T, org string) string {
	t.Helper()
	ctx := context.Background()
	const person, editor = "platform-admin@example.com", "tenant-editor@example.com"
	bind := func(b client.Object) {
		if err := k8s.Create(ctx, b); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	user := []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: person}}
	bind(&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: installNamespace, Name: "rotate-tokens"},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: namePrefix + "token-rotator-role"}, Subjects: user})
	bind(&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "read-orgs"},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: namePrefix + "organization-viewer-role"}, Subjects: user})
	bind(&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: org, Name: "tenant-edit"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:aggregate-to-edit"},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: editor}}})
	as := func(name string) client.Client {
		cfg := rest.CopyConfig(restConfig)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: name, Groups: []string{"system:authenticated"}}
		c, err := client.New(cfg, client.Options{Scheme: app.NewScheme()})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if _, err := token.Rotate(ctx, as(editor), installNamespace, org, 0); !apierrors.IsForbidden(err) {
		t.Errorf("a namespace editor rotated the token: err = %v, want forbidden", err)
	}
	// The apiserver's authorizer follows RBAC through its own watch: right after the bindings
	// above are written it may still refuse the person (and a refused write wrote nothing).
	var tok string
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		tok, err = token.Rotate(ctx, as(person), installNamespace, org, 0)
		if apierrors.IsForbidden(err) {
			return false, nil
		}
		return true, err
	}); err != nil {
		t.Fatalf("rotating with the documented roles: %v", err)
	}
	return tok
}

// awaitGranted waits until the apiserver's authorizer, which follows RBAC through its own
// watch, grants user (a member of groups) the first rule of every role that objs bind to the
// ServiceAccount sa: right after the install's RBAC is applied, the manager's first requests
// could otherwise be refused, which the test counts as the install's RBAC falling short.
func awaitGranted(t *testing.T, objs rendered, sa *rbacv1.Subject, user string, groups []string) {
	t.Helper()
	rules := map[string]rbacv1.PolicyRule{} // kind/namespace/name of a role → its first rule
	for _, kind := range []string{"ClusterRole", "Role"} {
		for _, o := range objs.ofKind(kind) {
			if r := decode[rbacv1.ClusterRole](t, o); len(r.Rules) > 0 {
				rules[kind+"/"+o.GetNamespace()+"/"+o.GetName()] = r.Rules[0]
			}
		}
	}
	checked := 0
	for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
		for _, o := range objs.ofKind(kind) {
			b := decode[rbacv1.RoleBinding](t, o)
			if !slices.ContainsFunc(b.Subjects, func(s rbacv1.Subject) bool {
				return s.Kind == sa.Kind && s.Name == sa.Name && s.Namespace == sa.Namespace
			}) {
				continue
			}
			roleNS := ""
			if b.RoleRef.Kind == "Role" {
				roleNS = b.Namespace
			}
			rule, ok := rules[b.RoleRef.Kind+"/"+roleNS+"/"+b.RoleRef.Name]
			if !ok || len(rule.Verbs) == 0 || len(rule.Resources) == 0 || len(rule.APIGroups) == 0 {
				continue
			}
			attrs := &authorizationv1.ResourceAttributes{Namespace: b.Namespace, Verb: rule.Verbs[0],
				Group: rule.APIGroups[0], Resource: rule.Resources[0]}
			if len(rule.ResourceNames) > 0 {
				attrs.Name = rule.ResourceNames[0]
			}
			checked++
			if err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
				sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
					User: user, Groups: groups, ResourceAttributes: attrs}}
				if err := k8s.Create(ctx, sar); err != nil {
					return false, err
				}
				return sar.Status.Allowed, nil
			}); err != nil {
				t.Fatalf("%s %s/%s does not grant %s %+v: %v", kind, b.Namespace, b.Name, user, *attrs, err)
			}
		}
	}
	if checked == 0 {
		t.Fatalf("no role of the install is bound to %s/%s", sa.Namespace, sa.Name)
	}
}

// pushOkta sends what Okta sends for a user's lifecycle and a group push (IDP-REQUESTS.md).
func pushOkta(t *testing.T, c *scimtest.Client) {
	t.Helper()
	c.Do(t, http.MethodGet, `/Users?filter=userName%20eq%20%22ada%40example.com%22&startIndex=1&count=100`, nil).Expect(t, http.StatusOK)
	ada := c.Do(t, http.MethodPost, "/Users", oktaUserBody("ada@example.com")).Expect(t, http.StatusCreated).String("id")
	bob := c.Do(t, http.MethodPost, "/Users", oktaUserBody("bob@example.com")).Expect(t, http.StatusCreated).String("id")
	got := c.Do(t, http.MethodGet, "/Users/"+ada, nil).Expect(t, http.StatusOK)
	got.Body["displayName"] = "Ada L."
	c.Do(t, http.MethodPut, "/Users/"+ada, got.Body).Expect(t, http.StatusOK)
	group := c.Do(t, http.MethodPost, "/Groups", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "Eng", "members": []any{},
	}).Expect(t, http.StatusCreated).String("id")
	c.Do(t, http.MethodPatch, "/Groups/"+group, patchOps(
		map[string]any{"op": "replace", "value": map[string]any{"id": group, "displayName": "Engineering"}},
		map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": ada}, map[string]any{"value": bob}}},
	)).Expect(t, http.StatusNoContent)
	c.Do(t, http.MethodPatch, "/Groups/"+group, patchOps(
		map[string]any{"op": "remove", "path": fmt.Sprintf(`members[value eq "%s"]`, bob)},
	)).Expect(t, http.StatusNoContent)
	c.Do(t, http.MethodPatch, "/Users/"+bob, patchOps(map[string]any{"op": "replace", "value": map[string]any{"active": false}})).Expect(t, http.StatusOK)
	c.Do(t, http.MethodGet, "/Groups?filter=displayName%20eq%20%22Engineering%22", nil).Expect(t, http.StatusOK)
	other := c.Do(t, http.MethodPost, "/Groups", map[string]any{"displayName": "Short-lived"}).Expect(t, http.StatusCreated).String("id")
	c.Do(t, http.MethodDelete, "/Groups/"+other, nil).Expect(t, http.StatusNoContent)
}

// pushEntra sends Entra ID's shapes: PATCH with paths and string booleans, group member adds
// by path, and DELETE of a user.
func pushEntra(t *testing.T, c *scimtest.Client) {
	t.Helper()
	c.Do(t, http.MethodGet, `/Users?filter=userName+eq+%22cy%40example.com%22`, nil).Expect(t, http.StatusOK)
	cy := c.Do(t, http.MethodPost, "/Users", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "cy@example.com", "active": true,
		"externalId": "cy", "name": map[string]any{"givenName": "Cy", "familyName": "Young"},
		"emails": []any{map[string]any{"primary": true, "type": "work", "value": "cy@example.com"}},
	}).Expect(t, http.StatusCreated).String("id")
	c.Do(t, http.MethodPatch, "/Users/"+cy, patchOps(
		map[string]any{"op": "Replace", "path": "name.familyName", "value": "Yang"},
		map[string]any{"op": "Replace", "path": "active", "value": "False"},
	)).Expect(t, http.StatusOK)
	group := c.Do(t, http.MethodPost, "/Groups", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "Ops", "externalId": "ops",
	}).Expect(t, http.StatusCreated).String("id")
	c.Do(t, http.MethodPatch, "/Groups/"+group, patchOps(
		map[string]any{"op": "Add", "path": "members", "value": []any{map[string]any{"value": cy}}},
	)).Expect(t, http.StatusNoContent)
	c.Do(t, http.MethodDelete, "/Users/"+cy, nil).Expect(t, http.StatusNoContent)
}

func oktaUserBody(userName string) map[string]any {
	return map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": userName, "active": true,
		"name":   map[string]any{"givenName": "A", "familyName": "B"},
		"emails": []any{map[string]any{"primary": true, "value": userName, "type": "work"}},
		"groups": []any{}, "password": "never-stored-1!",
	}
}

func patchOps(ops ...map[string]any) map[string]any {
	return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": ops}
}

// requestLog records every apiserver request of a rest config and its status.
type requestLog struct {
	mu   sync.Mutex
	seen []string
	bad  []string
}

func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		if err == nil {
			line := fmt.Sprintf("%s %s -> %d", req.Method, req.URL.Path, resp.StatusCode)
			l.mu.Lock()
			l.seen = append(l.seen, line)
			if resp.StatusCode == http.StatusForbidden && !slices.Contains(l.bad, line) {
				l.bad = append(l.bad, line)
			}
			l.mu.Unlock()
		}
		return resp, err
	})
}

func (l *requestLog) forbidden() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.bad)
}

func (l *requestLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen)
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// applyForReal creates (server-side applies) the objects, namespaced ones without a namespace
// in the install's.
func applyForReal(t *testing.T, objs rendered) {
	t.Helper()
	ctx := context.Background()
	for _, o := range objs.ofKind("Namespace") {
		ensureNamespace(t, o.GetName())
	}
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			continue
		}
		o = o.DeepCopy()
		if err := k8s.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner(fieldOwner), client.ForceOwnership); err != nil {
			t.Fatalf("applying %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
}
