package controllers_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/controllers"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/cachescan"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/slimuser"
)

// TestOrganizationCountsBackToBack: creates, deactivations and deletes of users and teams sent
// back to back leave the Organization's counts and its Synced condition exact, in a Roster that
// caches every namespace and in a shard's, which caches its organizations' namespaces apart.
func TestOrganizationCountsBackToBack(t *testing.T) {
	t.Run("every namespace", func(t *testing.T) { checkCountsBackToBack(t, newUnshardedFixture(t, sqliteURL(t))) })
	t.Run("a shard", func(t *testing.T) { checkCountsBackToBack(t, newFixture(t, sqliteURL(t), nil)) })
}

func checkCountsBackToBack(t *testing.T, f *fixture) {
	ctx, ns := f.ctx, f.org.Namespace
	var users []*rosterv1.OrgUser
	for i := range 30 {
		u := &rosterv1.OrgUser{Spec: rosterv1.OrgUserSpec{UserName: fmt.Sprintf("b2b%d@example.com", i)}}
		if i%3 == 0 {
			u.Spec.Active = new(false)
		}
		u.Name, u.Namespace = naming.UserObjectName(u.Spec.UserName), ns
		if err := env.Client.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	var teams []*rosterv1.OrgTeam
	for i := range 5 {
		team := &rosterv1.OrgTeam{Spec: rosterv1.OrgTeamSpec{DisplayName: fmt.Sprintf("B2B %d", i)}}
		team.Name, team.Namespace = naming.NewTeamObjectName(), ns
		if err := env.Client.Create(ctx, team); err != nil {
			t.Fatal(err)
		}
		teams = append(teams, team)
	}
	// Deactivate users 1, 2, 4 (0 and 3 are inactive already), delete users 5..9 and two teams.
	for _, i := range []int{1, 2, 4} {
		base := users[i].DeepCopy()
		users[i].Spec.Active = new(false)
		if err := env.Client.Patch(ctx, users[i], client.MergeFrom(base)); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range []client.Object{users[5], users[6], users[7], users[8], users[9], teams[0], teams[3]} {
		if err := env.Client.Delete(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	// Left: users 0..4 (all inactive) and 10..29, of which 12, 15, ..., 27 are inactive.
	const wantUsers, wantActive, wantTeams = 25, 25 - 5 - 6, 3
	f.eventually(60*time.Second, func() (bool, string) {
		var org rosterv1.Organization
		if err := env.Client.Get(ctx, client.ObjectKey{Name: f.org.Name}, &org); err != nil {
			return false, err.Error()
		}
		st := org.Status
		synced := meta.FindStatusCondition(st.Conditions, rosterv1.ConditionSynced)
		wantMsg := fmt.Sprintf("%d of %d users and %d of %d teams are in the identity store", wantUsers, wantUsers, wantTeams, wantTeams)
		ok := st.Users == wantUsers && st.ActiveUsers == wantActive && st.Teams == wantTeams &&
			synced != nil && synced.Status == metav1.ConditionTrue && synced.Message == wantMsg
		return ok, fmt.Sprintf("status counts %d users (%d active) and %d teams, Synced %+v; want %d (%d) and %d, Synced True %q",
			st.Users, st.ActiveUsers, st.Teams, synced, wantUsers, wantActive, wantTeams, wantMsg)
	})
}

// TestCountMembersDoesNotCopyTheOrg: counting an organization reads the cache in place, in a
// cache of every namespace and in a shard's (several namespaces, one informer each). The bytes
// one count allocates must not grow with the org's users beyond the stores' slice of pointers
// (16 bytes a user); a count through a cached List copies each OrgUser (~700 bytes).
func TestCountMembersDoesNotCopyTheOrg(t *testing.T) {
	for _, sharded := range []bool{false, true} {
		t.Run(fmt.Sprintf("sharded=%t", sharded), func(t *testing.T) {
			ctx := context.Background()
			org := env.NewOrg(t, "nocopy")
			opts := cache.Options{}
			if sharded {
				other := env.NewOrg(t, "nocopyother")
				createUsers(t, other.Namespace, 0, 50)
				opts.DefaultNamespaces = map[string]cache.Config{org.Namespace: {}, other.Namespace: {}}
			}
			c, cached := countCache(t, opts)
			r := &controllers.OrganizationReconciler{Client: cached, Cache: c}

			perCount := map[int]float64{}
			for _, n := range []int{200, 2000} {
				createUsers(t, org.Namespace, len(perCount)*200, n)
				var got rosterv1.Organization
				got.Spec.Namespace = org.Namespace
				eventually(t, 60*time.Second, func() (bool, string) {
					err := r.CountMembers(ctx, &got)
					return err == nil && got.Status.Users == int32(n), fmt.Sprintf("the count says %d users, want %d (%v)", got.Status.Users, n, err)
				})
				if got.Status.ActiveUsers != int32(n) || got.Status.Teams != 0 {
					t.Fatalf("the count says %d active users and %d teams, want %d and 0", got.Status.ActiveUsers, got.Status.Teams, n)
				}
				perCount[n] = bytesPerCall(func() {
					if err := r.CountMembers(ctx, &got); err != nil {
						t.Fatal(err)
					}
				})
			}
			perUser := (perCount[2000] - perCount[200]) / 1800
			t.Logf("bytes per count: %.0f at 200 users, %.0f at 2,000 users (%.1f per added user)", perCount[200], perCount[2000], perUser)
			if perUser > 64 {
				t.Errorf("a count allocates %.0f more bytes per user of the org (%.0f at 200 users, %.0f at 2,000): the users are copied, want at most 64",
					perUser, perCount[200], perCount[2000])
			}
		})
	}
}

// TestCountMembersInAShardsCache: in a shard's cache, restricted to its organizations'
// namespaces, the count stays exact after users and teams are created, deactivated and
// deleted back to back, counts nothing of the shard's other namespace, and refuses a
// namespace the cache does not hold rather than count it empty.
func TestCountMembersInAShardsCache(t *testing.T) {
	ctx := context.Background()
	org, other, elsewhere := env.NewOrg(t, "shardcount"), env.NewOrg(t, "shardother"), env.NewOrg(t, "shardnot")
	c, cached := countCache(t, cache.Options{DefaultNamespaces: map[string]cache.Config{org.Namespace: {}, other.Namespace: {}}})
	r := &controllers.OrganizationReconciler{Client: cached, Cache: c}
	var got rosterv1.Organization
	got.Spec.Namespace = org.Namespace
	// The informers start (and sync) before the writes, so that the count sees them as events.
	if err := r.CountMembers(ctx, &got); err != nil || got.Status.Users != 0 {
		t.Fatalf("the count of an empty org says %d users (%v), want 0", got.Status.Users, err)
	}

	createUsers(t, org.Namespace, 0, 12)
	createUsers(t, other.Namespace, 12, 22)
	var teams []*rosterv1.OrgTeam
	for i := range 3 {
		team := &rosterv1.OrgTeam{Spec: rosterv1.OrgTeamSpec{DisplayName: fmt.Sprintf("Shard %d", i)}}
		team.Name, team.Namespace = naming.NewTeamObjectName(), org.Namespace
		if err := env.Client.Create(ctx, team); err != nil {
			t.Fatal(err)
		}
		teams = append(teams, team)
	}
	for i := range 3 { // deactivate users 0..2
		u := &rosterv1.OrgUser{}
		key := client.ObjectKey{Namespace: org.Namespace, Name: naming.UserObjectName(fmt.Sprintf("count%d@example.com", i))}
		if err := env.Client.Get(ctx, key, u); err != nil {
			t.Fatal(err)
		}
		base := u.DeepCopy()
		u.Spec.Active = new(false)
		if err := env.Client.Patch(ctx, u, client.MergeFrom(base)); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range []int{2, 3, 4} { // delete users 2..4 (2 of them deactivated) and a team
		u := &rosterv1.OrgUser{}
		u.Namespace, u.Name = org.Namespace, naming.UserObjectName(fmt.Sprintf("count%d@example.com", i))
		if err := env.Client.Delete(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.Client.Delete(ctx, teams[1]); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		err := r.CountMembers(ctx, &got)
		st := got.Status
		return err == nil && st.Users == 9 && st.ActiveUsers == 7 && st.Teams == 2,
			fmt.Sprintf("the count says %d users (%d active) and %d teams, want 9 (7) and 2 (%v)", st.Users, st.ActiveUsers, st.Teams, err)
	})

	outside := rosterv1.Organization{Spec: rosterv1.OrganizationSpec{Namespace: elsewhere.Namespace}}
	if err := r.CountMembers(ctx, &outside); err == nil {
		t.Errorf("counting namespace %s, which the shard's cache does not hold, succeeded (%d users): want an error", elsewhere.Namespace, outside.Status.Users)
	}
	// So does reading one user there in place: "not found" would read as "gone" (a binding
	// would drop the user), as the cache's own Get does not say either.
	key := client.ObjectKey{Namespace: elsewhere.Namespace, Name: naming.UserObjectName("user0@example.com")}
	if _, exists, walked, err := cachescan.GetStored(ctx, c, &rosterv1.OrgUser{}, key); err == nil {
		t.Errorf("reading a user of namespace %s, which the shard's cache does not hold, in place: exists %v, walked %v, no error", elsewhere.Namespace, exists, walked)
	}
}

// bytesPerCall is the least number of bytes one call of f allocated over a few runs (the
// least: other goroutines of the process allocate too).
func bytesPerCall(f func()) float64 {
	least := -1.0
	for range 5 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		const calls = 20
		for range calls {
			f()
		}
		runtime.ReadMemStats(&after)
		if b := float64(after.TotalAlloc-before.TotalAlloc) / calls; least < 0 || b < least {
			least = b
		}
	}
	return least
}

// createUsers creates users from..to-1 of namespace, eight at a time.
func createUsers(t testing.TB, namespace string, from, to int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, to-from)
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				u := &rosterv1.OrgUser{Spec: rosterv1.OrgUserSpec{UserName: fmt.Sprintf("count%d@example.com", i)}}
				u.Name, u.Namespace = naming.UserObjectName(u.Spec.UserName), namespace
				if err := env.Client.Create(context.Background(), u); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := from; i < to; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("creating users: %v", err)
	}
}

// BenchmarkOrganizationCount counts an organization of 10,000 users in a real cache of every
// namespace and in a shard's (its namespaces apart, internal/shard): in place (what the
// Organization reconciler does) and, for comparison, through a cached List without deep copies
// (what it did before; in a shard's cache, until cachescan.NewCache).
//
//	go test -run '^$' -bench OrganizationCount -benchmem ./controllers/
func BenchmarkOrganizationCount(b *testing.B) {
	const users = 10000
	ctx := context.Background()
	org, other := env.NewOrg(b, "bench"), env.NewOrg(b, "benchother")
	createUsers(b, org.Namespace, 0, users)
	for _, shape := range []struct {
		name string
		opts cache.Options
	}{
		{"every-namespace", cache.Options{}},
		{"shard", cache.Options{DefaultNamespaces: map[string]cache.Config{org.Namespace: {}, other.Namespace: {}}}},
	} {
		c, cached := countCache(b, shape.opts)
		r := &controllers.OrganizationReconciler{Client: cached, Cache: c}
		var got rosterv1.Organization
		got.Spec.Namespace = org.Namespace
		eventually(b, 120*time.Second, func() (bool, string) {
			err := r.CountMembers(ctx, &got)
			return err == nil && got.Status.Users == users, fmt.Sprintf("the count says %d users, want %d (%v)", got.Status.Users, users, err)
		})
		b.Run(shape.name+"/in-place", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := r.CountMembers(ctx, &got); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(shape.name+"/cached-list", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				// A copying List: the cache holds compact users, which only a copy turns into
				// OrgUsers (client.UnsafeDisableDeepCopy would fail).
				var list rosterv1.OrgUserList
				if err := cached.List(ctx, &list, client.InNamespace(org.Namespace)); err != nil {
					b.Fatal(err)
				}
				active := 0
				for i := range list.Items {
					if list.Items[i].Spec.IsActive() {
						active++
					}
				}
				if len(list.Items) != users || active != users {
					b.Fatalf("listed %d users (%d active), want %d", len(list.Items), active, users)
				}
			}
		})
	}
}

// countCache starts a cache of its own with opts (the scheme and the manager's transforms
// set) until the test ends, built as the manager's is (cachescan.NewCache), and a client that
// reads from it.
func countCache(tb testing.TB, opts cache.Options) (cache.Cache, client.Client) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	opts.Scheme = app.NewScheme()
	slimuser.CacheOptions(&opts) // users in compact form, as the manager's cache holds them
	c, err := cachescan.NewCache(env.Config, opts)
	if err != nil {
		tb.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	cached, err := client.New(env.Config, client.Options{Scheme: app.NewScheme(), Cache: &client.CacheOptions{Reader: c}})
	if err != nil {
		tb.Fatal(err)
	}
	return c, cached
}
