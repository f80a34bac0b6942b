package shard_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/testutil/testenv"
)

// env is a real kube-apiserver + etcd with Roster's webhook configuration installed, pointed
// at webhookShard's webhook server.
var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.RunWithWebhook(m, &env)) }

// webhookSelector selects no organization of these tests: the shard serving the package's
// admission webhook holds none of their namespaces, like the shard a webhook call reaches
// for another shard's organization.
const webhookSelector = "roster.dev/shard=webhook"

var webhookOnce sync.Once

// webhookShard starts, once, the shard that serves the admission webhook for the package.
func webhookShard(t *testing.T) {
	t.Helper()
	webhookOnce.Do(func() {
		env.StartSharedRoster(t, func(c *app.Config) { c.Organizations = webhookSelector })
	})
}

// replica is one running manager of a shard.
type replica struct {
	*app.Roster
	cfg     app.Config
	baseURL string
	done    chan error
	cancel  context.CancelFunc
	// stoppedAt is when the manager returned; read it after receiving from done.
	stoppedAt time.Time
}

// startShard runs a manager that serves the organizations selector picks, with its own
// controllers (leader-elected in "default"), a SQLite identity store and no webhook server.
// identity names the replica across restarts (its pod).
func startShard(t *testing.T, selector, identity, store string) *replica {
	t.Helper()
	webhookShard(t)
	cfg := app.Config{SCIMAddr: "127.0.0.1:0", MetricsAddr: "0", ProbeAddr: "0",
		Organizations: selector, Identity: identity, ShardRestartDelay: 50 * time.Millisecond,
		LeaderElection: true, LeaderElectionNamespace: "default",
		IdentityStore: store, Webhook: app.WebhookConfig{Disabled: true}}
	return runReplica(t, cfg)
}

func runReplica(t *testing.T, cfg app.Config) *replica {
	t.Helper()
	r, err := app.New(env.Config, cfg)
	if err != nil {
		t.Fatalf("building manager: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rep := &replica{Roster: r, cfg: cfg, done: make(chan error, 1), cancel: cancel}
	go func() {
		err := r.Manager.Start(ctx)
		rep.stoppedAt = time.Now()
		rep.done <- err
	}()
	t.Cleanup(rep.stop)
	select {
	case <-r.SCIM.Ready():
	case err := <-rep.done:
		rep.done <- err
		t.Fatalf("manager stopped: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("SCIM server did not start within 60s")
	}
	rep.baseURL = "http://" + r.SCIM.Addr()
	return rep
}

// stop stops the manager (if it is still running) and waits for it.
func (r *replica) stop() {
	r.cancel()
	err := <-r.done
	r.done <- err
}

// restart starts the same replica again, as the kubelet restarts its container.
func (r *replica) restart(t *testing.T) *replica {
	t.Helper()
	r.stop()
	return runReplica(t, r.cfg)
}

func sqliteURL(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "roster.db") }
