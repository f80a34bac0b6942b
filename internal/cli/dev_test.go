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
	baseURL, out, _, stop = startDevTerminal(t, args...)
	return baseURL, out, stop
}

// startDevTerminal is startDev that also returns what `roster dev` writes on stderr, with its
// default (console) log.
func startDevTerminal(t *testing.T, args ...string) (baseURL string, out, errOut *syncBuffer, stop func()) {
	t.Helper()
	requireControlPlane(t)
	ctx, cancel := context.WithCancel(context.Background())
	out = &syncBuffer{}
	errOut = &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, append([]string{"dev", "--addr", "127.0.0.1:0"}, args...), out, errOut)
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
	return baseURL, out, errOut, stop
}

// TestDevLifecycle: `roster dev` starts a control plane, prints a working URL and a token once,
// writes the token file (0600) and a kubeconfig, keeps its state across restarts, and
// `roster token rotate` against its kubeconfig prints exactly one line: the new token.
// Its terminal stays quiet after the banner until a request arrives, then shows one short
// line for it (and one for the user the controller created); the data directory has the
// whole log as JSON, and a restart keeps the previous run's log beside the new one.
func TestDevLifecycle(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "tokens")
	base, out, errOut, stop := startDevTerminal(t, "--data-dir", dir, "--token-file", tokenFile)
	banner := out.String()

	// The controllers' startup chatter (EventSource, Controller, workers, the identity store's
	// first check) used to follow the banner within about a second. The wait is the assertion
	// window: nothing may reach the terminal in it, not a synchronisation.
	time.Sleep(3 * time.Second)
	if out.String() != banner || errOut.String() != "Starting the local kube-apiserver and etcd...\n" {
		t.Fatalf("the terminal must show only the banner before the first request:\nstdout:\n%s\nstderr:\n%s", out, errOut)
	}

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
	id := c.Do(t, http.MethodPost, "/Users", `{"userName":"dev@example.com"}`).Expect(t, http.StatusCreated).String("id")
	expectTerminalLines(t, errOut, 1,
		regexp.MustCompile(`^\d\d:\d\d:\d\d SCIM demo POST /Users 201 Created [0-9.]+(µs|ms|s)$`),
		regexp.MustCompile(`^\d\d:\d\d:\d\d orguser demo/`+id+`: Created user "dev@example.com" in the identity store \(active=true\)$`))
	expectJSONLog(t, filepath.Join(dir, logFileName),
		map[string]any{"msg": "Starting workers", "level": "info", "controller": "orguser"},
		map[string]any{"msg": "SCIM request", "method": "POST", "path": "/scim/v2/demo/Users", "org": "demo", "status": float64(201)})
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
	// The first run's log is kept as roster.log.1; the second run writes a new roster.log.
	expectJSONLog(t, filepath.Join(dir, logFileName+".1"), map[string]any{"msg": "SCIM request", "method": "POST"})
	expectJSONLog(t, filepath.Join(dir, logFileName), map[string]any{"msg": "starting roster dev"})
	if raw, _ := os.ReadFile(filepath.Join(dir, logFileName)); strings.Contains(string(raw), `"method":"POST"`) {
		t.Fatalf("the second run's log holds the first run's request:\n%s", raw)
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

// expectTerminalLines waits until the lines written to w after its first skip lines match
// want, one each in any order, and fails if any other line is among them.
func expectTerminalLines(t *testing.T, w *syncBuffer, skip int, want ...*regexp.Regexp) {
	t.Helper()
	var lines []string
	deadline := time.Now().Add(15 * time.Second)
	for {
		lines = strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")[skip:]
		if len(lines) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(lines) != len(want) {
		t.Fatalf("want %d terminal lines after the banner, got %d:\n%s", len(want), len(lines), strings.Join(lines, "\n"))
	}
	for _, re := range want {
		n := 0
		for _, l := range lines {
			if re.MatchString(l) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("want one terminal line matching %s, got %d:\n%s", re, n, strings.Join(lines, "\n"))
		}
	}
}

// expectJSONLog fails unless every line of the file is JSON and, for each of want, one line
// has all its fields.
func expectJSONLog(t *testing.T, path string, want ...map[string]any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	for _, w := range want {
		if findJSONLine(t, lines, w) == nil {
			t.Fatalf("%s has no line with %v:\n%s", path, w, raw)
		}
	}
}
