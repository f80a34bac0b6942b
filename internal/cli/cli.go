// Package cli implements Roster's subcommands: manager, dev, token rotate, token migrate and
// storage migrate.
package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Run dispatches a command line to its subcommand and returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	var err error
	switch args[0] {
	case "manager":
		err = runManager(ctx, args[1:], stderr)
	case "dev":
		err = runDev(ctx, args[1:], stdout, stderr)
	case "token":
		err = runToken(ctx, args[1:], stdout, stderr)
	case "storage":
		err = runStorage(ctx, args[1:], stdout, stderr)
	case "version":
		err = runVersion(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "roster: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err == flag.ErrHelp {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "roster %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Roster is a SCIM 2.0 service provider that keeps users and groups as Kubernetes resources.

Usage:
  roster dev [flags]                     run everything locally: control plane, SCIM, controllers
  roster manager [flags]                 run in a cluster: controllers, SCIM server, webhook
  roster token rotate --org NAME [flags] generate a new SCIM token (printed once on stdout)
  roster token migrate [flags]           move token Secrets of an earlier install to Roster's namespace
  roster storage migrate [flags]         rewrite every Roster object at its CRD's storage version
  roster version [--json]                print the version, commit and build date
  roster kubectl <command> [flags]       kubectl roster: members, teams, access, orgs (docs/kubectl-roster.md)

Run "roster <command> -h" for the flags of a command.
`)
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

// restConfig loads a kubeconfig: the --kubeconfig flag, $KUBECONFIG, in-cluster, ~/.kube/config.
func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	if os.Getenv("KUBECONFIG") == "" {
		if cfg, err := rest.InClusterConfig(); err == nil {
			return cfg, nil
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
}
