// Package rollout tests a rolling update: SCIM traffic goes through a Service in front of
// two managers while one of them stops, as a pod does on SIGTERM. It has its own control
// plane because the stopping manager serves an admission webhook of its own.
package rollout

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/testutil/testenv"
	"github.com/rosterhq/roster/webhook/admission"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Run(m, &env)) }

// Timings of the stopping replica and of the Service in front of it: the endpoints
// controller's lag (readyzPeriod) must be well inside the drain delay.
const (
	drainDelay      = time.Second
	shutdownTimeout = 5 * time.Second
	readyzPeriod    = 50 * time.Millisecond
)

// TestRollout stops one of two managers while a client writes through a Service in front of
// both, and checks what an identity provider would see: only failures it retries, each retry
// succeeding, and every acknowledged write in the apiserver. The stopping manager must fail
// its readiness before its SCIM listener closes, and its admission webhook must answer while
// it drains and stop only after SCIM has.
func TestRollout(t *testing.T) {
	hook := &envtest.WebhookInstallOptions{LocalServingHost: "127.0.0.1"}
	if err := hook.PrepWithoutInstalling(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hook.Cleanup() })
	probes := []string{testenv.FreeAddr(t), testenv.FreeAddr(t)}
	stopping := env.StartRoster(t, func(c *app.Config) {
		c.ProbeAddr = probes[0]
		c.ShutdownDrainDelay, c.ShutdownTimeout = drainDelay, shutdownTimeout
		c.Webhook = app.WebhookConfig{Host: hook.LocalServingHost, Port: hook.LocalServingPort, CertDir: hook.LocalServingCertDir}
	})
	staying := env.StartRoster(t, func(c *app.Config) { c.ProbeAddr = probes[1] })
	managers := []*testenv.Roster{stopping, staying}
	org := env.NewOrg(t, "roll")
	for _, m := range managers {
		c := &idp{base: m.BaseURL + "/scim/v2/" + org.Name, token: org.Token, http: &http.Client{}}
		eventually(t, func() bool { return c.try(http.MethodGet, "/Users", "").status == http.StatusOK }, "%s never accepted the token", m.BaseURL)
	}

	svc := newService(t, managers, probes)
	stopWatch := watchListeners(t, stopping.SCIM.Addr(), hook)
	c := &idp{base: svc.url + "/scim/v2/" + org.Name, token: org.Token, http: &http.Client{Timeout: 30 * time.Second}}
	group := c.send(t, http.MethodPost, "/Groups", `{"displayName":"Rollout"}`, http.StatusCreated).id

	var acked ackedWrites
	ctx, stopTraffic := context.WithCancel(context.Background())
	var workers sync.WaitGroup
	for w := range 4 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			c.write(t, ctx, w, group, &acked)
		}()
	}
	until := func(n int64) {
		eventually(t, func() bool { return acked.requests.Load() >= n || t.Failed() }, "the client did not get %d answers", n)
	}
	until(60)
	stopped := make(chan struct{})
	stopAt := time.Now()
	go func() { stopping.Stop(); close(stopped) }()

	// While it drains: not ready, SCIM still open, the webhook answering.
	eventually(t, func() bool { return !svc.ready(0) }, "the stopping manager's readyz never failed")
	reviewDirectly(t, hook)
	// The SCIM server's own /readyz (what `roster dev` serves) says why.
	if resp, err := http.Get(stopping.BaseURL + "/readyz"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("the draining SCIM server's /readyz: %v %v, want 503", resp, err)
	} else {
		resp.Body.Close()
	}
	if at := stopWatch.scimClosed(); !at.IsZero() {
		t.Errorf("the SCIM listener closed %v after the stop began, before the webhook was checked during the drain", at.Sub(stopAt))
	}
	<-stopped
	until(acked.requests.Load() + 60) // keep writing through the remaining replica
	stopTraffic()
	workers.Wait()

	unreadyAt, status := svc.unready(0)
	scimClosed, webhookClosed := stopWatch.scimClosed(), stopWatch.webhookClosed()
	t.Logf("%d answers (%d retried after a connection error, %d after 503/429); after the stop began: %d requests proxied to the stopping replica, readyz %d at +%v, SCIM closed at +%v, webhook at +%v",
		acked.requests.Load(), acked.connRetries.Load(), acked.busyRetries.Load(), svc.servedAfter(0, stopAt),
		status, unreadyAt.Sub(stopAt), scimClosed.Sub(stopAt), webhookClosed.Sub(stopAt))
	switch {
	case status < 400:
		// controller-runtime's probe server answers a failed check with 500; kubelet takes
		// any status from 400 as "not ready".
		t.Errorf("the stopping manager's readyz answered %d, want a failure", status)
	case scimClosed.IsZero() || !unreadyAt.Before(scimClosed):
		t.Errorf("readyz failed at +%v, not before the SCIM listener closed (+%v)", unreadyAt.Sub(stopAt), scimClosed.Sub(stopAt))
	case scimClosed.Sub(unreadyAt) < drainDelay/2:
		t.Errorf("SCIM closed %v after readyz failed; the drain delay is %v", scimClosed.Sub(unreadyAt), drainDelay)
	case webhookClosed.IsZero() || stopWatch.webhookClosedFirst():
		t.Errorf("the webhook stopped at +%v, before the SCIM listener (+%v)", webhookClosed.Sub(stopAt), scimClosed.Sub(stopAt))
	}
	acked.checkInAPIServer(t, org.Namespace, group)
}

// service is what a Kubernetes Service with an endpoints controller does for the test: it
// round-robins requests over the backends whose readyz answers 200, polling it every
// readyzPeriod. When a backend fails a request (connection refused or reset) it closes the
// client's connection without an answer, as kube-proxy passes on a pod's TCP failure.
type service struct {
	url      string
	backends []*backend
	next     atomic.Uint64
}

type backend struct {
	scim   *url.URL
	readyz string
	ok     atomic.Bool
	mu     sync.Mutex
	down   time.Time   // first failed readyz
	status int         // what it answered then (0: no answer)
	served []time.Time // when requests were proxied to it
}

func newService(t *testing.T, managers []*testenv.Roster, probes []string) *service {
	t.Helper()
	s := &service{}
	for i, m := range managers {
		u, err := url.Parse(m.BaseURL)
		if err != nil {
			t.Fatal(err)
		}
		b := &backend{scim: u, readyz: "http://" + probes[i] + "/readyz"}
		s.backends = append(s.backends, b)
		eventually(t, func() bool { return b.probe() == http.StatusOK }, "%s never became ready", b.readyz)
		b.ok.Store(true)
	}
	done := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		tick := time.NewTicker(readyzPeriod)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			for _, b := range s.backends {
				status := b.probe()
				if status != http.StatusOK && b.ok.Swap(false) {
					b.mu.Lock()
					b.down, b.status = time.Now(), status
					b.mu.Unlock()
				}
			}
		}
	}()
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			b := s.pick()
			b.mu.Lock()
			b.served = append(b.served, time.Now())
			b.mu.Unlock()
			r.SetURL(b.scim)
		},
		ErrorHandler: func(http.ResponseWriter, *http.Request, error) { panic(http.ErrAbortHandler) },
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: proxy, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { close(done); <-polled; _ = srv.Close() })
	s.url = "http://" + ln.Addr().String()
	return s
}

// pick returns the next ready backend, round-robin (any backend when none is ready).
func (s *service) pick() *backend {
	n := s.next.Add(1)
	for i := range uint64(len(s.backends)) {
		if b := s.backends[(n+i)%uint64(len(s.backends))]; b.ok.Load() {
			return b
		}
	}
	return s.backends[n%uint64(len(s.backends))]
}

func (s *service) ready(i int) bool { return s.backends[i].ok.Load() }

func (s *service) unready(i int) (time.Time, int) {
	b := s.backends[i]
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.down, b.status
}

// servedAfter counts the requests proxied to backend i since t.
func (s *service) servedAfter(i int, t time.Time) int {
	b := s.backends[i]
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, at := range b.served {
		if at.After(t) {
			n++
		}
	}
	return n
}

// probe returns the status of a GET of readyz, 0 without an answer.
func (b *backend) probe() int {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(b.readyz)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// listeners records when the stopping manager's SCIM and webhook listeners stop accepting
// connections.
type listeners struct {
	mu            sync.Mutex
	scim, webhook time.Time
	// scimPoll and webhookPoll number the poll that first found each closed: two closes
	// within one poll (10 ms) cannot be ordered by their times, which only say which dial of
	// that poll ran first.
	scimPoll, webhookPoll int
}

// webhookClosedFirst reports whether a poll found the webhook closed while the SCIM listener
// still accepted connections.
func (l *listeners) webhookClosedFirst() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.webhook.IsZero() && (l.scim.IsZero() || l.webhookPoll < l.scimPoll)
}

func (l *listeners) scimClosed() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.scim
}

func (l *listeners) webhookClosed() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.webhook
}

// watchListeners connects to both servers every few milliseconds until each refuses (to the
// webhook with a TLS handshake: a bare connection would make it log a handshake error).
func watchListeners(t *testing.T, scimAddr string, hook *envtest.WebhookInstallOptions) *listeners {
	webhookAddr := net.JoinHostPort(hook.LocalServingHost, fmt.Sprint(hook.LocalServingPort))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(hook.LocalServingCAData)
	dial := func(addr string) (net.Conn, error) {
		d := &net.Dialer{Timeout: time.Second}
		if addr == webhookAddr {
			return tls.DialWithDialer(d, "tcp", addr, &tls.Config{RootCAs: pool})
		}
		return d.Dial("tcp", addr)
	}
	l := &listeners{}
	done := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for poll := 1; ; poll++ {
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			for _, w := range []struct {
				addr string
				at   *time.Time
				poll *int
			}{{scimAddr, &l.scim, &l.scimPoll}, {webhookAddr, &l.webhook, &l.webhookPoll}} {
				l.mu.Lock()
				seen := !w.at.IsZero()
				l.mu.Unlock()
				if seen {
					continue
				}
				conn, err := dial(w.addr)
				if err == nil {
					conn.Close()
					continue
				}
				l.mu.Lock()
				*w.at, *w.poll = time.Now(), poll
				l.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { close(done); <-watched })
	return l
}

// reviewDirectly sends an AdmissionReview to the webhook server over HTTPS, as the
// apiserver would, and expects an answer for it.
func reviewDirectly(t *testing.T, hook *envtest.WebhookInstallOptions) {
	t.Helper()
	team := &rosterv1.OrgTeam{TypeMeta: metav1.TypeMeta{APIVersion: rosterv1.GroupVersion.String(), Kind: "OrgTeam"}}
	team.Name, team.Namespace = "g-manual", "some-org"
	team.Spec.DisplayName, team.Spec.ManagedBy = "Manual", rosterv1.ManagedByManual
	raw, err := json.Marshal(team)
	if err != nil {
		t.Fatal(err)
	}
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       types.UID("rollout-review"),
			Kind:      metav1.GroupVersionKind{Group: rosterv1.GroupVersion.Group, Version: rosterv1.GroupVersion.Version, Kind: "OrgTeam"},
			Resource:  metav1.GroupVersionResource{Group: rosterv1.GroupVersion.Group, Version: rosterv1.GroupVersion.Version, Resource: "orgteams"},
			Name:      team.Name,
			Namespace: team.Namespace,
			Operation: admissionv1.Create,
			UserInfo:  authenticationv1.UserInfo{Username: "alice@example.com"},
			Object:    runtime.RawExtension{Raw: raw},
		},
	}
	body, err := json.Marshal(review)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(hook.LocalServingCAData)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	addr := net.JoinHostPort(hook.LocalServingHost, fmt.Sprint(hook.LocalServingPort))
	resp, err := c.Post("https://"+addr+admission.TeamPath, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("the webhook does not answer while the manager drains: %v", err)
	}
	defer resp.Body.Close()
	var answer admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || resp.StatusCode != http.StatusOK ||
		answer.Response == nil || answer.Response.UID != review.Request.UID {
		t.Fatalf("the webhook answered %d %+v (%v) while the manager drains", resp.StatusCode, answer.Response, err)
	}
	if !answer.Response.Allowed {
		t.Fatalf("the webhook denied a manual team: %+v", answer.Response.Result)
	}
}

// idp is a SCIM client that behaves like Okta: it retries a 429 or 503 that carries
// Retry-After, and a request that failed before any answer arrived.
type idp struct {
	base, token string
	http        *http.Client
}

type answer struct {
	status     int
	retryAfter string
	id         string
	err        error // no answer at all
}

func (c *idp) try(method, path, body string) answer {
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var doc struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &doc)
	return answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), id: doc.ID}
}

// maxAttempts bounds an idp's retries of one request.
const maxAttempts = 20

// send sends a request until it gets an answer other than a retryable failure, and fails the
// test unless that answer is want. Every failure seen on the way must be one an identity
// provider retries. counts, when not nil, counts the retries.
func (c *idp) send(t *testing.T, method, path, body string, want int, counts ...*atomic.Int64) answer {
	for attempt := 1; ; attempt++ {
		a := c.try(method, path, body)
		switch {
		case a.err != nil:
			if len(counts) > 0 {
				counts[0].Add(1)
			}
		case a.status == http.StatusServiceUnavailable || a.status == http.StatusTooManyRequests:
			if a.retryAfter == "" {
				t.Errorf("%s %s: %d without Retry-After", method, path, a.status)
				return a
			}
			if len(counts) > 1 {
				counts[1].Add(1)
			}
		case a.status != want:
			t.Errorf("%s %s: %d, want %d (attempt %d)", method, path, a.status, want, attempt)
			return a
		default:
			return a
		}
		if attempt == maxAttempts {
			t.Errorf("%s %s: no answer after %d attempts: last %d %v", method, path, attempt, a.status, a.err)
			return a
		}
		// Okta waits Retry-After; the test only yields to the other workers.
		time.Sleep(20 * time.Millisecond)
	}
}

// ackedWrites is what the client was told succeeded.
type ackedWrites struct {
	requests                 atomic.Int64 // answered requests
	connRetries, busyRetries atomic.Int64
	mu                       sync.Mutex
	active                   map[string]bool // user id → active, as last acknowledged
	members                  []string        // ids acknowledged as added to the group
}

func (a *ackedWrites) user(id string, active bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.active == nil {
		a.active = map[string]bool{}
	}
	a.active[id] = active
}

func (a *ackedWrites) member(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.members = append(a.members, id)
}

// write creates users, adds each to the group and deactivates every third, until ctx ends.
func (c *idp) write(t *testing.T, ctx context.Context, worker int, group string, acked *ackedWrites) {
	patchOp := `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`
	for i := 0; ctx.Err() == nil && !t.Failed(); i++ {
		userName := fmt.Sprintf("w%d-%d@example.com", worker, i)
		user := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"name":{"givenName":"W","familyName":"%d"},"emails":[{"primary":true,"value":%q,"type":"work"}],"active":true}`, userName, i, userName)
		a := c.send(t, http.MethodPost, "/Users", user, http.StatusCreated, &acked.connRetries, &acked.busyRetries)
		if a.status != http.StatusCreated {
			return
		}
		acked.requests.Add(1)
		acked.user(a.id, true)
		add := fmt.Sprintf(`{%s,"Operations":[{"op":"add","path":"members","value":[{"value":%q}]}]}`, patchOp, a.id)
		if c.send(t, http.MethodPatch, "/Groups/"+group, add, http.StatusNoContent, &acked.connRetries, &acked.busyRetries).status != http.StatusNoContent {
			return
		}
		acked.requests.Add(1)
		acked.member(a.id)
		if i%3 == 0 {
			off := fmt.Sprintf(`{%s,"Operations":[{"op":"replace","value":{"active":false}}]}`, patchOp)
			if c.send(t, http.MethodPatch, "/Users/"+a.id, off, http.StatusOK, &acked.connRetries, &acked.busyRetries).status != http.StatusOK {
				return
			}
			acked.requests.Add(1)
			acked.user(a.id, false)
		}
	}
}

// checkInAPIServer reads the organization from the apiserver (no cache): exactly the
// acknowledged users, each as last acknowledged, and every acknowledged member in the group.
func (a *ackedWrites) checkInAPIServer(t *testing.T, namespace, group string) {
	t.Helper()
	ctx := context.Background()
	var users rosterv1.OrgUserList
	if err := env.Client.List(ctx, &users, client.InNamespace(namespace)); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(users.Items) != len(a.active) {
		t.Errorf("the apiserver has %d users, the client was told of %d", len(users.Items), len(a.active))
	}
	for _, u := range users.Items {
		want, ok := a.active[u.Name]
		switch {
		case !ok:
			t.Errorf("user %s (%s) is in the apiserver but was never acknowledged", u.Name, u.Spec.UserName)
		case u.Spec.IsActive() != want:
			t.Errorf("user %s (%s): active %t in the apiserver, acknowledged %t", u.Name, u.Spec.UserName, u.Spec.IsActive(), want)
		}
	}
	var list rosterv1.OrgTeamMemberSliceList
	if err := env.Client.List(ctx, &list, client.InNamespace(namespace), client.MatchingLabels{rosterv1.TeamLabel: group}); err != nil {
		t.Fatal(err)
	}
	live := membership.Members(list.Items)
	for _, id := range a.members {
		if _, ok := live[id]; !ok {
			t.Errorf("member %s was acknowledged but is not in the group's slices", id)
		}
	}
	if len(live) != len(a.members) {
		t.Errorf("the group has %d members in the apiserver, the client added %d", len(live), len(a.members))
	}
}

func eventually(t *testing.T, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(format, args...)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestShutdownTimeoutAnswers: requests still running at --shutdown-timeout — a user create
// held at the apiserver, and a membership change whose group commit is held there — are
// answered 503 with Retry-After when the timeout passes, not cut off, and the manager stops.
func TestShutdownTimeoutAnswers(t *testing.T) {
	const timeout = time.Second
	m := env.StartRoster(t, func(c *app.Config) { c.ShutdownTimeout = timeout })
	org := env.NewOrg(t, "late")
	c := &idp{base: m.BaseURL + "/scim/v2/" + org.Name, token: org.Token, http: &http.Client{Timeout: 30 * time.Second}}
	eventually(t, func() bool { return c.try(http.MethodGet, "/Users", "").status == http.StatusOK }, "token never accepted")
	group := c.send(t, http.MethodPost, "/Groups", `{"displayName":"Late"}`, http.StatusCreated).id
	member := c.send(t, http.MethodPost, "/Users", `{"userName":"member@example.com"}`, http.StatusCreated).id

	held := holdWrites(t, org.Namespace)
	patchOp := `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`
	requests := map[string][2]string{
		"OrgUser":            {"/Users", `{"userName":"late@example.com"}`},
		"OrgTeamMemberSlice": {"/Groups/" + group, fmt.Sprintf(`{%s,"Operations":[{"op":"add","path":"members","value":[{"value":%q}]}]}`, patchOp, member)},
	}
	answers := make(chan answer, len(requests))
	for kind, r := range requests {
		method := http.MethodPost
		if kind == "OrgTeamMemberSlice" {
			method = http.MethodPatch
		}
		go func() { answers <- c.try(method, r[0], r[1]) }()
		held.await(t, kind)
	}
	stopAt := time.Now()
	stopped := make(chan struct{})
	go func() { m.Stop(); close(stopped) }()
	for range requests {
		a := <-answers
		if a.err != nil || a.status != http.StatusServiceUnavailable || a.retryAfter == "" {
			t.Errorf("a request running at the shutdown timeout got %d (Retry-After %q, error %v), want 503 with Retry-After", a.status, a.retryAfter, a.err)
		}
	}
	if took := time.Since(stopAt); took < timeout {
		t.Errorf("answered %v after the stop began, before the shutdown timeout (%v)", took, timeout)
	}
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("the manager did not stop")
	}
}

// TestShutdownCutsLateCommit: a request that starts its membership commit only after shutdown
// began — the listener closed, nothing was committing then — is still cut at
// --shutdown-timeout and answered 503 with Retry-After, not dropped when the connections
// close: the commit it waits on is cancelled with it.
func TestShutdownCutsLateCommit(t *testing.T) {
	const timeout = 2 * time.Second
	m := env.StartRoster(t, func(c *app.Config) { c.ShutdownTimeout = timeout })
	org := env.NewOrg(t, "latecommit")
	c := &idp{base: m.BaseURL + "/scim/v2/" + org.Name, token: org.Token, http: &http.Client{Timeout: 30 * time.Second}}
	eventually(t, func() bool { return c.try(http.MethodGet, "/Users", "").status == http.StatusOK }, "token never accepted")
	first := c.send(t, http.MethodPost, "/Users", `{"userName":"first@example.com"}`, http.StatusCreated).id
	second := c.send(t, http.MethodPost, "/Users", `{"userName":"second@example.com"}`, http.StatusCreated).id
	group := c.send(t, http.MethodPost, "/Groups", fmt.Sprintf(`{"displayName":"Early","members":[{"value":%q}]}`, first), http.StatusCreated).id

	// The PUT renames the group: its display-name claim is written (and held here) before
	// its membership commit starts.
	held := holdWrites(t, org.Namespace, "orgteamnameclaims", "orgteammemberslices")
	answered := make(chan answer, 1)
	go func() {
		answered <- c.try(http.MethodPut, "/Groups/"+group, fmt.Sprintf(`{"displayName":"Late","members":[{"value":%q},{"value":%q}]}`, first, second))
	}()
	held.await(t, "OrgTeamNameClaim")
	stopped := make(chan struct{})
	go func() { m.Stop(); close(stopped) }()
	addr := m.SCIM.Addr()
	eventually(t, func() bool {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err != nil
	}, "the SCIM listener never closed")
	closedAt := time.Now()
	held.pass("OrgTeamNameClaim")
	held.await(t, "OrgTeamMemberSlice") // the commit has begun, after shutdown did
	if late := time.Since(closedAt); late >= timeout {
		t.Fatalf("the commit began %v after the listener closed, not before the shutdown timeout (%v): the test did not set up its case", late, timeout)
	}
	select {
	case a := <-answered:
		if a.err != nil || a.status != http.StatusServiceUnavailable || a.retryAfter == "" {
			t.Errorf("a request whose commit began after shutdown got %d (Retry-After %q, error %v), want 503 with Retry-After", a.status, a.retryAfter, a.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the request was never answered")
	}
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("the manager did not stop")
	}
}

// heldWrites is an admission webhook that holds the writes of OrgUsers and some resources
// (by default member slices) in one namespace until the test ends (then refuses them, so
// nothing held is written), or until the test lets a kind through.
type heldWrites struct {
	arrived chan string // the kind of each held write
	mu      sync.Mutex
	let     map[string]chan struct{} // per kind: closed once its writes may pass
}

// gate returns the channel closed when writes of kind may pass.
func (h *heldWrites) gate(kind string) chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.let[kind] == nil {
		h.let[kind] = make(chan struct{})
	}
	return h.let[kind]
}

// pass lets the held and later writes of kind through.
func (h *heldWrites) pass(kind string) { close(h.gate(kind)) }

// holdWrites installs the webhook and waits until the apiserver calls it.
func holdWrites(t *testing.T, namespace string, resources ...string) *heldWrites {
	t.Helper()
	if len(resources) == 0 {
		resources = []string{"orgteammemberslices"}
	}
	resources = append(resources, "orgusers") // the dry-run probe below writes one
	certs := &envtest.WebhookInstallOptions{LocalServingHost: "127.0.0.1"}
	if err := certs.PrepWithoutInstalling(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = certs.Cleanup() })
	h := &heldWrites{arrived: make(chan string, 16), let: map[string]chan struct{}{}}
	release := make(chan struct{})
	probed := make(chan struct{}, 1)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var review admissionv1.AdmissionReview
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Request == nil {
			http.Error(w, "bad review", http.StatusBadRequest)
			return
		}
		allowed := true
		if review.Request.DryRun != nil && *review.Request.DryRun {
			select { // the probe below: the webhook is in force
			case probed <- struct{}{}:
			default:
			}
		} else {
			h.arrived <- review.Request.Kind.Kind
			select {
			case <-h.gate(review.Request.Kind.Kind):
			case <-release:
				allowed = false
			case <-r.Context().Done():
				allowed = false
			}
		}
		review.Response = &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: allowed,
			Result: &metav1.Status{Message: "held by the test"}}
		review.Request = nil
		_ = json.NewEncoder(w).Encode(review)
	})
	srv := &http.Server{Handler: handler, ErrorLog: log.New(io.Discard, "", 0)}
	ln, err := net.Listen("tcp", net.JoinHostPort(certs.LocalServingHost, fmt.Sprint(certs.LocalServingPort)))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = srv.ServeTLS(ln, certs.LocalServingCertDir+"/tls.crt", certs.LocalServingCertDir+"/tls.key")
	}()

	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	url := "https://" + ln.Addr().String() + "/hold"
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:         "hold.rollout.test",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: certs.LocalServingCAData},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{rosterv1.GroupVersion.Group}, APIVersions: []string{rosterv1.GroupVersion.Version},
					Resources: resources},
			}},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": namespace}},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
	cfg.Name = "hold-" + namespace
	ctx := context.Background()
	if err := env.Client.Create(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Client.Delete(ctx, cfg)
		close(release)
		_ = srv.Close()
	})
	probe := &rosterv1.OrgUser{}
	probe.Name, probe.Namespace, probe.Spec.UserName = "u-probe", namespace, "probe@example.com"
	eventually(t, func() bool {
		_ = env.Client.Create(ctx, probe.DeepCopy(), client.DryRunAll)
		select {
		case <-probed:
			return true
		default:
			return false
		}
	}, "the apiserver never called the holding webhook")
	return h
}

// await waits until a write of kind is held.
func (h *heldWrites) await(t *testing.T, kind string) {
	t.Helper()
	select {
	case got := <-h.arrived:
		if got != kind {
			t.Fatalf("held a write of %s, want %s", got, kind)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no write of %s reached the apiserver", kind)
	}
}
