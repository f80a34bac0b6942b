package scim_test

import (
	"context"
	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"net/http"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/testutil/scimtest"
	"github.com/rosterhq/roster/internal/token"
)

func TestAuthentication(t *testing.T) {
	c, _ := newOrgClient(t)
	for name, hdr := range map[string]string{
		"wrong token":          "Authorization: Bearer roster_wrong",
		"basic scheme":         "Authorization: Basic dXNlcjpwYXNz",
		"no token":             "Authorization: Bearer",
		"token without scheme": "Authorization: " + c.Token,
	} {
		t.Run(name, func(t *testing.T) {
			anon := *c
			anon.Token = ""
			anon.Do(t, http.MethodGet, "/Users", nil, hdr).ExpectError(t, http.StatusUnauthorized, "")
		})
	}
	anon := *c
	anon.Token = ""
	anon.Do(t, http.MethodGet, "/Users", nil).ExpectError(t, http.StatusUnauthorized, "")
	anon.Do(t, http.MethodGet, "/ServiceProviderConfig", nil).ExpectError(t, http.StatusUnauthorized, "")
	// Unauthenticated writes change nothing.
	anon.Do(t, http.MethodPost, "/Users", oktaUser("intruder@example.com")).ExpectError(t, http.StatusUnauthorized, "")
	if r := c.Do(t, http.MethodGet, "/Users", nil).Expect(t, http.StatusOK); r.Get("totalResults") != float64(0) {
		t.Fatalf("unauthenticated POST wrote: %s", r.Raw)
	}
	// An unknown org answers exactly like a wrong token.
	ghost := scimtest.New(sharedRoster.BaseURL, "no-such-org", c.Token)
	ghost.Do(t, http.MethodGet, "/Users", nil).ExpectError(t, http.StatusUnauthorized, "")
}

func TestTokenIsolationBetweenOrgs(t *testing.T) {
	a, _ := newOrgClient(t)
	b, orgB := newOrgClient(t)
	createUser(t, a, "only-in-a@example.com")
	// A's token on B's URL is refused; B sees none of A's users.
	crossed := scimtest.New(sharedRoster.BaseURL, orgB.Name, a.Token)
	crossed.Do(t, http.MethodGet, "/Users", nil).ExpectError(t, http.StatusUnauthorized, "")
	crossed.Do(t, http.MethodPost, "/Users", oktaUser("x@example.com")).ExpectError(t, http.StatusUnauthorized, "")
	if r := b.Do(t, http.MethodGet, "/Users", nil).Expect(t, http.StatusOK); r.Get("totalResults") != float64(0) {
		t.Fatalf("org B sees org A's users: %s", r.Raw)
	}
}

// TestRotationReachesEveryReplica rotates a token while two SCIM servers (two managers, two
// caches) serve the org: both refuse the old token within seconds and accept the new one.
func TestRotationReachesEveryReplica(t *testing.T) {
	c, other, org := newReplicaPair(t)
	replicas := []*scimtest.Client{c, other}
	newToken, err := token.Rotate(context.Background(), env.Client, token.DefaultNamespace, org.Name, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range replicas {
		eventually(t, 10*time.Second, func() bool {
			return r.Do(t, http.MethodGet, "/Users", nil).Status == http.StatusUnauthorized
		}, "replica %d still accepts the rotated-out token", i)
		fresh := *r
		fresh.Token = newToken
		eventually(t, 10*time.Second, func() bool {
			return fresh.Do(t, http.MethodGet, "/Users", nil).Status == http.StatusOK
		}, "replica %d does not accept the new token", i)
	}
}

// TestRotationGracePeriod: with a grace period both tokens work on every replica (two managers,
// two caches) until it ends, and then only the new one does, on every replica.
func TestRotationGracePeriod(t *testing.T) {
	c, other, org := newReplicaPair(t)
	old := []*scimtest.Client{c, other}
	// The expiry is stored to the second, so the old token works between grace-1s and grace.
	const grace = 15 * time.Second
	rotated := time.Now()
	newToken, err := token.Rotate(context.Background(), env.Client, token.DefaultNamespace, org.Name, grace)
	if err != nil {
		t.Fatal(err)
	}
	fresh := make([]*scimtest.Client, len(old))
	for i := range old {
		f := *old[i]
		f.Token = newToken
		fresh[i] = &f
		eventually(t, 10*time.Second, func() bool {
			return fresh[i].Do(t, http.MethodGet, "/Users", nil).Status == http.StatusOK
		}, "replica %d does not accept the new token", i)
	}
	// Every replica has seen the rotation. Within the grace period the old token still works
	// on each...
	if took := time.Since(rotated); took > grace-3*time.Second {
		t.Fatalf("the replicas took %s to see the rotation: too close to the %s grace period to check it", took, grace)
	}
	for i := range old {
		if r := old[i].Do(t, http.MethodGet, "/Users", nil); r.Status != http.StatusOK {
			t.Errorf("replica %d refuses the old token %s into a %s grace period: %d", i, time.Since(rotated), grace, r.Status)
		}
	}
	// ...and once it is over, on none (not before), while the new one goes on working.
	refusedAfter := make([]time.Duration, len(old))
	eventually(t, grace+5*time.Second, func() bool {
		all := true
		for i := range old {
			if refusedAfter[i] == 0 && old[i].Do(t, http.MethodGet, "/Users", nil).Status == http.StatusUnauthorized {
				refusedAfter[i] = time.Since(rotated)
			}
			all = all && refusedAfter[i] != 0
		}
		return all
	}, "old token still accepted after the grace period (replicas refused it after %v)", refusedAfter)
	for i := range old {
		if refusedAfter[i] < grace-time.Second {
			t.Errorf("replica %d refused the old token %s after the rotation, before the %s grace period ended", i, refusedAfter[i], grace)
		}
		fresh[i].Do(t, http.MethodGet, "/Users", nil).Expect(t, http.StatusOK)
	}
}

// TestConcurrentCreateAcrossReplicas races 20 identical POSTs over two SCIM servers with
// separate caches against one apiserver: exactly one 201, the rest 409, one object.
func TestConcurrentCreateAcrossReplicas(t *testing.T) {
	c, other, org := newReplicaPair(t)
	clients := []*scimtest.Client{c, other}
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := clients[i%2].Do(t, http.MethodPost, "/Users", oktaUser("race@example.com"))
			mu.Lock()
			codes[r.Status]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	if codes[http.StatusCreated] != 1 || codes[http.StatusConflict] != 19 {
		t.Fatalf("want one 201 and nineteen 409, got %v", codes)
	}
	awaitListed(t, c, "race@example.com")
	var list rosterv1.OrgUserList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(org.Namespace)); err != nil || len(list.Items) != 1 {
		t.Fatalf("want exactly one OrgUser in the apiserver, got %d (%v)", len(list.Items), err)
	}
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(format, args...)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSharedNamespaceIsRefused: two organizations naming one namespace would see each
// other's users; SCIM refuses both (503 with a detail naming the problem) until it is fixed.
func TestSharedNamespaceIsRefused(t *testing.T) {
	c, org := newOrgClient(t)
	createUser(t, c, "private@example.com")
	intruder := &rosterv1.Organization{}
	intruder.Name, intruder.Spec.Namespace = org.Name+"-twin", org.Namespace
	ctx := context.Background()
	if err := env.Client.Create(ctx, intruder); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() bool {
		return c.Do(t, http.MethodGet, "/Users", nil).Status == http.StatusServiceUnavailable
	}, "an org whose namespace is shared is still served")
	r := c.Do(t, http.MethodGet, "/Users", nil).ExpectError(t, http.StatusServiceUnavailable, "")
	if !strings.Contains(r.String("detail"), "namespace") {
		t.Fatalf("detail should name the problem: %s", r.Raw)
	}
	if err := env.Client.Delete(ctx, intruder); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() bool {
		return c.Do(t, http.MethodGet, "/Users", nil).Status == http.StatusOK
	}, "the org is not served again after the conflict was removed")
}
