package cli

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/controlplane"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
)

// syncBuffer is a bytes.Buffer safe for a writer and a polling reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var baseURLLine = regexp.MustCompile(`SCIM base URL \(demo\):\s+(http://\S+)/scim/v2/demo`)

// requireControlPlane fails the test, saying how to fix it, when kube-apiserver and etcd are
// not where `roster dev` looks for them (controlplane.AssetsDir: $KUBEBUILDER_ASSETS, else
// bin/k8s/<version> above the working directory). It does not skip: a test of `roster dev`
// that silently does not run would pass for a dev command that cannot start.
func requireControlPlane(t *testing.T) {
	t.Helper()
	dir, err := controlplane.AssetsDir()
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "kube-apiserver"))
	}
	if err != nil {
		t.Fatalf("roster dev needs the control-plane binaries: %v", err)
	}
}

// startDev runs `roster dev` in-process and waits for its banner; stop ends it and waits.
func startDev(t *testing.T, args ...string) (baseURL string, out *syncBuffer, stop func()) {
	t.Helper()
	requireControlPlane(t)
	ctx, cancel := context.WithCancel(context.Background())
	out = &syncBuffer{}
	errOut := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, append([]string{"dev", "--addr", "127.0.0.1:0", "--zap-log-level", "error"}, args...), out, errOut)
	}()
	deadline := time.Now().Add(90 * time.Second)
	for {
		if m := baseURLLine.FindStringSubmatch(out.String()); m != nil {
			baseURL = m[1]
			break
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("roster dev exited with %d:\n%s\n%s", code, out, errOut)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no banner within 90s:\n%s\n%s", out, errOut)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("roster dev exited with %d on Ctrl-C:\n%s", code, errOut)
				}
			case <-time.After(60 * time.Second):
				t.Error("roster dev did not stop within 60s")
			}
		})
	}
	t.Cleanup(stop)
	return baseURL, out, stop
}

// TestDevLifecycle: `roster dev` starts a control plane, prints a working URL and a token once,
// writes the token file (0600) and a kubeconfig, keeps its state across restarts, and
// `roster token rotate` against its kubeconfig prints exactly one line: the new token.
func TestDevLifecycle(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "tokens")
	base, out, stop := startDev(t, "--data-dir", dir, "--token-file", tokenFile)

	info, err := os.Stat(tokenFile)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, mode %v", err, info.Mode())
	}
	raw, _ := os.ReadFile(tokenFile)
	org, tok, ok := strings.Cut(strings.TrimSpace(string(raw)), " ")
	if !ok || org != "demo" || !strings.HasPrefix(tok, "roster_") {
		t.Fatalf("token file content %q", raw)
	}
	if !strings.Contains(out.String(), tok) {
		t.Fatalf("the banner must show the token once:\n%s", out)
	}
	c := scimtest.New(base, "demo", tok)
	c.Do(t, http.MethodPost, "/Users", `{"userName":"dev@example.com"}`).Expect(t, http.StatusCreated)
	if r, err := http.Get(base + "/readyz"); err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("/readyz: %v %v", r, err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if _, err := os.Stat(kubeconfig); err != nil {
		t.Fatal(err)
	}
	stop()

	// A second start reuses the state: the user is still there, the token still works and is
	// not shown again.
	base, out, _ = startDev(t, "--data-dir", dir)
	if strings.Contains(out.String(), tok) || !strings.Contains(out.String(), "not retrievable") {
		t.Fatalf("a second start must not print a token:\n%s", out)
	}
	c = scimtest.New(base, "demo", tok)
	eventuallyOK(t, func() bool {
		r := c.Do(t, http.MethodGet, "/Users?filter=userName%20eq%20%22dev@example.com%22", nil)
		return r.Status == http.StatusOK && r.Get("totalResults") == float64(1)
	})

	// roster token rotate prints one line on stdout; the old token stops working.
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"token", "rotate", "--org", "demo", "--kubeconfig", kubeconfig}, &stdout, &stderr); code != 0 {
		t.Fatalf("token rotate: %d %s", code, stderr.String())
	}
	newTok := strings.TrimSuffix(stdout.String(), "\n")
	if strings.Count(stdout.String(), "\n") != 1 || !strings.HasPrefix(newTok, "roster_") || newTok == tok {
		t.Fatalf("stdout must be exactly the new token: %q", stdout.String())
	}
	eventuallyOK(t, func() bool { return c.Do(t, http.MethodGet, "/Users", nil).Status == http.StatusUnauthorized })
	fresh := scimtest.New(base, "demo", newTok)
	eventuallyOK(t, func() bool { return fresh.Do(t, http.MethodGet, "/Users", nil).Status == http.StatusOK })
}

func TestTokenRotateUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"token", "rotate"}, &stdout, &stderr); code == 0 || stdout.Len() != 0 {
		t.Fatalf("missing --org must fail without stdout: %d %q", code, stdout.String())
	}
	if !strings.Contains(stderr.String(), "--org is required") {
		t.Fatalf("stderr: %q", stderr.String())
	}
	if code := Run(context.Background(), []string{"frobnicate"}, &stdout, &stderr); code != 2 {
		t.Fatalf("unknown command exit code %d", code)
	}
}

func eventuallyOK(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 15s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
