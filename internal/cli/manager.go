package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/controllers"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/identitystore/open"
	"github.com/rosterhq/roster/internal/token"
	"github.com/rosterhq/roster/webhook/scim"
)

// managerFlags binds the flags `roster manager` and `roster dev` share.
func managerFlags(fs *flag.FlagSet, cfg *app.Config, proxies *stringList) {
	fs.StringVar(&cfg.ExternalURL, "external-url", "", "public scheme://host of the SCIM endpoint, used in meta.location (default: from the request)")
	fs.Var(proxies, "trusted-proxies", "CIDRs of proxies (the ingress) whose X-Forwarded-* headers are trusted (meta.location's scheme, the client address in audit lines); repeatable")
	fs.Int64Var(&cfg.MaxUserBodyBytes, "max-user-body-bytes", scim.DefaultMaxUserBodyBytes, "largest accepted /Users request body")
	fs.Int64Var(&cfg.MaxGroupBodyBytes, "max-group-body-bytes", scim.DefaultMaxGroupBodyBytes, "largest accepted /Groups request body")
	fs.IntVar(&cfg.MaxBulkOperations, "max-bulk-operations", scim.DefaultMaxBulkOperations, "most operations accepted in one SCIM /Bulk request (maxOperations)")
	fs.Int64Var(&cfg.MaxBulkBodyBytes, "max-bulk-body-bytes", scim.DefaultMaxBulkBodyBytes, "largest accepted /Bulk request body (maxPayloadSize)")
	fs.DurationVar(&cfg.TokenMaxAge, "token-max-age", 90*24*time.Hour, "SCIM token age past which an Organization warns (condition TokenFresh=False and an event); 0 disables")
	fs.Float64Var(&cfg.RateLimit, "rate-limit", scim.DefaultRateLimit, "SCIM requests per second allowed per organization on each replica, sustained (0 disables); beyond it 429 with Retry-After")
	fs.IntVar(&cfg.RateBurst, "rate-burst", scim.DefaultRateBurst, "SCIM requests per organization allowed at once above the sustained rate")
	fs.DurationVar(&cfg.SyncPeriod, "resync-interval", 10*time.Hour, "how often every object is reconciled again, repairing drift")
	fs.StringVar(&cfg.IdentityStore, "identity-store", "", "URL of the identity store the controllers write users, teams and memberships to: "+
		"sqlite:///path/roster.db or postgres://user:pass@host/db (default: $"+identityStoreEnv+"; roster dev: sqlite://<data-dir>/roster.db)")
	fs.DurationVar(&cfg.StoreResyncInterval, "store-resync-interval", controllers.DefaultStoreResyncInterval,
		"how often every team's memberships are compared with the identity store, reverting drift in SCIM-managed teams (PostgreSQL also notifies at once)")
	fs.StringVar(&cfg.Webhook.BreakGlassGroup, "break-glass-group", "", "group whose members may edit SCIM-managed teams in an emergency, with the annotation "+
		rosterv1.BreakGlassAnnotation+": <reason> (logged, a Warning event; the identity provider's next write reverts it); empty disables break-glass")
	fs.BoolVar(&cfg.APIServerCompression, "apiserver-compression", false, "let the apiserver gzip its answers (large reads and lists, watch-list streams): only worth its CPU on both ends over a slow link to a distant apiserver")
	fs.StringVar(&cfg.Organizations, "organizations", "", "label selector on Organizations, e.g. roster.dev/shard=a: serve and cache only the organizations it selects "+
		"(their namespaces only), answer the others like unknown ones, and elect a leader of this shard's own; a change of the selected set restarts the replicas one at a time (default: every organization)")
	fs.Var((*stringList)(&cfg.Webhook.SCIMIdentities), "scim-identity", "username allowed to write OrgUsers, SCIM-managed OrgTeams and their member slices; repeatable (default: Roster's own user, from a SelfSubjectReview)")
}

// shutdownFlags binds the graceful-shutdown flags; drain is the default drain delay (5s in a
// cluster, where endpoints take a few seconds to drop a pod; 0 in `roster dev`).
func shutdownFlags(fs *flag.FlagSet, cfg *app.Config, drain time.Duration) {
	fs.DurationVar(&cfg.ShutdownDrainDelay, "shutdown-drain-delay", drain, "on SIGTERM, how long to keep serving SCIM with /readyz failing, so endpoints and load balancers stop sending requests first")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", scim.DefaultShutdownTimeout, "on SIGTERM, after the drain delay, how long SCIM requests and membership commits in flight may take; later ones are answered 503 with Retry-After")
}

// identityStoreEnv names the environment variable that gives the store URL when the flag is
// not set: in a cluster it comes from a Secret, since a PostgreSQL URL holds a password.
const identityStoreEnv = "ROSTER_IDENTITY_STORE"

// requireIdentityStore fills the store URL from the environment and refuses to run without
// one: a default SQLite file inside a pod would be one private, ephemeral database per replica,
// which no other application could read.
func requireIdentityStore(cfg *app.Config) error {
	if cfg.IdentityStore == "" {
		cfg.IdentityStore = os.Getenv(identityStoreEnv)
	}
	if cfg.IdentityStore == "" {
		return fmt.Errorf("--identity-store or $%s is required, e.g. postgres://roster:PASSWORD@db:5432/roster", identityStoreEnv)
	}
	return open.Validate(cfg.IdentityStore)
}

// runManager implements `roster manager`, the in-cluster entry point.
func runManager(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg app.Config
	var proxies stringList
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: in-cluster)")
	fs.StringVar(&cfg.SCIMAddr, "scim-bind-address", ":8080", "address the SCIM server listens on")
	fs.StringVar(&cfg.MetricsAddr, "metrics-bind-address", ":8082", "address of the metrics endpoint (0 disables)")
	fs.BoolVar(&cfg.MetricsInsecure, "metrics-insecure", false, "serve metrics over plain HTTP without authentication (default: HTTPS, only to callers the apiserver authorizes for GET /metrics)")
	fs.StringVar(&cfg.MetricsCertDir, "metrics-cert-dir", "", "directory with the metrics server's tls.crt and tls.key (default: a self-signed certificate generated at startup)")
	fs.StringVar(&cfg.ProbeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	fs.StringVar(&cfg.PprofAddr, "pprof-bind-address", "", "address of Go's /debug/pprof profiles, unauthenticated: bind it to loopback and use it only to find what holds memory (default: off)")
	fs.BoolVar(&cfg.LeaderElection, "leader-elect", true, "run controllers on one replica at a time (SCIM serves on all)")
	fs.StringVar(&cfg.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election Lease (default: the pod's)")
	fs.StringVar(&cfg.Namespace, "namespace", envOr("POD_NAMESPACE", token.DefaultNamespace), "Roster's own namespace, where the organizations' token Secrets are (default: $POD_NAMESPACE, else "+token.DefaultNamespace+")")
	fs.IntVar(&cfg.Webhook.Port, "webhook-bind-port", 9443, "port of the admission webhook server (every replica)")
	fs.StringVar(&cfg.Webhook.CertDir, "webhook-cert-dir", filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs"), "directory with the admission webhook's tls.crt and tls.key")
	managerFlags(fs, &cfg, &proxies)
	shutdownFlags(fs, &cfg, 5*time.Second)
	lo := logFlags(fs, logFormatJSON)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.TrustedProxies = proxies
	setupLogging(lo, stderr, nil)
	if err := applyMemoryLimit(ctrl.Log, os.Getenv); err != nil {
		return err
	}
	if err := requireIdentityStore(&cfg); err != nil {
		return err
	}
	restCfg, err := restConfig(*kubeconfig)
	if err != nil {
		return err
	}
	r, err := app.New(restCfg, cfg)
	if err != nil {
		return err
	}
	ctrl.Log.Info("starting manager", "scim", cfg.SCIMAddr)
	return r.Manager.Start(ctx)
}

// envOr returns the environment variable's value, or def when it is unset or empty.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
