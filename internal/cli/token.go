package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/token"
)

const tokenUsage = `usage:
  roster token rotate --org NAME [--grace DURATION] [--namespace NS] [--kubeconfig FILE]
  roster token migrate [--keep-old] [--namespace NS] [--kubeconfig FILE]`

// runToken implements `roster token rotate` and `roster token migrate`. The new token is the
// only thing rotate writes to stdout (one line), so TOKEN=$(roster token rotate --org acme)
// works; the rest goes to stderr.
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "rotate" && args[0] != "migrate") {
		return errors.New(tokenUsage)
	}
	fs := flag.NewFlagSet("token "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	namespace := fs.String("namespace", token.DefaultNamespace, "Roster's namespace, where token Secrets live")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)")
	org := fs.String("org", "", "organization whose SCIM token to replace (rotate; required)")
	grace := fs.Duration("grace", 0, "rotate: keep the previous token valid this long (e.g. 1h), so the identity provider can be updated without a provisioning gap; 0 revokes it at once")
	keepOld := fs.Bool("keep-old", false, "migrate: copy the token Secrets but leave the old ones in the organizations' namespaces (run before upgrading; run again without it after)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if args[0] == "rotate" {
		// Bad flags fail before any connection is made.
		if *org == "" {
			return errors.New("--org is required")
		}
		if *grace < 0 {
			return errors.New("--grace must not be negative")
		}
	}
	c, err := tokenClient(*kubeconfig)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if args[0] == "migrate" {
		return migrateTokens(ctx, c, *namespace, *keepOld, stderr)
	}
	tok, err := token.Rotate(ctx, c, *namespace, *org, *grace)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	if *grace > 0 {
		fmt.Fprintf(stderr, "New SCIM token for %q printed above; it cannot be shown again. The previous token keeps working for %s.\n", *org, *grace)
	} else {
		fmt.Fprintf(stderr, "New SCIM token for %q printed above; it cannot be shown again. The previous token no longer works.\n", *org)
	}
	return nil
}

func tokenClient(kubeconfig string) (client.Client, error) {
	cfg, err := restConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: app.NewScheme()})
}

// migrateTokens moves token Secrets from the organizations' namespaces (installs before the
// move) to Roster's namespace and says what it did, one line per organization. It fails when
// any organization could not be migrated or needs a rotation.
func migrateTokens(ctx context.Context, c client.Client, namespace string, keepOld bool, out io.Writer) error {
	moved, err := token.Migrate(ctx, c, namespace, keepOld)
	if err != nil {
		return err
	}
	failed := 0
	for _, m := range moved {
		switch {
		case m.Err != nil:
			failed++
			fmt.Fprintf(out, "%s: %v\n", m.Org, m.Err)
		case m.Differs:
			failed++
			fmt.Fprintf(out, "%s: %s and %s hold different tokens; both left alone: run `roster token rotate --org %s` (the old Secret is then no longer read; delete it)\n", m.Org, m.From, m.To, m.Org)
		case m.Copied && m.Deleted:
			fmt.Fprintf(out, "%s: moved %s to %s (same token)\n", m.Org, m.From, m.To)
		case m.Copied:
			fmt.Fprintf(out, "%s: copied %s to %s (same token; the old Secret stays)\n", m.Org, m.From, m.To)
		case m.Deleted:
			fmt.Fprintf(out, "%s: %s holds the same token; deleted %s\n", m.Org, m.To, m.From)
		default:
			fmt.Fprintf(out, "%s: %s already holds the same token\n", m.Org, m.To)
		}
	}
	if len(moved) == 0 {
		fmt.Fprintln(out, "no token Secrets in organization namespaces: nothing to migrate")
	}
	if failed > 0 {
		return fmt.Errorf("%d organization(s) not migrated: see above", failed)
	}
	return nil
}
