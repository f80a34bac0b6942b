// Package kubectlroster is `kubectl roster`, a kubectl plugin that answers who is who in an
// organization: the members of a team, the teams of a user, the access a user gets through
// its teams, and each organization's health. It is the roster binary run under the name
// kubectl-roster (main.go dispatches on the executable's name).
//
// It reads the apiserver directly, as kubectl does (no cache, no watch), in pages, and prints
// as it reads: a team of 100,000 members is never held as a table before printing.
package kubectlroster

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
)

// Name is the executable name under which the roster binary runs as this plugin.
const Name = "kubectl-roster"

// Invoked reports whether argv0 names the plugin's executable (kubectl-roster, with or
// without a directory or .exe), so main can dispatch on it.
func Invoked(argv0 string) bool {
	return strings.TrimSuffix(filepath.Base(argv0), ".exe") == Name
}

// Exit codes, as kubectl's.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// usageError is a mistake in the command line: exit code 2 and the usage text.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

const usageText = `kubectl roster answers who is who in a Roster organization.

Usage:
  kubectl roster members <team>     the members of a team: userName, display name, active
  kubectl roster teams <userName>   the teams a user is in
  kubectl roster access <userName>  the roles a user gets through its teams, by namespace
  kubectl roster orgs               each organization's users, teams, store sync and token age

A team is named by its display name or its id (g-…), a user by its userName or id (u-…).

Flags (anywhere on the line):
  -n, --namespace NS       the organization's namespace (default: the kubeconfig context's)
      --org NAME           the organization (instead of -n: its spec.namespace)
  -o, --output FORMAT      table (default), wide, json or yaml
      --kubeconfig FILE    kubeconfig file (default: $KUBECONFIG, ~/.kube/config)
      --context NAME       kubeconfig context
      --roster-namespace NS  Roster's namespace, where the token Secrets are (default roster-system)

Exit codes: 0 ok, 1 error, 2 usage.
`

// Run runs the plugin with the arguments after the program name and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// controller-runtime's client logs nothing a plugin user needs; without a logger it would
	// warn that none was set.
	ctrl.SetLogger(logr.Discard())
	err := run(ctx, args, stdout, stderr)
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usageText)
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "error: %v\n\n%s", err, usageText)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "error: %v\n", err)
		return exitError
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, pos, err := parse(args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("a command is required")
	}
	cmd, pos := pos[0], pos[1:]
	want := map[string]int{"members": 1, "teams": 1, "access": 1, "orgs": 0}
	n, ok := want[cmd]
	if cmd == "help" {
		return flag.ErrHelp
	}
	if !ok {
		return usagef("unknown command %q", cmd)
	}
	if len(pos) != n {
		if n == 0 {
			return usagef("%s takes no argument", cmd)
		}
		return usagef("%s takes exactly one argument", cmd)
	}
	p, err := newPrinter(o.output, stdout)
	if err != nil {
		return err
	}
	s, err := connect(o)
	if err != nil {
		return err
	}
	switch cmd {
	case "members":
		return s.members(ctx, pos[0], p)
	case "teams":
		return s.teams(ctx, pos[0], p)
	case "access":
		return s.access(ctx, pos[0], p, stderr)
	default:
		return s.orgs(ctx, p, o.output)
	}
}

// options are the plugin's flags.
type options struct {
	kubeconfig, context, namespace, org, output, rosterNamespace string
}

// parse reads flags anywhere on the line, as kubectl does (Go's flag package stops at the
// first argument that is not a flag), and returns the other arguments in order.
func parse(args []string) (options, []string, error) {
	var o options
	fs := flag.NewFlagSet(Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by Run
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "")
	fs.StringVar(&o.context, "context", "", "")
	fs.StringVar(&o.namespace, "namespace", "", "")
	fs.StringVar(&o.namespace, "n", "", "")
	fs.StringVar(&o.org, "org", "", "")
	fs.StringVar(&o.output, "output", "", "")
	fs.StringVar(&o.output, "o", "", "")
	fs.StringVar(&o.rosterNamespace, "roster-namespace", "roster-system", "")
	var pos []string
	args = attachShortValues(args)
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return o, nil, err
			}
			return o, nil, usagef("%v", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			pos = append(pos, rest...) // everything after "--" is an argument
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	if o.namespace != "" && o.org != "" {
		return o, nil, usagef("give -n/--namespace or --org, not both")
	}
	return o, pos, nil
}

// attachShortValues rewrites kubectl's "-ojson" and "-nacme" into "-o=json" and "-n=acme",
// which Go's flag package understands.
func attachShortValues(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if len(a) > 2 && (a[:2] == "-o" || a[:2] == "-n") && a[2] != '=' {
			a = a[:2] + "=" + a[2:]
		}
		out[i] = a
	}
	return out
}
