// Command roster is a SCIM 2.0 service provider for Kubernetes: see `roster help`.
package main

import (
	"os"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/rosterhq/roster/internal/cli"
)

func main() {
	ctx := ctrl.SetupSignalHandler()
	os.Exit(cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
