// Package hardening tests the SCIM server's defences — rate limit, apiserver outage, metrics
// and secrets kept out of logs — each against its own real control plane, since some of them
// cut the apiserver off.
package hardening

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/metrics"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
	"github.com/rosterhq/roster/internal/testutil/testenv"
	"github.com/rosterhq/roster/internal/token"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Run(m, &env)) }

func eventually(t *testing.T, timeout time.Duration, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func orgClient(t *testing.T, r *testenv.Roster, org testenv.Org) *scimtest.Client {
	c := scimtest.New(r.BaseURL, org.Name, org.Token)
	eventually(t, 10*time.Second, func() bool { return c.Do(t, http.MethodGet, "/Users", nil).Status == http.StatusOK }, "token never accepted")
	return c
}

func TestRateLimitPerOrg(t *testing.T) {
	r := env.StartRoster(t, func(c *app.Config) { c.RateLimit, c.RateBurst = 0.5, 5 })
	busyOrg := env.NewOrg(t, "busy")
	busy := orgClient(t, r, busyOrg)
	calm := orgClient(t, r, env.NewOrg(t, "calm"))
	var limited *scimtest.Response
	for range 20 {
		if resp := busy.Do(t, http.MethodGet, "/Users", nil); resp.Status == http.StatusTooManyRequests {
			limited = resp
			break
		}
	}
	if limited == nil {
		t.Fatal("no 429 beyond the burst")
	}
	limited.ExpectError(t, http.StatusTooManyRequests, "")
	if ra := limited.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After = %q", ra)
	}
	// Another organization has its own budget.
	calm.Do(t, http.MethodGet, "/Users", nil).Expect(t, http.StatusOK)
	if got := testutil.ToFloat64(metrics.SCIMRateLimited.WithLabelValues(busyOrg.Name)); got < 1 {
		t.Fatalf("scim_rate_limited_total = %v", got)
	}
}

// TestApiserverOutage: with the kube-apiserver stopped, SCIM writes answer 503 with
// Retry-After (never 500) and nothing is half-applied; when it is started again, service
// recovers on its own.
func TestApiserverOutage(t *testing.T) {
	own, err := testenv.StartRestartable(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = own.Environment.Stop() }()
	cfg := rest.CopyConfig(own.Config)
	cfg.Timeout = 5 * time.Second
	r := own.StartRosterWithConfig(t, cfg, nil)
	defer r.Stop()
	org := own.NewOrg(t, "outage")
	c := orgClient(t, r, org)
	c.Do(t, http.MethodPost, "/Users", `{"userName":"before@example.com"}`).Expect(t, http.StatusCreated)

	if err := own.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	for _, req := range []struct{ method, path, body string }{
		{http.MethodPost, "/Users", `{"userName":"during@example.com"}`},
		{http.MethodPost, "/Groups", `{"displayName":"During"}`},
	} {
		resp := c.Do(t, req.method, req.path, req.body)
		resp.ExpectError(t, http.StatusServiceUnavailable, "")
		if resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", req.method, req.path)
		}
	}
	if err := own.StartAPIServer(); err != nil {
		t.Fatal(err)
	}

	eventually(t, 60*time.Second, func() bool {
		return c.Do(t, http.MethodPost, "/Users", `{"userName":"after@example.com"}`).Status == http.StatusCreated
	}, "SCIM did not recover after the apiserver came back")
	var users rosterv1.OrgUserList
	if err := own.Client.List(context.Background(), &users, client.InNamespace(org.Namespace)); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, u := range users.Items {
		names[u.Spec.UserName] = true
	}
	if len(names) != 2 || !names["before@example.com"] || !names["after@example.com"] {
		t.Fatalf("users after the outage: %v (a write refused with 503 must not be applied)", names)
	}
	var teams rosterv1.OrgTeamList
	if err := own.Client.List(context.Background(), &teams, client.InNamespace(org.Namespace)); err != nil || len(teams.Items) != 0 {
		t.Fatalf("a group refused with 503 exists: %d %v", len(teams.Items), err)
	}
}

// syncBuffer collects log lines from concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) add(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(line + "\n")
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSecretsNeverLogged runs a SCIM session at the most verbose log level — good and bad
// tokens, a rotation, passwords in a POST and in PATCHes that really apply them, or are
// refused after applying them — and checks no token, token hash or password appears in any
// log line, event or Secret.
func TestSecretsNeverLogged(t *testing.T) {
	var logs syncBuffer
	log := funcr.New(func(prefix, args string) { logs.add(prefix + " " + args) }, funcr.Options{Verbosity: 10})
	r := env.StartRoster(t, func(c *app.Config) { c.SCIMLog = &log })
	org := env.NewOrg(t, "secret")
	c := orgClient(t, r, org)
	id := c.Do(t, http.MethodPost, "/Users", `{"userName":"pw@example.com","password":"Hunter2-Post!"}`).Expect(t, http.StatusCreated).String("id")
	bad := *c
	bad.Token = org.Token + "x"
	bad.Do(t, http.MethodGet, "/Users", nil).Expect(t, http.StatusUnauthorized)
	newTok, err := token.Rotate(context.Background(), env.Client, token.DefaultNamespace, org.Name, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c.Token = newTok
	eventually(t, 10*time.Second, func() bool { return c.Do(t, http.MethodGet, "/Users", nil).Status == http.StatusOK }, "new token")

	// Valid PATCHes whose every operation is applied: the password goes through patch.Apply
	// (and is dropped there), the other change of the same request is made.
	patch := func(ops string) *scimtest.Response {
		return c.Do(t, http.MethodPatch, "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":`+ops+`}`)
	}
	if p := patch(`[{"op":"replace","path":"password","value":"Hunter2-Path!"},{"op":"replace","path":"displayName","value":"Patched"}]`).
		Expect(t, http.StatusOK); p.String("displayName") != "Patched" {
		t.Fatalf("the PATCH carrying a password was not applied: %s", p.Raw)
	}
	// Okta's path-less replace.
	if p := patch(`[{"op":"replace","value":{"password":"Hunter2-Pathless!","active":false}}]`).
		Expect(t, http.StatusOK); p.String("active") != "false" {
		t.Fatalf("the path-less PATCH carrying a password was not applied: %s", p.Raw)
	}
	// Refused after the password was applied: the rejection is logged with its detail.
	patch(`[{"op":"replace","path":"password","value":"Hunter2-Refused!"},{"op":"replace","path":"userName","value":"other@example.com"}]`).
		ExpectError(t, http.StatusBadRequest, "mutability")
	// A password of the wrong type is refused by patch.Apply, where values are checked.
	patch(`[{"op":"replace","path":"password","value":{"v":"Hunter2-Typed!"}}]`).ExpectError(t, http.StatusBadRequest, "invalidValue")
	if g := c.Do(t, http.MethodGet, "/Users/"+id, nil).Expect(t, http.StatusOK); bytes.Contains(g.Raw, []byte("Hunter2")) {
		t.Fatalf("a password is returned: %s", g.Raw)
	}

	var events corev1.EventList
	_ = env.Client.List(context.Background(), &events, client.InNamespace(org.Namespace))
	var haystack strings.Builder
	haystack.WriteString(logs.String())
	for _, e := range events.Items {
		haystack.WriteString(e.Message + e.Reason)
	}
	// The writes were logged (so the absence of their secrets means something): four PATCH
	// audit lines, two of them rejections.
	if n := strings.Count(logs.String(), `"operation"="patch"`); n != 4 {
		t.Fatalf("want 4 audit lines for the PATCHes, found %d in:\n%s", n, logs.String())
	}
	for _, secret := range []string{org.Token, newTok, token.Hash(org.Token), token.Hash(newTok), strings.TrimPrefix(token.Hash(newTok), "sha256:")} {
		if strings.Contains(haystack.String(), secret) {
			t.Errorf("token or token hash %q… leaked into logs or events", secret[:12])
		}
	}
	for _, pw := range []string{"Hunter2-Post!", "Hunter2-Path!", "Hunter2-Pathless!", "Hunter2-Refused!", "Hunter2-Typed!"} {
		if strings.Contains(haystack.String(), pw) {
			t.Errorf("password %q leaked into logs or events", pw)
		}
	}
	var s corev1.Secret
	if err := env.Client.Get(context.Background(), token.SecretKey(token.DefaultNamespace, org.Name), &s); err != nil {
		t.Fatal(err)
	}
	for k, v := range s.Data {
		if strings.Contains(string(v), newTok) || strings.Contains(string(v), org.Token) {
			t.Fatalf("plaintext token in Secret key %s", k)
		}
	}
}

func TestMetricsCount(t *testing.T) {
	r := env.StartRoster(t, nil)
	org := env.NewOrg(t, "metrics")
	c := orgClient(t, r, org)
	counter := metrics.SCIMRequests.WithLabelValues(org.Name, "Users", http.MethodPost, "201")
	before := testutil.ToFloat64(counter)
	for i := range 3 {
		c.Do(t, http.MethodPost, "/Users", fmt.Sprintf(`{"userName":"m%d@example.com"}`, i)).Expect(t, http.StatusCreated)
	}
	if got := testutil.ToFloat64(counter) - before; got != 3 {
		t.Fatalf("scim_requests_total{code=201} grew by %v, want 3", got)
	}
	anon := *c
	anon.Token = ""
	unauth := metrics.SCIMRequests.WithLabelValues("", "Users", http.MethodGet, "401")
	before = testutil.ToFloat64(unauth)
	anon.Do(t, http.MethodGet, "/Users", nil).Expect(t, http.StatusUnauthorized)
	if testutil.ToFloat64(unauth)-before != 1 {
		t.Fatal("unauthenticated requests are counted without an org label")
	}
	if n := testutil.CollectAndCount(metrics.SCIMRequestDuration); n == 0 {
		t.Fatal("no latency histogram series")
	}
	// The token age gauge reports this org.
	coll := &metrics.TokenAgeCollector{Reader: env.Client, Namespace: token.DefaultNamespace}
	if n := testutil.CollectAndCount(coll); n < 1 {
		t.Fatalf("token age series: %d", n)
	}
}

// TestForwardedProto: X-Forwarded-Proto sets the scheme of meta.location only when the
// request comes from a trusted proxy.
func TestForwardedProto(t *testing.T) {
	org := env.NewOrg(t, "proxy")
	for i, tc := range []struct {
		trusted []string
		want    string
	}{
		{nil, "http://"},
		{[]string{"10.0.0.0/8"}, "http://"},
		{[]string{"127.0.0.1"}, "https://"},
	} {
		r := env.StartRoster(t, func(c *app.Config) { c.TrustedProxies = tc.trusted })
		c := orgClient(t, r, org)
		resp := c.Do(t, http.MethodPost, "/Users", fmt.Sprintf(`{"userName":"fwd%d@example.com"}`, i), "X-Forwarded-Proto: https").Expect(t, http.StatusCreated)
		if loc := resp.String("meta.location"); !strings.HasPrefix(loc, tc.want) {
			t.Errorf("trusted %v: meta.location %q, want %s…", tc.trusted, loc, tc.want)
		}
		r.Stop()
	}
}
