package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/storageversion"
)

const storageUsage = `usage:
  roster storage migrate [--timeout DURATION] [--kubeconfig FILE]`

// runStorage implements `roster storage migrate`: every Roster object is rewritten at its
// CRD's storage version, and the CRDs' status.storedVersions then lists that version alone
// (docs/operations.md, "API versions and upgrades"). One line per CRD on stdout.
func runStorage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "migrate" {
		return errors.New(storageUsage)
	}
	fs := flag.NewFlagSet("storage migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after this long (running it again continues)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q\n%s", fs.Arg(0), storageUsage)
	}
	if *timeout <= 0 {
		return errors.New("--timeout must be positive")
	}
	cfg, err := restConfig(*kubeconfig)
	if err != nil {
		return err
	}
	scheme := app.NewScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	return storageversion.Migrate(ctx, c, disc, rosterv1.GroupVersion.Group, func(r storageversion.Result) {
		if r.Skipped {
			fmt.Fprintf(stdout, "%s: stored at %s only already\n", r.CRD, r.Version)
			return
		}
		fmt.Fprintf(stdout, "%s: rewrote %d objects at %s; storedVersions is [%s]\n", r.CRD, r.Objects, r.Version, r.Version)
	})
}
