package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/controlplane"
	"github.com/rosterhq/roster/internal/identitystore/open"
	"github.com/rosterhq/roster/internal/token"
)

// runDev implements `roster dev`: a local kube-apiserver + etcd, the CRDs, organizations, and
// the manager with SCIM on loopback — everything Roster does, on one machine, no cluster.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg app.Config
	var proxies, orgs stringList
	fs.StringVar(&cfg.SCIMAddr, "addr", "127.0.0.1:8080", "address the SCIM server listens on")
	fs.Var(&orgs, "org", "organization to create (repeatable; default demo)")
	dataDir := fs.String("data-dir", "./.roster-dev", "where the local control plane keeps its state; a second start reuses it")
	tokenFile := fs.String("token-file", "", "also write newly generated tokens as `org token` lines to this file (mode 0600)")
	managerFlags(fs, &cfg, &proxies)
	shutdownFlags(fs, &cfg, 0)
	lo := logFlags(fs, logFormatConsole)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(orgs) == 0 {
		orgs = stringList{"demo"}
	}
	cfg.TrustedProxies = proxies
	cfg.MetricsAddr, cfg.ProbeAddr = "0", "0"

	dir, err := filepath.Abs(*dataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// The terminal shows the banner and what happens after it; the whole log, as JSON, is in
	// the data directory.
	logFile, err := openLogFile(dir)
	if err != nil {
		return err
	}
	setupLogging(lo, stderr, logFile)
	defer func() {
		setupLogging(lo, stderr, nil) // what still logs after this run goes to the terminal only
		logFile.Close()
	}()
	ctrl.Log.WithName("dev").Info("starting roster dev", "dataDir", dir, "log", logFile.Name())
	if cfg.IdentityStore == "" {
		cfg.IdentityStore = "sqlite://" + filepath.Join(dir, "roster.db")
	}
	if err := open.Validate(cfg.IdentityStore); err != nil {
		return err
	}
	env, err := controlplane.New(dir)
	if err != nil {
		return err
	}
	// The same admission webhook as in a cluster, so kubectl in dev mode is refused what it
	// would be refused there.
	if err := controlplane.InstallWebhook(env); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "Starting the local kube-apiserver and etcd...")
	restCfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("starting the control plane: %w", err)
	}
	defer func() {
		fmt.Fprintln(stderr, "Stopping the control plane...")
		if err := env.Stop(); err != nil {
			fmt.Fprintf(stderr, "stopping the control plane: %v\n", err)
		}
	}()
	if cfg.Webhook.Host, cfg.Webhook.Port, cfg.Webhook.CertDir, err = controlplane.WebhookServing(env); err != nil {
		return err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(env, kubeconfig); err != nil {
		return err
	}

	c, err := client.New(restCfg, client.Options{Scheme: app.NewScheme()})
	if err != nil {
		return err
	}
	// Roster's own namespace, where the token Secrets are.
	cfg.Namespace = token.DefaultNamespace
	if err := ensureNamespace(ctx, c, cfg.Namespace); err != nil {
		return err
	}
	tokens := map[string]string{}
	for _, org := range orgs {
		tok, err := ensureOrg(ctx, c, org)
		if err != nil {
			return err
		}
		if tok != "" {
			tokens[org] = tok
		}
	}
	if *tokenFile != "" && len(tokens) > 0 {
		if err := writeTokenFile(*tokenFile, orgs, tokens); err != nil {
			return err
		}
	}

	r, err := app.New(restCfg, cfg)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- r.Manager.Start(ctx) }()
	select {
	case err := <-errc:
		return err
	case <-r.SCIM.Ready():
	}
	printBanner(stdout, r.SCIM.Addr(), kubeconfig, cfg.IdentityStore, logFile.Name(), orgs, tokens)
	if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// ensureOrg creates the organization and its namespace if missing and, when the org has no
// token yet, generates one and returns it (the only time it is ever visible).
func ensureOrg(ctx context.Context, c client.Client, name string) (string, error) {
	if err := ensureNamespace(ctx, c, name); err != nil {
		return "", err
	}
	org := &rosterv1.Organization{}
	org.Name = name
	org.Spec.Namespace = name
	if err := c.Create(ctx, org); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("creating organization %q: %w", name, err)
	}
	if err := c.Get(ctx, types.NamespacedName{Name: name}, org); err != nil {
		return "", err
	}
	var secret corev1.Secret
	err := c.Get(ctx, token.SecretKey(token.DefaultNamespace, org.Name), &secret)
	if err == nil && token.Configured(&secret) {
		return "", nil
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return "", err
	}
	return token.Rotate(ctx, c, token.DefaultNamespace, name, 0)
}

// writeKubeconfig writes an admin kubeconfig for the local apiserver.
func writeKubeconfig(env *envtest.Environment, path string) error {
	user, err := env.AddUser(envtest.User{Name: "roster-dev-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("creating the admin user: %w", err)
	}
	b, err := user.KubeConfig()
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

func writeTokenFile(path string, orgs []string, tokens map[string]string) error {
	var b strings.Builder
	for _, org := range orgs {
		if t, ok := tokens[org]; ok {
			fmt.Fprintf(&b, "%s %s\n", org, t)
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Chmod(path, 0o600) // WriteFile keeps the mode of an existing file
}

func printBanner(w io.Writer, addr, kubeconfig, store, logFile string, orgs []string, tokens map[string]string) {
	fmt.Fprintf(w, "\nRoster is running (Ctrl-C stops it).\n\n")
	for _, org := range orgs {
		fmt.Fprintf(w, "  SCIM base URL (%s):  http://%s/scim/v2/%s\n", org, addr, org)
		if t, ok := tokens[org]; ok {
			fmt.Fprintf(w, "  Token (%s):          %s\n", org, t)
			fmt.Fprintf(w, "      shown once, never again; a new one: roster token rotate --org %s --kubeconfig %s\n", org, kubeconfig)
		} else {
			fmt.Fprintf(w, "  Token (%s):          generated on an earlier start and not retrievable; replace it with\n", org)
			fmt.Fprintf(w, "      roster token rotate --org %s --kubeconfig %s\n", org, kubeconfig)
		}
	}
	fmt.Fprintf(w, "\n  Kubeconfig:  %s\n", kubeconfig)
	fmt.Fprintf(w, "      kubectl --kubeconfig %s get orgusers,orgteams -A\n", kubeconfig)
	fmt.Fprintf(w, "  Identity store:  %s\n", redactURL(store))
	fmt.Fprintf(w, "  Readiness:   http://%s/readyz\n", addr)
	fmt.Fprintf(w, "  Log (JSON):  %s\n\n", logFile)
}

// redactURL hides a password in a store URL.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "(unparsable URL)"
}

// ensureNamespace creates a namespace unless it exists.
func ensureNamespace(ctx context.Context, c client.Client, name string) error {
	ns := &corev1.Namespace{}
	ns.Name = name
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %q: %w", name, err)
	}
	return nil
}
