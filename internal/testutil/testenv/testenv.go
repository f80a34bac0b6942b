// Package testenv gives tests a real kube-apiserver + etcd with Roster's CRDs, and helpers to
// run Roster's manager against it and to create organizations with tokens.
package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/cachetrim"
	"github.com/rosterhq/roster/internal/controlplane"
	"github.com/rosterhq/roster/internal/token"
)

// Env is a running control plane.
type Env struct {
	Environment *envtest.Environment
	Config      *rest.Config
	// Client talks to the apiserver directly (no cache).
	Client client.Client

	// webhook is what StartRoster serves the admission webhook with: disabled unless the
	// control plane installed it (StartWithWebhook).
	webhook app.WebhookConfig
	atStop  []func()
}

// AtStop registers f to run before the control plane stops (e.g. stopping a shared manager,
// whose open watches would otherwise hold the apiserver's shutdown).
func (e *Env) AtStop(f func()) { e.atStop = append(e.atStop, f) }

// Run starts a control plane, sets *env, runs the package's tests and stops it. Use it from
// TestMain: os.Exit(testenv.Run(m, &env)).
func Run(m *testing.M, env **Env) int { return run(m, env, Start) }

// RunWithWebhook is Run with Roster's admission webhook installed (StartWithWebhook).
func RunWithWebhook(m *testing.M, env **Env) int { return run(m, env, StartWithWebhook) }

func run(m *testing.M, env **Env, start func() (*Env, error)) int {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapLevel()), newLogger()))
	e, err := start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	*env = e
	code := m.Run()
	// The manager caches of the package's tests share labels maps between cached objects: a
	// test that passed while some reader wrote into one (instead of a copy) fails the run.
	if err := cachetrim.CheckShared(); err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		code = 1
	}
	for i := len(e.atStop) - 1; i >= 0; i-- {
		e.atStop[i]()
	}
	if err := e.Environment.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "testenv: stopping:", err)
	}
	// Every log line of the package, at every level, was captured: no token handed out by
	// NewOrg (nor its hash) may appear in any of them.
	return checkLeaks(code)
}

// Start starts a control plane with the CRDs installed.
func Start() (*Env, error) { return start(false, nil) }

// StartWithWebhook also installs Roster's ValidatingWebhookConfiguration (failurePolicy
// Fail): every OrgUser, OrgTeam, OrgTeamMemberSlice and OrgTeamNameClaim write is refused
// until a Roster from StartRoster serves the webhook, which it then does.
func StartWithWebhook() (*Env, error) { return start(true, nil) }

// StartRestartable starts a control plane whose kube-apiserver can be stopped and started
// again (StopAPIServer, StartAPIServer) with the same address and certificates, so clients
// built before the stop work after the restart. The caller stops it with Environment.Stop.
func StartRestartable(certDir string) (*Env, error) {
	return start(false, func(te *envtest.Environment) {
		te.ControlPlane.APIServer = &envtest.APIServer{CertDir: certDir}
	})
}

// StopAPIServer stops the kube-apiserver, leaving etcd running.
func (e *Env) StopAPIServer() error { return e.Environment.ControlPlane.APIServer.Stop() }

// StartAPIServer starts a stopped kube-apiserver again.
func (e *Env) StartAPIServer() error { return e.Environment.ControlPlane.APIServer.Start() }

func start(withWebhook bool, prepare func(*envtest.Environment)) (*Env, error) {
	te, err := controlplane.New("")
	if err != nil {
		return nil, err
	}
	if prepare != nil {
		prepare(te)
	}
	if withWebhook {
		if err := controlplane.InstallWebhook(te); err != nil {
			return nil, err
		}
	}
	cfg, err := te.Start()
	if err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd: %w", err)
	}
	cfg.QPS, cfg.Burst = 1000, 2000 // tests create many objects; client-side throttling only hides bugs
	c, err := client.New(cfg, client.Options{Scheme: app.NewScheme()})
	if err != nil {
		_ = te.Stop()
		return nil, err
	}
	// Roster's own namespace, where the token Secrets are.
	rosterNS := &corev1.Namespace{}
	rosterNS.Name = token.DefaultNamespace
	if err := c.Create(context.Background(), rosterNS); err != nil {
		_ = te.Stop()
		return nil, fmt.Errorf("creating namespace %s: %w", rosterNS.Name, err)
	}
	e := &Env{Environment: te, Config: cfg, Client: c, webhook: app.WebhookConfig{Disabled: true}}
	if withWebhook {
		e.webhook = app.WebhookConfig{}
		if e.webhook.Host, e.webhook.Port, e.webhook.CertDir, err = controlplane.WebhookServing(te); err != nil {
			_ = te.Stop()
			return nil, err
		}
	}
	return e, nil
}

func zapLevel() zapcore.Level {
	if os.Getenv("ROSTER_TEST_VERBOSE") != "" {
		return -1
	}
	return 2 // errors only: keep test output readable
}

var orgSeq atomic.Int64

// Org is an organization created for a test, with its plaintext token.
type Org struct {
	Name, Namespace, Token string
}

// NewOrg creates a namespace, an Organization and a token for one test. Names are unique per
// process, so tests sharing a control plane never see each other's objects.
func (e *Env) NewOrg(t testing.TB, prefix string) Org {
	t.Helper()
	return e.NewOrgWith(t, prefix, nil)
}

// NewOrgWith is NewOrg with the Organization changed by mutate before it is created, so that
// a manager never sees it without the change.
func (e *Env) NewOrgWith(t testing.TB, prefix string, mutate func(*rosterv1.Organization)) Org {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("%s-%d-%d", strings.ToLower(prefix), os.Getpid()%10000, orgSeq.Add(1))
	ns := &corev1.Namespace{}
	ns.Name = name
	if err := e.Client.Create(ctx, ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	org := &rosterv1.Organization{}
	org.Name = name
	org.Spec.Namespace = name
	if mutate != nil {
		mutate(org)
	}
	if err := e.Client.Create(ctx, org); err != nil {
		t.Fatalf("creating organization: %v", err)
	}
	tok, err := token.Rotate(ctx, e.Client, token.DefaultNamespace, name, 0)
	if err != nil {
		t.Fatalf("rotating token: %v", err)
	}
	captured.remember(tok)
	return Org{Name: name, Namespace: name, Token: tok}
}

// StartSharedRoster is StartRoster for a manager shared by many tests: it is stopped when
// the package's tests end, not when t ends.
func (e *Env) StartSharedRoster(t testing.TB, mutate func(*app.Config)) *Roster {
	t.Helper()
	r := e.StartRoster(sharedTB{t}, mutate)
	e.AtStop(r.Stop)
	return r
}

// sharedTB ignores Cleanup so a shared manager outlives the test that started it.
type sharedTB struct{ testing.TB }

func (sharedTB) Cleanup(func()) {}

// Roster is a manager with its SCIM server, running against the Env.
type Roster struct {
	*app.Roster
	// BaseURL is http://addr of the SCIM server.
	BaseURL string
	stop    context.CancelFunc
	done    chan error
}

// StartRoster runs Roster's manager (controllers off leader election) with SCIM on a free
// loopback port, and stops it when the test ends. mutate may adjust the config. With the
// webhook installed (StartWithWebhook) it also serves the webhook, on the one port the
// control plane calls: a second Roster in the same package must set Webhook.Disabled.
func (e *Env) StartRoster(t testing.TB, mutate func(*app.Config)) *Roster {
	t.Helper()
	return e.StartRosterWithConfig(t, rest.CopyConfig(e.Config), mutate)
}

// StartRosterWithConfig is StartRoster with a rest config of the caller's (e.g. one that
// reaches the apiserver through a proxy the test can cut).
func (e *Env) StartRosterWithConfig(t testing.TB, restCfg *rest.Config, mutate func(*app.Config)) *Roster {
	t.Helper()
	cfg := app.Config{SCIMAddr: "127.0.0.1:0", MetricsAddr: "0", ProbeAddr: "0", Webhook: e.webhook}
	if mutate != nil {
		mutate(&cfg)
	}
	r, err := app.New(restCfg, cfg)
	if err != nil {
		t.Fatalf("building manager: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Manager.Start(ctx) }()
	select {
	case <-r.SCIM.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("manager stopped: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("SCIM server did not start within 60s")
	}
	rr := &Roster{Roster: r, BaseURL: "http://" + r.SCIM.Addr(), stop: cancel, done: done}
	t.Cleanup(rr.Stop)
	return rr
}

// Stop stops the manager and waits for it.
func (r *Roster) Stop() {
	if r.stop == nil {
		return
	}
	r.stop()
	r.stop = nil
	<-r.done
}

// Ready reports whether the SCIM server answers /readyz.
func (r *Roster) Ready() bool {
	resp, err := http.Get(r.BaseURL + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// FreeAddr returns a loopback address with a port that was free a moment ago, for servers
// that cannot report the port they bound (controller-runtime's metrics server).
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
