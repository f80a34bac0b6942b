package hardening

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/testutil/testenv"
)

// TestMetricsRequireAuthorization: the manager's metrics are served over HTTPS, refused to
// an anonymous scrape and to a ServiceAccount without the right, and served to one bound to
// the install's metrics reader role (config/rbac/metrics_reader_role.yaml: get /metrics).
func TestMetricsRequireAuthorization(t *testing.T) {
	addr := testenv.FreeAddr(t)
	env.StartRoster(t, func(c *app.Config) { c.MetricsAddr = addr })
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(env.Config)

	// The reader role, as config/rbac has it, and two ServiceAccounts: one bound to it.
	reader := &rbacv1.ClusterRole{Rules: []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}}
	reader.Name = "test-metrics-reader"
	if err := env.Client.Create(ctx, reader); err != nil {
		t.Fatal(err)
	}
	const ns = "default"
	tokenFor := func(name string) string {
		sa := &corev1.ServiceAccount{}
		sa.Namespace, sa.Name = ns, name
		if err := env.Client.Create(ctx, sa); err != nil {
			t.Fatal(err)
		}
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	allowed, denied := tokenFor("prometheus"), tokenFor("nosy")
	crb := &rbacv1.ClusterRoleBinding{
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: reader.Name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ns, Name: "prometheus"}},
	}
	crb.Name = "test-metrics-reader-prometheus"
	if err := env.Client.Create(ctx, crb); err != nil {
		t.Fatal(err)
	}

	// The server's certificate is self-signed (no --metrics-cert-dir): what is checked here is
	// who may read, not the certificate chain.
	httpc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	scrape := func(bearer string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/metrics", nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := httpc.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	// The metrics server starts with the manager; wait until it answers at all.
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		code, _ := scrape("")
		return code != 0, nil
	}); err != nil {
		t.Fatal("the metrics server does not answer over HTTPS")
	}
	if code, body := scrape(""); code != http.StatusUnauthorized {
		t.Errorf("anonymous scrape: %d, want 401\n%.200s", code, body)
	}
	// A token the apiserver rejects: controller-runtime's filter answers 500 ("Authentication
	// failed", its TokenReview call returned an error) rather than 401; either way, no metrics.
	if code, body := scrape("not-a-token"); code == http.StatusOK || strings.Contains(body, "controller_runtime_") {
		t.Errorf("scrape with a bogus token: %d, want a refusal\n%.200s", code, body)
	}
	if code, body := scrape(denied); code != http.StatusForbidden {
		t.Errorf("scrape by a ServiceAccount without the reader role: %d, want 403\n%.200s", code, body)
	}
	code, body := scrape(allowed)
	if code != http.StatusOK || !strings.Contains(body, "scim_request") && !strings.Contains(body, "controller_runtime_") {
		t.Errorf("scrape by the reader: %d, want 200 with metrics\n%.300s", code, body)
	}
	// Plain HTTP gets no metrics.
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/metrics"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || strings.Contains(string(b), "controller_runtime_") {
			t.Errorf("plain HTTP scrape answered %d with metrics", resp.StatusCode)
		}
	}
}
