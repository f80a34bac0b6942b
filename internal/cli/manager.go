package cli

import (
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/webhook/scim"
)

// managerFlags binds the flags `roster manager` and `roster dev` share.
func managerFlags(fs *flag.FlagSet, cfg *app.Config, proxies *stringList) {
	fs.StringVar(&cfg.ExternalURL, "external-url", "", "public scheme://host of the SCIM endpoint, used in meta.location (default: from the request)")
	fs.Var(proxies, "trusted-proxies", "CIDRs of proxies (the ingress) whose X-Forwarded-* headers are trusted; repeatable")
	fs.Int64Var(&cfg.MaxUserBodyBytes, "max-user-body-bytes", scim.DefaultMaxUserBodyBytes, "largest accepted /Users request body")
	fs.Int64Var(&cfg.MaxGroupBodyBytes, "max-group-body-bytes", scim.DefaultMaxGroupBodyBytes, "largest accepted /Groups request body")
	fs.DurationVar(&cfg.SyncPeriod, "resync-interval", 10*time.Hour, "how often every object is reconciled again, repairing drift")
	fs.Var((*stringList)(&cfg.Webhook.SCIMIdentities), "scim-identity", "username allowed to write OrgUsers, SCIM-managed OrgTeams and their member slices; repeatable (default: Roster's own user, from a SelfSubjectReview)")
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
	fs.StringVar(&cfg.ProbeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	fs.BoolVar(&cfg.LeaderElection, "leader-elect", true, "run controllers on one replica at a time (SCIM serves on all)")
	fs.StringVar(&cfg.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election Lease (default: the pod's)")
	fs.IntVar(&cfg.Webhook.Port, "webhook-bind-port", 9443, "port of the admission webhook server (every replica)")
	fs.StringVar(&cfg.Webhook.CertDir, "webhook-cert-dir", filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs"), "directory with the admission webhook's tls.crt and tls.key")
	managerFlags(fs, &cfg, &proxies)
	zo := zapFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.TrustedProxies = proxies
	setupLogging(zo, stderr)
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
