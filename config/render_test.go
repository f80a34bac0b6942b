package config_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// TestRenderWithImage runs what `make render IMG=…` and `make deploy IMG=…` run: the manager
// gets the image named, the render has the same objects as config/default, and the checkout
// is left as it was. (Other fields of those objects are not compared.)
func TestRenderWithImage(t *testing.T) {
	kubectl := kubectlPath(t)
	kustomization := filepath.Join("manager", "kustomization.yaml")
	before, err := os.ReadFile(kustomization)
	if err != nil {
		t.Fatal(err)
	}
	plain := render(t, "default")
	digest := "sha256:" + strings.Repeat("ab", 32)
	for img, want := range map[string]string{
		"registry.example.com:5000/team/roster:v1.2.3":    "registry.example.com:5000/team/roster:v1.2.3",
		"registry.example.com/roster@" + digest:           "registry.example.com/roster@" + digest,
		"registry.example.com/roster:v1.2.3@" + digest:    "registry.example.com/roster:v1.2.3@" + digest,
		"registry.example.com/roster":                     "registry.example.com/roster:latest",
		"ghcr.io/rosterhq/roster:v0.1.0-3-gabc1234-dirty": "ghcr.io/rosterhq/roster:v0.1.0-3-gabc1234-dirty",
	} {
		out, stderr, err := renderScript(kubectl, img)
		if err != nil {
			t.Errorf("render %s: %v\n%s", img, err, stderr)
			continue
		}
		r := parse(t, "IMG="+img, out)
		dep := decode[appsv1.Deployment](t, r.get(t, "Deployment", "roster-controller-manager"))
		for _, c := range dep.Spec.Template.Spec.Containers {
			if c.Image != want {
				t.Errorf("IMG=%s: container %s has image %q, want %q", img, c.Name, c.Image, want)
			}
		}
		if len(r) != len(plain) {
			t.Errorf("IMG=%s: %d objects, config/default has %d", img, len(r), len(plain))
		}
	}

	for _, bad := range []string{"", "registry.example.com/roster:v1:v2", "Registry/roster", "roster:v1 --dry-run", "roster@sha256:short"} {
		out, stderr, err := renderScript(kubectl, bad)
		if err == nil || len(out) > 0 || !strings.Contains(stderr, "render: IMG=") {
			t.Errorf("IMG=%q: err %v, %d bytes rendered, stderr %q; want a refusal naming IMG", bad, err, len(out), stderr)
		}
	}

	after, err := os.ReadFile(kustomization)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("rendering changed %s", kustomization)
	}
	left, _ := filepath.Glob(filepath.Join("..", "bin", ".render.*"))
	if len(left) > 0 {
		t.Errorf("render left %v behind", left)
	}
}

func renderScript(kubectl, img string) ([]byte, string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(filepath.Join("..", "hack", "render.sh"), kubectl, img)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.Bytes(), stderr.String(), err
}
