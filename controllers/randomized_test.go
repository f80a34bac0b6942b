package controllers_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/identitystore"
	"github.com/rosterhq/roster/internal/identitystore/open"
	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
)

// TestRandomizedAgainstModel drives two managers — two replicas with separate caches, the
// controllers on the elected leader only, as installed — with a few thousand random SCIM
// operations, then checks that the apiserver, both replicas' answers and the identity store
// all equal a model of what the identity provider asked for.
//
// Each worker owns its own users and groups, so its model is exact; the workers run at once
// (bounded concurrency) and every operation goes to a replica chosen at random, with no
// waiting in between. ROSTER_TEST_SEED replays a run; the seed is printed on failure.
func TestRandomizedAgainstModel(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ROSTER_TEST_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay with ROSTER_TEST_SEED=%d", seed)
		}
	})
	const workers, opsPerWorker = 4, 600
	ctx := context.Background()

	// Leader election in a namespace of this test's own: only one manager runs controllers.
	leases := &corev1.Namespace{}
	leases.GenerateName = "leases-"
	if err := env.Client.Create(ctx, leases); err != nil {
		t.Fatal(err)
	}
	storeURL := sqliteURL(t)
	config := func(c *app.Config) {
		c.IdentityStore = storeURL
		c.MemberSliceCapacity = 8 // many multi-slice changes with few users
		c.LeaderElection, c.LeaderElectionNamespace = true, leases.Name
	}
	replicas := []*scimtest.Client{}
	org := env.NewOrg(t, "rand")
	for range 2 {
		r := env.StartRoster(t, config)
		c := scimtest.New(r.BaseURL, org.Name, org.Token)
		eventually(t, 10*time.Second, func() (bool, string) {
			s := c.Do(t, http.MethodGet, "/ServiceProviderConfig", nil).Status
			return s == http.StatusOK, fmt.Sprintf("token not accepted yet: %d", s)
		})
		replicas = append(replicas, c)
	}
	store, err := open.Open(ctx, storeURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })

	// One group every worker changes at once (each with its own users only, so the model of
	// its members is the union of the workers'): fences and group commits across replicas.
	hot := replicas[0].Do(t, http.MethodPost, "/Groups", `{"displayName":"Hot"}`)
	if hot.Status != http.StatusCreated {
		t.Fatalf("creating the shared group: %d %s", hot.Status, hot.Raw)
	}
	hotID := hot.String("id")

	models := make([]*model, workers)
	var wg sync.WaitGroup
	for w := range workers {
		models[w] = &model{users: map[string]*modelUser{}, groups: map[string]*modelGroup{}, hot: map[string]bool{}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			run := &runner{t: t, m: models[w], rng: rng, replicas: replicas, prefix: fmt.Sprintf("w%d", w), hot: hotID}
			for i := 0; i < opsPerWorker && !t.Failed(); i++ {
				run.step(i)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	hotWant := &modelGroup{id: hotID, displayName: "Hot", members: map[string]bool{}}
	for _, m := range models {
		m.check(t, ctx, org.Namespace, org.Name, replicas, store)
		for id := range m.hot {
			hotWant.members[id] = true
		}
	}
	(&model{groups: map[string]*modelGroup{hotID: hotWant}}).check(t, ctx, org.Namespace, org.Name, replicas, store)
}

// model is what one worker's identity provider believes.
type model struct {
	users  map[string]*modelUser  // by userName
	groups map[string]*modelGroup // by id
	hot    map[string]bool        // this worker's users in the shared group
}

type modelUser struct {
	id, userName, displayName string
	active, deleted           bool
}

type modelGroup struct {
	id, displayName string
	members         map[string]bool
	deleted         bool
}

// runner sends one worker's random operations and keeps its model.
type runner struct {
	t        *testing.T
	m        *model
	rng      *rand.Rand
	replicas []*scimtest.Client
	prefix   string
	seq      int
	hot      string // the shared group's id
}

func (r *runner) replica() *scimtest.Client { return r.replicas[r.rng.IntN(len(r.replicas))] }

func (r *runner) expect(resp *scimtest.Response, want int, op string) *scimtest.Response {
	r.t.Helper()
	if resp.Status != want {
		r.t.Errorf("%s: %d, want %d: %s", op, resp.Status, want, resp.Raw)
	}
	return resp
}

func (r *runner) liveUsers() []*modelUser {
	var out []*modelUser
	for _, u := range r.m.users {
		if !u.deleted {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b *modelUser) int { return strings.Compare(a.userName, b.userName) })
	return out
}

func (r *runner) liveGroups() []*modelGroup {
	var out []*modelGroup
	for _, g := range r.m.groups {
		if !g.deleted {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b *modelGroup) int { return strings.Compare(a.id, b.id) })
	return out
}

// someUsers picks up to n live users.
func (r *runner) someUsers(n int) []*modelUser {
	users := r.liveUsers()
	r.rng.Shuffle(len(users), func(i, j int) { users[i], users[j] = users[j], users[i] })
	return users[:min(n, len(users))]
}

func ids(users []*modelUser) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.id
	}
	return out
}

const patchSchema = `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`

// step performs one random operation.
func (r *runner) step(i int) {
	t := r.t
	users, groups := r.liveUsers(), r.liveGroups()
	switch k := r.rng.IntN(100); {
	case k < 18 || len(users) < 3: // create a user (sometimes a userName deleted earlier)
		name := fmt.Sprintf("%s-u%d@example.com", r.prefix, r.seq)
		r.seq++
		for _, u := range r.m.users {
			if u.deleted && r.rng.IntN(2) == 0 {
				name = u.userName
				break
			}
		}
		c := r.replica()
		var resp *scimtest.Response
		eventually(t, 10*time.Second, func() (bool, string) {
			resp = c.Do(t, http.MethodPost, "/Users", fmt.Sprintf(`{"userName":%q,"displayName":"new","active":true}`, name))
			return resp.Status != http.StatusServiceUnavailable, "the previous user of the userName is still being deleted"
		})
		r.expect(resp, http.StatusCreated, "create user "+name)
		r.m.users[name] = &modelUser{id: resp.String("id"), userName: name, displayName: "new", active: true}
	case k < 24: // profile update
		u := users[r.rng.IntN(len(users))]
		u.displayName = fmt.Sprintf("name %d", i)
		r.expect(r.replica().Do(t, http.MethodPatch, "/Users/"+u.id,
			fmt.Sprintf(`{%s,"Operations":[{"op":"replace","path":"displayName","value":%q}]}`, patchSchema, u.displayName)), http.StatusOK, "rename user")
	case k < 30: // profile update under If-Match, with the version read from either replica
		u := users[r.rng.IntN(len(users))]
		etag := r.replica().Do(t, http.MethodGet, "/Users/"+u.id, nil).Header.Get("ETag")
		name := fmt.Sprintf("name %d", i)
		resp := r.replica().Do(t, http.MethodPatch, "/Users/"+u.id,
			fmt.Sprintf(`{%s,"Operations":[{"op":"replace","path":"displayName","value":%q}]}`, patchSchema, name), "If-Match: "+etag)
		switch resp.Status {
		case http.StatusOK:
			u.displayName = name
		case http.StatusPreconditionFailed: // the read came from a replica behind the last write
		default:
			t.Errorf("If-Match update: %d %s", resp.Status, resp.Raw)
		}
	case k < 36: // the shared group: add or remove one of this worker's users
		u := users[r.rng.IntN(len(users))]
		op := fmt.Sprintf(`{"op":"add","path":"members","value":[{"value":%q}]}`, u.id)
		if r.m.hot[u.id] {
			op = fmt.Sprintf(`{"op":"remove","path":"members[value eq \"%s\"]"}`, u.id)
		}
		r.expect(r.replica().Do(t, http.MethodPatch, "/Groups/"+r.hot, fmt.Sprintf(`{%s,"Operations":[%s]}`, patchSchema, op)), http.StatusNoContent, "shared group")
		r.m.hot[u.id] = !r.m.hot[u.id]
		if !r.m.hot[u.id] {
			delete(r.m.hot, u.id)
		}
	case k < 42: // deactivate or reactivate
		u := users[r.rng.IntN(len(users))]
		u.active = !u.active
		r.expect(r.replica().Do(t, http.MethodPatch, "/Users/"+u.id,
			fmt.Sprintf(`{%s,"Operations":[{"op":"replace","value":{"active":%t}}]}`, patchSchema, u.active)), http.StatusOK, "set active")
	case k < 48: // delete a user: it leaves every group
		u := users[r.rng.IntN(len(users))]
		r.expect(r.replica().Do(t, http.MethodDelete, "/Users/"+u.id, nil), http.StatusNoContent, "delete user")
		u.deleted = true
		for _, g := range r.m.groups {
			delete(g.members, u.id)
		}
		delete(r.m.hot, u.id)
	case k < 56 || len(groups) == 0: // create a group with members
		members := r.someUsers(r.rng.IntN(12))
		name := fmt.Sprintf("%s group %d", r.prefix, r.seq)
		r.seq++
		resp := r.expect(r.replica().Do(t, http.MethodPost, "/Groups", map[string]any{"displayName": name, "members": refs(ids(members))}), http.StatusCreated, "create group")
		g := &modelGroup{id: resp.String("id"), displayName: name, members: map[string]bool{}}
		for _, u := range members {
			g.members[u.id] = true
		}
		r.m.groups[g.id] = g
	case k < 72: // add members (Okta: one PATCH per push)
		g := groups[r.rng.IntN(len(groups))]
		add := r.someUsers(1 + r.rng.IntN(10))
		r.expect(r.replica().Do(t, http.MethodPatch, "/Groups/"+g.id,
			map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": []map[string]any{{"op": "add", "path": "members", "value": refs(ids(add))}}}),
			http.StatusNoContent, "add members")
		for _, u := range add {
			g.members[u.id] = true
		}
	case k < 84: // remove members, one operation each (as Okta sends them)
		g := groups[r.rng.IntN(len(groups))]
		var ops []map[string]any
		for id := range g.members {
			if r.rng.IntN(3) == 0 {
				ops = append(ops, map[string]any{"op": "remove", "path": fmt.Sprintf(`members[value eq "%s"]`, id)})
				delete(g.members, id)
			}
		}
		if len(ops) == 0 {
			return
		}
		r.expect(r.replica().Do(t, http.MethodPatch, "/Groups/"+g.id,
			map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": ops}), http.StatusNoContent, "remove members")
	case k < 90: // replace all members (Entra, PUT)
		g := groups[r.rng.IntN(len(groups))]
		members := r.someUsers(r.rng.IntN(20))
		r.expect(r.replica().Do(t, http.MethodPut, "/Groups/"+g.id, map[string]any{"displayName": g.displayName, "members": refs(ids(members))}), http.StatusOK, "replace members")
		g.members = map[string]bool{}
		for _, u := range members {
			g.members[u.id] = true
		}
	case k < 96: // rename (Okta sends the id inside the value)
		g := groups[r.rng.IntN(len(groups))]
		g.displayName = fmt.Sprintf("%s renamed %d", r.prefix, r.seq)
		r.seq++
		r.expect(r.replica().Do(t, http.MethodPatch, "/Groups/"+g.id,
			fmt.Sprintf(`{%s,"Operations":[{"op":"replace","value":{"id":%q,"displayName":%q}}]}`, patchSchema, g.id, g.displayName)), http.StatusNoContent, "rename group")
	default: // delete a group
		g := groups[r.rng.IntN(len(groups))]
		r.expect(r.replica().Do(t, http.MethodDelete, "/Groups/"+g.id, nil), http.StatusNoContent, "delete group")
		g.deleted = true
	}
}

// check compares the apiserver, both replicas and the identity store with the model. The
// apiserver must match at once; replicas and the store within a few seconds.
func (m *model) check(t *testing.T, ctx context.Context, namespace, org string, replicas []*scimtest.Client, store identitystore.Store) {
	t.Helper()
	for _, u := range m.users {
		var obj rosterv1.OrgUser
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: u.id}, &obj)
		switch {
		case u.deleted:
			if err == nil && obj.DeletionTimestamp == nil {
				t.Errorf("apiserver: deleted user %s still exists", u.userName)
			}
			continue
		case err != nil:
			t.Errorf("apiserver: user %s: %v", u.userName, err)
			continue
		case obj.Spec.IsActive() != u.active || obj.Spec.DisplayName != u.displayName:
			t.Errorf("apiserver: user %s active=%t displayName=%q, model active=%t displayName=%q", u.userName, obj.Spec.IsActive(), obj.Spec.DisplayName, u.active, u.displayName)
		}
		for i, c := range replicas {
			eventually(t, 10*time.Second, func() (bool, string) {
				r := c.Do(t, http.MethodGet, "/Users/"+u.id, nil)
				return r.Status == http.StatusOK && r.Get("active") == u.active && r.String("displayName") == u.displayName,
					fmt.Sprintf("replica %d: user %s: %d %s", i, u.userName, r.Status, r.Raw)
			})
		}
		eventually(t, 10*time.Second, func() (bool, string) {
			row, err := store.ObserveUser(ctx, org, u.id)
			return err == nil && row.Active == u.active && row.DisplayName == u.displayName, fmt.Sprintf("store: user %s: %+v %v", u.userName, row, err)
		})
	}
	for _, g := range m.groups {
		want := make([]string, 0, len(g.members))
		for id := range g.members {
			want = append(want, id)
		}
		slices.Sort(want)
		var team rosterv1.OrgTeam
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: g.id}, &team)
		if g.deleted {
			if err == nil && team.DeletionTimestamp == nil {
				t.Errorf("apiserver: deleted group %s still exists", g.displayName)
			}
			continue
		}
		if err != nil || team.Spec.DisplayName != g.displayName {
			t.Errorf("apiserver: group %s: %q %v", g.displayName, team.Spec.DisplayName, err)
		}
		var sl rosterv1.OrgTeamMemberSliceList
		if err := env.Client.List(ctx, &sl, client.InNamespace(namespace), client.MatchingLabels{rosterv1.TeamLabel: g.id}); err != nil {
			t.Fatal(err)
		}
		if got := membership.Members(sl.Items).Sorted(); !slices.Equal(got, want) {
			t.Errorf("apiserver: group %s members %v, model %v", g.displayName, got, want)
		}
		for i, c := range replicas {
			eventually(t, 10*time.Second, func() (bool, string) {
				r := c.Do(t, http.MethodGet, "/Groups/"+g.id, nil)
				var got []string
				ms, _ := r.Get("members").([]any)
				for _, x := range ms {
					got = append(got, x.(map[string]any)["value"].(string))
				}
				slices.Sort(got)
				return r.Status == http.StatusOK && r.String("displayName") == g.displayName && slices.Equal(got, want),
					fmt.Sprintf("replica %d: group %s: members %v, want %v (%d)", i, g.displayName, got, want, r.Status)
			})
		}
		eventually(t, 10*time.Second, func() (bool, string) {
			got, err := store.ObserveMembers(ctx, org, g.id)
			if len(got) == 0 && len(want) == 0 {
				got = want
			}
			return err == nil && slices.Equal(got, want), fmt.Sprintf("store: group %s members %v, want %v (%v)", g.displayName, got, want, err)
		})
	}
}
