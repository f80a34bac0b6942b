package scim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/slimuser"
)

// loadUsers creates n OrgUsers straight through the apiserver (the SCIM path is tested
// elsewhere; here only their existence matters) and returns their SCIM ids.
// awaitCachedUsers waits until the shared manager's cache holds n users in ns: set-up for
// users loaded past SCIM (loadUsers), before the steps a test times or counts.
func awaitCachedUsers(t *testing.T, ns string, n int) {
	t.Helper()
	eventually(t, 60*time.Second, func() bool {
		cached := 0 // the cache's own (compact) users, counted in place
		err := slimuser.Each(context.Background(), sharedRoster.Manager.GetCache(), ns, func(*slimuser.User) { cached++ })
		return err == nil && cached == n
	}, "users not in the SCIM server's cache")
}

func loadUsers(t *testing.T, ns, org string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				u := &rosterv1.OrgUser{Spec: rosterv1.OrgUserSpec{UserName: fmt.Sprintf("big%06d@example.com", i)}}
				u.Name, u.Namespace = naming.UserObjectName(u.Spec.UserName), ns
				u.Labels = map[string]string{rosterv1.OrgLabel: org}
				if err := env.Client.Create(context.Background(), u); err != nil {
					failed.Store(err)
					return
				}
				ids[i] = u.Name
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatalf("loading users: %v", err)
	}
	return ids
}

// TestTwentyThousandMemberTeam: a 20,000-member team round trip — PUT with every member,
// read back, remove and add 1,000 in one PATCH each, read without members — with every
// member slice bounded and far below etcd's object limit.
func TestTwentyThousandMemberTeam(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 20,000 users")
	}
	const n = 20000
	c, org := newOrgClient(t)
	ids := loadUsers(t, org.Namespace, org.Name, n)
	awaitCachedUsers(t, org.Namespace, n)
	id := c.Do(t, http.MethodPost, "/Groups", `{"displayName":"Everyone"}`).Expect(t, http.StatusCreated).String("id")

	c.Do(t, http.MethodPut, "/Groups/"+id, `{"displayName":"Everyone","members":`+memberList(ids...)+`}`, "X-Test: put").Expect(t, http.StatusOK)
	if got := members(t, c, id); len(got) != n {
		t.Fatalf("%d members after PUT, want %d", len(got), n)
	}
	remove := ids[:1000]
	var ops []string
	for _, u := range remove {
		ops = append(ops, fmt.Sprintf(`{"op":"remove","path":"members[value eq \"%s\"]"}`, u))
	}
	patchGroup(t, c, id, "["+join(ops)+"]").Expect(t, http.StatusNoContent)
	if got := members(t, c, id); len(got) != n-1000 || contains(got, remove[0]) || contains(got, remove[999]) {
		t.Fatalf("%d members after removing 1,000", len(got))
	}
	patchGroup(t, c, id, `[{"op":"add","path":"members","value":`+memberList(remove...)+`}]`).Expect(t, http.StatusNoContent)
	got := members(t, c, id)
	if len(got) != n {
		t.Fatalf("%d members after adding 1,000 back, want %d", len(got), n)
	}
	lean := c.Do(t, http.MethodGet, "/Groups/"+id+"?excludedAttributes=members", nil).Expect(t, http.StatusOK)
	if lean.Get("members") != nil || len(lean.Raw) > 2048 {
		t.Fatalf("excludedAttributes=members returned %d bytes", len(lean.Raw))
	}

	var slices rosterv1.OrgTeamMemberSliceList
	if err := env.Client.List(context.Background(), &slices, client.InNamespace(org.Namespace), client.MatchingLabels{rosterv1.TeamLabel: id}); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, s := range slices.Items {
		b, _ := json.Marshal(s)
		if len(s.Spec.Members) > rosterv1.MaxMembersPerSlice || len(b) > 512<<10 {
			t.Errorf("slice %s: %d members, %d bytes", s.Name, len(s.Spec.Members), len(b))
		}
		total += len(s.Spec.Members)
	}
	if total != n || len(slices.Items) > n/rosterv1.MaxMembersPerSlice+2 {
		t.Fatalf("%d members in %d slices", total, len(slices.Items))
	}
}

func join(parts []string) string {
	out := ""
	for i, p := range parts {
		if i > 0 {
			out += ","
		}
		out += p
	}
	return out
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
