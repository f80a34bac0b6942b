// Package controlplane starts a local kube-apiserver + etcd (controller-runtime's envtest)
// with Roster's CRDs installed. The tests and `roster dev` use it; the binaries are the ones
// hack/control-plane.sh builds from Go modules into bin/k8s/<version>.
package controlplane

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/rosterhq/roster/config/crd"
)

// KubeVersion is the version hack/control-plane.sh builds (keep the two in step with go.mod).
const KubeVersion = "v1.37.2"

// AssetsDir finds the control-plane binaries: $KUBEBUILDER_ASSETS, else bin/k8s/<version>
// in the working directory, the executable's directory or any of their parents.
func AssetsDir() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, start := range starts {
		for dir := start; ; dir = filepath.Dir(dir) {
			candidate := filepath.Join(dir, "bin", "k8s", KubeVersion)
			if _, err := os.Stat(filepath.Join(candidate, "kube-apiserver")); err == nil {
				return candidate, nil
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return "", errors.New("kube-apiserver and etcd not found: run `hack/control-plane.sh` (or `make run`, which builds them) or set KUBEBUILDER_ASSETS")
}

// New returns an environment with Roster's CRDs. With dataDir set, etcd keeps its state there
// across restarts; otherwise it uses a temporary directory removed on Stop.
func New(dataDir string) (*envtest.Environment, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	crds, err := crd.CRDs()
	if err != nil {
		return nil, fmt.Errorf("loading CRDs: %w", err)
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		CRDInstallOptions:        envtest.CRDInstallOptions{CRDs: crds, ErrorIfPathMissing: true},
		ControlPlaneStartTimeout: 60 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	if dataDir != "" {
		etcdDir := filepath.Join(dataDir, "etcd")
		if err := os.MkdirAll(etcdDir, 0o700); err != nil {
			return nil, err
		}
		env.ControlPlane.Etcd = &envtest.Etcd{DataDir: etcdDir}
	}
	return env, nil
}
