package scim_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
)

// setSCIM switches an organization's SCIM (spec.scim) as an administrator would.
func setSCIM(t *testing.T, org string, state rosterv1.SCIMState) {
	t.Helper()
	o := &rosterv1.Organization{}
	o.Name = org
	patch := client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"scim":"`+string(state)+`"}}`))
	if err := env.Client.Patch(context.Background(), o, patch); err != nil {
		t.Fatalf("setting spec.scim %s: %v", state, err)
	}
}

// expectDisabled checks the 403 an identity provider gets while SCIM is disabled.
func expectDisabled(t *testing.T, r *scimtest.Response, org string) {
	t.Helper()
	r.ExpectError(t, http.StatusForbidden, "")
	if d := r.String("detail"); !strings.Contains(d, `SCIM is disabled for organization "`+org+`"`) || !strings.Contains(d, "spec.scim: Enabled") {
		t.Errorf("detail does not say why and what to do: %s", d)
	}
}

// TestDisabledOrganization: with spec.scim: Disabled every request under the org's base URL
// is answered 403 once the replica's cache has the switch (a watch round trip), after the
// token is checked (a caller without it still gets 401), and no write is accepted from then
// on; enabling SCIM again serves the org as before.
func TestDisabledOrganization(t *testing.T) {
	c, org := newOrgClient(t)
	setSCIM(t, org.Name, rosterv1.SCIMDisabled)
	eventually(t, 10*time.Second, func() bool { return c.Do(t, http.MethodGet, "/Users", nil).Status == http.StatusForbidden }, "reads still served")
	expectDisabled(t, c.Do(t, http.MethodPost, "/Users", oktaUser("ada@example.com")), org.Name)
	for _, path := range []string{"/ServiceProviderConfig", "/Groups", "/Users/u-1", "/Me"} {
		expectDisabled(t, c.Do(t, http.MethodGet, path, nil), org.Name)
	}
	expectDisabled(t, c.Do(t, http.MethodPost, "/Groups", `{"displayName":"Eng"}`), org.Name)
	anon := *c
	anon.Token = "roster_wrong"
	anon.Do(t, http.MethodGet, "/Users", nil).ExpectError(t, http.StatusUnauthorized, "")

	setSCIM(t, org.Name, rosterv1.SCIMEnabled)
	eventually(t, 10*time.Second, func() bool { return c.Do(t, http.MethodGet, "/Users", nil).Status == http.StatusOK }, "not served again")
	if r := c.Do(t, http.MethodGet, "/Users", nil); r.Get("totalResults") != float64(0) {
		t.Fatalf("a write while disabled got through: %s", r.Raw)
	}
}

// TestDisabledOrganizationOnAStaleReplica: a replica whose cache has not seen the switch (its
// Organization and OrgTeam watches are held back here) still answers from that cache — the
// SCIM server's check trails the switch by the watch's lag — but cannot change a team the
// switch released: the membership commit reads the team from the apiserver and refuses the
// identity provider's change of a team that is managed by hand now (404, as SCIM sees it).
func TestDisabledOrganizationOnAStaleReplica(t *testing.T) {
	// The package's shared manager, whose caches follow, releases the team.
	sharedOnce.Do(func() { sharedRoster = env.StartSharedRoster(t, nil) })
	held := &watchHold{open: closedChan()}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(held.wrap("/organizations"))
	cfg.Wrap(held.wrap("/orgteams"))
	r := env.StartRosterWithConfig(t, cfg, nil)
	t.Cleanup(held.release) // runs before the manager stops
	org := env.NewOrg(t, "stale")
	c := scimtest.New(r.BaseURL, org.Name, org.Token)
	waitForToken(t, c)
	ada := c.Do(t, http.MethodPost, "/Users", oktaUser("ada@example.com")).Expect(t, http.StatusCreated).String("id")
	gid := c.Do(t, http.MethodPost, "/Groups", `{"displayName":"Eng"}`).Expect(t, http.StatusCreated).String("id")
	eventually(t, 10*time.Second, func() bool { return c.Do(t, http.MethodGet, "/Groups/"+gid, nil).Status == http.StatusOK },
		"the group never reached the replica's cache")

	held.hold()
	setSCIM(t, org.Name, rosterv1.SCIMDisabled)
	// The shared manager's Organization controller releases the team.
	key := client.ObjectKey{Namespace: org.Namespace, Name: gid}
	eventually(t, 20*time.Second, func() bool {
		var team rosterv1.OrgTeam
		return env.Client.Get(context.Background(), key, &team) == nil && team.Spec.ManagedBy == rosterv1.ManagedByManual
	}, "the team was never released")
	// The stale replica still takes the team for a SCIM team; its change is refused anyway.
	c.Do(t, http.MethodPatch, "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],`+
		`"Operations":[{"op":"add","path":"members","value":[{"value":"`+ada+`"}]}]}`).ExpectError(t, http.StatusNotFound, "")
	var slices rosterv1.OrgTeamMemberSliceList
	if err := env.Client.List(context.Background(), &slices, client.InNamespace(org.Namespace), client.MatchingLabels{rosterv1.TeamLabel: gid}); err != nil {
		t.Fatal(err)
	}
	for _, sl := range slices.Items {
		if len(sl.Spec.Members) > 0 {
			t.Fatalf("a stale replica changed a released team's members: %v", sl.Spec.Members)
		}
	}
	// Nor delete it (and its hand-managed members with it).
	c.Do(t, http.MethodDelete, "/Groups/"+gid, nil).ExpectError(t, http.StatusNotFound, "")
	var still rosterv1.OrgTeam
	if err := env.Client.Get(context.Background(), key, &still); err != nil || still.DeletionTimestamp != nil {
		t.Fatalf("a stale replica deleted a released team: %v", err)
	}
	held.release()
	eventually(t, 10*time.Second, func() bool { return c.Do(t, http.MethodGet, "/Users", nil).Status == http.StatusForbidden }, "the cache never caught up")
}

// watchHold holds back the events of some watches while held: a stalled watch, as a replica
// with a slow or broken connection to the apiserver has.
type watchHold struct {
	mu   sync.Mutex
	open chan struct{} // closed while events flow
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

func (h *watchHold) hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.open = make(chan struct{})
}

func (h *watchHold) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.open:
	default:
		close(h.open)
	}
}

func (h *watchHold) gate() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.open
}

// wrap returns a transport wrapper that holds the bodies of watches whose path ends in suffix.
func (h *watchHold) wrap(suffix string) func(http.RoundTripper) http.RoundTripper {
	return func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(req)
			if err == nil && req.URL.Query().Get("watch") == "true" && strings.HasSuffix(req.URL.Path, suffix) {
				resp.Body = &heldBody{ReadCloser: resp.Body, hold: h, closed: make(chan struct{})}
			}
			return resp, err
		})
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// heldBody passes on what it reads only while its hold is released. It waits after reading:
// a watch's reader is nearly always blocked in Read already when the hold begins.
type heldBody struct {
	io.ReadCloser
	hold      *watchHold
	closeOnce sync.Once
	closed    chan struct{}
}

func (b *heldBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	select {
	case <-b.hold.gate():
	case <-b.closed:
	}
	return n, err
}

func (b *heldBody) Close() error {
	b.closeOnce.Do(func() { close(b.closed) })
	return b.ReadCloser.Close()
}
