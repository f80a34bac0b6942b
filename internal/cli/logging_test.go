package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/rosterhq/roster/controllers"
)

var clock = regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d `)

// logLikeRoster writes what a dev run logs, under the logger names Roster and controller-runtime
// use: startup chatter, a request with its audit line, a probe, an event, reconcile errors.
func logLikeRoster(log logr.Logger) {
	log.Info("Starting workers", "controller", "orguser", "worker count", 4)
	log.WithName("controller-runtime.webhook").Info("Serving webhook server", "port", 9443)
	log.WithName("admission").Info("SCIM-owned objects are writable only by", "identities", []string{"admin"})
	scim := log.WithName("scim")
	scim.Info("SCIM write", "audit", true, "org", "demo", "operation", "create", "status", 201)
	scim.V(1).Info("SCIM request", "requestId", "r1", "clientIP", "127.0.0.1", "method", "POST", "path", "/scim/v2/demo/Users",
		"route", "/scim/v2/:org/Users", "org", "demo", "status", 201, "duration", "9.912345ms", "userAgent", "curl")
	scim.V(1).Info("SCIM request", "method", "GET", "path", "/readyz", "route", "/readyz", "org", "", "status", 200, "duration", "20µs")
	scim.Error(errors.New("etcdserver: request timed out"), "SCIM request failed", "method", "PATCH", "path", "/scim/v2/demo/Groups/g-1",
		"route", "/scim/v2/:org/Groups/:id", "org", "demo", "status", 500, "duration", "1.234567s")
	log.WithName(controllers.OutcomeLogger).V(1).Info(`Created user "ada@example.com" in the identity store (active=true)`, "type", "Normal",
		"object", corev1.ObjectReference{Kind: "OrgUser", Namespace: "demo", Name: "u-1"})
	log.WithName("events").V(1).Info("token is 91 days old", "type", "Warning",
		"object", corev1.ObjectReference{Kind: "Organization", Name: "demo"}, "reason", "TokenTooOld")
	rec := log.WithValues("controller", "orgteam", "namespace", "demo", "name", "g-1", "reconcileID", "x")
	rec.Error(errors.New("identity store: connection refused"), "Reconciler error")
	rec.Error(fmt.Errorf("patching the status: %w", apierrors.NewConflict(schema.GroupResource{Resource: "orgteams"}, "g-1", errors.New("modified"))), "Reconciler error")
	log.WithName("admission").Info("denied", "operation", "DELETE", "user", "kim", "groups", []string{"system:masters"},
		"kind", "OrgUser", "namespace", "demo", "name", "u-1", "reason", "a long reason kubectl already shows")
	log.WithName("identity-store").Error(errors.New("dial tcp: connection refused"), "identity store unreachable", "url", "postgres://db")
}

// TestConsoleLog: at the default level the console shows one short line per request (not the
// audit line that repeats it, not probes), per recorded reconcile outcome, per error (not
// conflicts the retry settles) and per admission denial; the chatter only at debug.
func TestConsoleLog(t *testing.T) {
	var buf bytes.Buffer
	logLikeRoster(zapr.NewLogger(zap.New(newConsoleCore(&buf, zapcore.InfoLevel))))
	want := `SCIM demo POST /Users 201 Created 9.9ms
SCIM demo PATCH /Groups/g-1 500 Internal Server Error 1.23s: etcdserver: request timed out
orguser demo/u-1: Created user "ada@example.com" in the identity store (active=true)
organization demo: warning TokenTooOld: token is 91 days old
orgteam demo/g-1: error: identity store: connection refused
admission: denied delete OrgUser demo/u-1 by kim
error identity-store: identity store unreachable: dial tcp: connection refused url=postgres://db
`
	got := buf.String()
	if len(clock.FindAllString(got, -1)) != strings.Count(got, "\n") {
		t.Errorf("every line starts with the time:\n%s", got)
	}
	if got = clock.ReplaceAllString(got, ""); got != want {
		t.Errorf("console at info:\n%s\nwant:\n%s", got, want)
	}

	buf.Reset()
	logLikeRoster(zapr.NewLogger(zap.New(newConsoleCore(&buf, zapcore.DebugLevel))))
	got = clock.ReplaceAllString(buf.String(), "")
	for _, line := range []string{
		`Starting workers controller=orguser worker count=4`,
		`controller-runtime.webhook: Serving webhook server port=9443`,
		`SCIM GET /readyz 200 OK 20µs`,
		`orgteam demo/g-1: error: patching the status: Operation cannot be fulfilled on orgteams "g-1": modified`,
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("at debug the console must show %q:\n%s", line, got)
		}
	}

	buf.Reset()
	logLikeRoster(zapr.NewLogger(zap.New(newConsoleCore(&buf, zapcore.ErrorLevel))))
	if got = clock.ReplaceAllString(buf.String(), ""); strings.Count(got, "\n") != 3 || strings.Contains(got, "201") {
		t.Errorf("at error the console shows the failed request, the reconcile error and the store error only:\n%s", got)
	}
}

// TestLogFile: with a log file, every line goes there as JSON, the debug request line and the
// startup chatter included, while the console shows only the request; a second setup (a second
// run in the process) moves even loggers derived before it to the new writers.
func TestLogFile(t *testing.T) {
	opts := logFlags(flag.NewFlagSet("test", flag.ContinueOnError), logFormatConsole)
	var term1, file1, term2, file2 bytes.Buffer
	setupLogging(opts, &term1, &file1)
	derived := ctrl.Log.WithName("scim")
	logLikeRoster(ctrl.Log)

	if got := clock.ReplaceAllString(term1.String(), ""); !strings.HasPrefix(got, "SCIM demo POST /Users 201 Created 9.9ms\n") || strings.Contains(got, "Starting workers") {
		t.Errorf("terminal:\n%s", got)
	}
	lines := strings.Split(strings.TrimSpace(file1.String()), "\n")
	if findJSONLine(t, lines, map[string]any{"msg": "SCIM request", "level": "debug", "requestId": "r1", "status": float64(201)}) == nil {
		t.Errorf("the file must hold the request line:\n%s", file1.String())
	}
	if findJSONLine(t, lines, map[string]any{"msg": "Starting workers", "level": "info"}) == nil {
		t.Errorf("the file must hold the startup chatter at info:\n%s", file1.String())
	}
	if len(lines) != 13 {
		t.Errorf("the file must hold every line logged (13), has %d:\n%s", len(lines), file1.String())
	}

	setupLogging(opts, &term2, &file2)
	before := term1.Len() + file1.Len()
	derived.V(1).Info("SCIM request", "method", "GET", "path", "/scim/v2/demo/Users", "org", "demo", "status", 200, "duration", "1ms")
	if !strings.Contains(term2.String(), "SCIM demo GET /Users 200 OK 1ms") || !strings.Contains(file2.String(), `"method":"GET"`) ||
		term1.Len()+file1.Len() != before {
		t.Errorf("after a second setup the lines must go to the new writers only:\n%s\n%s", term2.String(), file2.String())
	}
	setupLogging(opts, os.Stderr, nil)
}

// TestLogFormatFlag: a format other than json or console is refused before anything is created.
func TestLogFormatFlag(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"dev", "--log-format", "xml", "--data-dir", dir}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), `invalid value "xml" for flag -log-format: want json or console`) {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused flag created the data directory: %v", err)
	}

	// roster manager takes the same flag (and goes on to its next check).
	t.Setenv(identityStoreEnv, "")
	stderr.Reset()
	code = Run(context.Background(), []string{"manager", "--log-format", "console", "--kubeconfig", "/nonexistent"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "--identity-store or $ROSTER_IDENTITY_STORE is required") {
		t.Errorf("roster manager --log-format console: exit %d, stderr %q", code, stderr.String())
	}
	setupLogging(logFlags(flag.NewFlagSet("test", flag.ContinueOnError), logFormatConsole), os.Stderr, nil)
}

// TestOpenLogFile: each run starts an empty roster.log and keeps the previous one as roster.log.1.
func TestOpenLogFile(t *testing.T) {
	dir := t.TempDir()
	for _, run := range []string{"first", "second", "third"} {
		f, err := openLogFile(dir)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(f, run)
		f.Close()
	}
	cur, _ := os.ReadFile(filepath.Join(dir, logFileName))
	prev, _ := os.ReadFile(filepath.Join(dir, logFileName+".1"))
	if string(cur) != "third\n" || string(prev) != "second\n" {
		t.Errorf("roster.log %q, roster.log.1 %q", cur, prev)
	}
	if info, err := os.Stat(filepath.Join(dir, logFileName)); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("roster.log mode: %v %v", info.Mode(), err)
	}
}

// findJSONLine returns the first of lines, each of which must be a JSON object, that has every
// field of want.
func findJSONLine(t *testing.T, lines []string, want map[string]any) map[string]any {
	t.Helper()
	var found map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		match := found == nil
		for k, v := range want {
			match = match && m[k] == v
		}
		if match {
			found = m
		}
	}
	return found
}
