// Command roster is a SCIM 2.0 service provider for Kubernetes: see `roster help`. Installed
// as kubectl-roster (make install-plugin), or run as `roster kubectl …`, it is the kubectl
// plugin `kubectl roster`.
package main

import (
	"os"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/rosterhq/roster/internal/cli"
	"github.com/rosterhq/roster/internal/kubectlroster"
)

func main() {
	ctx := ctrl.SetupSignalHandler()
	switch {
	case kubectlroster.Invoked(os.Args[0]):
		os.Exit(kubectlroster.Run(ctx, os.Args[1:], os.Stdout, os.Stderr))
	case len(os.Args) > 1 && os.Args[1] == "kubectl":
		os.Exit(kubectlroster.Run(ctx, os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
