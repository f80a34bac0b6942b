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

// runToken implements `roster token rotate`. The new token is the only thing written to
// stdout (one line), so TOKEN=$(roster token rotate --org acme) works; the rest goes to stderr.
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rotate" {
		return errors.New(`usage: roster token rotate --org NAME [--grace DURATION] [--kubeconfig FILE]`)
	}
	fs := flag.NewFlagSet("token rotate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	org := fs.String("org", "", "organization whose SCIM token to replace (required)")
	grace := fs.Duration("grace", 0, "keep the previous token valid this long (e.g. 1h), so the identity provider can be updated without a provisioning gap; 0 revokes it at once")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *org == "" {
		return errors.New("--org is required")
	}
	if *grace < 0 {
		return errors.New("--grace must not be negative")
	}
	cfg, err := restConfig(*kubeconfig)
	if err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: app.NewScheme()})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tok, err := token.Rotate(ctx, c, *org, *grace)
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
