package controllers_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/membership"
)

// TestMultiSliceChangeIsSeenWhole: a PUT that needs several slice writes fails after the
// first of them (a real write refused by the apiserver). It is answered 503, and the identity
// store never sees the half-written member set: it keeps the old members until the identity
// provider's retry completes the change, then has all of them — no membership dropped and
// re-added on the way.
func TestMultiSliceChangeIsSeenWhole(t *testing.T) {
	const capacity = 10
	f := newFixture(t, sqliteURL(t), func(c *app.Config) { c.MemberSliceCapacity = capacity })
	users := make([]string, 3*capacity)
	for i := range users {
		users[i] = f.createUser(fmt.Sprintf("whole%02d@example.com", i), nil)
	}
	before := users[:capacity]
	group := f.createGroup("Whole", before...)
	f.awaitMembers(10*time.Second, group, before...)

	// The PUT adds 20 members: two new slices, written in the order of the sorted new ids.
	added := slices.Clone(users[capacity:])
	slices.Sort(added)
	lift := env.DenySliceWrites(t, f.org.Namespace, added[len(added)-1])

	// Watch the store the whole time: it may only ever hold the old or the new member set.
	var mu sync.Mutex
	var seen []int
	stop := make(chan struct{})
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		for stopped := false; !stopped; {
			select {
			case <-stop:
				stopped = true // one last sample, then done
			case <-time.After(5 * time.Millisecond):
			}
			if got, err := f.store.ObserveMembers(f.ctx, f.org.Name, group); err == nil {
				mu.Lock()
				if len(seen) == 0 || seen[len(seen)-1] != len(got) {
					seen = append(seen, len(got))
				}
				mu.Unlock()
			}
		}
	}()

	put := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "Whole", "members": refs(users)}
	f.scim.Do(t, http.MethodPut, "/Groups/"+group, put).ExpectError(t, http.StatusServiceUnavailable, "")
	// Half of it is in the apiserver now, marked as a change that failed.
	if got := f.sliceMembers(group); len(got) != 2*capacity {
		t.Fatalf("after the refused write the slices list %d members, want the first %d of the change", len(got), 2*capacity)
	}
	team := f.team(group)
	if err := env.Client.Get(f.ctx, key(team), team); err != nil {
		t.Fatal(err)
	}
	if !hasMark(team) {
		t.Fatalf("the half-written change left no mark on the team: %v", team.Annotations)
	}
	// An unrelated change succeeds in between (one member of the failed part): the team is
	// still half-way through the failed change, so the mark stays and the store waits.
	f.patchMembers(group, []string{added[len(added)-2]}, nil)
	if err := env.Client.Get(f.ctx, key(team), team); err != nil {
		t.Fatal(err)
	}
	if !hasMark(team) {
		t.Fatalf("an unrelated change cleared the failed change's mark: %v", team.Annotations)
	}
	// The controller keeps looking (it requeues while the team is not settled) and must not
	// sync: give it time to do the wrong thing (the watcher above sees every state it writes).
	time.Sleep(1500 * time.Millisecond)
	if got, err := f.store.ObserveMembers(f.ctx, f.org.Name, group); err != nil || len(got) != capacity {
		t.Fatalf("the store took a half-written change: %d members (%v), want the old %d", len(got), err, capacity)
	}

	// The write works again; the identity provider retries (503 is retried) and the change
	// converges to exactly what it asked for.
	lift()
	eventually(t, 20*time.Second, func() (bool, string) {
		r := f.scim.Do(t, http.MethodPut, "/Groups/"+group, put)
		return r.Status == http.StatusOK, fmt.Sprintf("retried PUT: %d %s", r.Status, r.Raw)
	})
	f.awaitMembers(10*time.Second, group, users...)
	close(stop)
	<-watching
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(seen, []int{capacity, 3 * capacity}) {
		t.Fatalf("the store went through member counts %v; want only %d then %d", seen, capacity, 3*capacity)
	}
	if err := env.Client.Get(f.ctx, key(team), team); err != nil {
		t.Fatal(err)
	}
	if hasMark(team) {
		t.Fatalf("the completed change left a mark: %v", team.Annotations)
	}
}

func hasMark(team *rosterv1.OrgTeam) bool {
	for k := range team.Annotations {
		if strings.HasPrefix(k, membership.MarkPrefix) {
			return true
		}
	}
	return false
}

func refs(ids []string) []map[string]any {
	out := make([]map[string]any, len(ids))
	for i, id := range ids {
		out[i] = map[string]any{"value": id}
	}
	return out
}
