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
	"github.com/rosterhq/roster/internal/naming"
)

// TestOrganizationCountsBackToBack: creates, deactivations and deletes of users and teams sent
// back to back leave the Organization's counts and its Synced condition exact.
func TestOrganizationCountsBackToBack(t *testing.T) {
	f := newFixture(t, sqliteURL(t), nil)
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

// TestCountMembersDoesNotCopyTheOrg: counting an organization reads the cache in place. The
// bytes one count allocates must not grow with the org's users beyond the store's slice of
// pointers (16 bytes a user); a count through a cached List copies each OrgUser (~700 bytes).
func TestCountMembersDoesNotCopyTheOrg(t *testing.T) {
	ctx := context.Background()
	c, cached := countCache(t, cache.Options{})
	org := env.NewOrg(t, "nocopy")
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
}

// TestCountMembersInAShardsCache: a shard's cache, restricted to its organizations'
// namespaces, hides its informers' stores; the count falls back to a List and stays exact,
// and counts nothing of another namespace.
func TestCountMembersInAShardsCache(t *testing.T) {
	ctx := context.Background()
	org, other := env.NewOrg(t, "shardcount"), env.NewOrg(t, "shardother")
	c, cached := countCache(t, cache.Options{DefaultNamespaces: map[string]cache.Config{org.Namespace: {}, other.Namespace: {}}})
	createUsers(t, org.Namespace, 0, 7)
	createUsers(t, other.Namespace, 7, 10)
	team := &rosterv1.OrgTeam{Spec: rosterv1.OrgTeamSpec{DisplayName: "Shard"}}
	team.Name, team.Namespace = naming.NewTeamObjectName(), org.Namespace
	if err := env.Client.Create(ctx, team); err != nil {
		t.Fatal(err)
	}
	r := &controllers.OrganizationReconciler{Client: cached, Cache: c}
	var got rosterv1.Organization
	got.Spec.Namespace = org.Namespace
	eventually(t, 30*time.Second, func() (bool, string) {
		err := r.CountMembers(ctx, &got)
		st := got.Status
		return err == nil && st.Users == 7 && st.ActiveUsers == 7 && st.Teams == 1,
			fmt.Sprintf("the count says %d users (%d active) and %d teams, want 7 (7) and 1 (%v)", st.Users, st.ActiveUsers, st.Teams, err)
	})
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

// BenchmarkOrganizationCount counts an organization of 10,000 users in a real cache: in place
// (what the Organization reconciler does) and, for comparison, through a cached List without
// deep copies (what it did before).
//
//	go test -run '^$' -bench OrganizationCount -benchmem ./controllers/
func BenchmarkOrganizationCount(b *testing.B) {
	const users = 10000
	ctx := context.Background()
	c, cached := countCache(b, cache.Options{})
	org := env.NewOrg(b, "bench")
	createUsers(b, org.Namespace, 0, users)
	r := &controllers.OrganizationReconciler{Client: cached, Cache: c}
	var got rosterv1.Organization
	got.Spec.Namespace = org.Namespace
	eventually(b, 120*time.Second, func() (bool, string) {
		err := r.CountMembers(ctx, &got)
		return err == nil && got.Status.Users == users, fmt.Sprintf("the count says %d users, want %d (%v)", got.Status.Users, users, err)
	})
	b.Run("in-place", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := r.CountMembers(ctx, &got); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached-list", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var list rosterv1.OrgUserList
			if err := cached.List(ctx, &list, client.InNamespace(org.Namespace), client.UnsafeDisableDeepCopy); err != nil {
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

// countCache starts a cache of its own with opts (the scheme set) until the test ends, and a
// client that reads from it, as the manager's does.
func countCache(tb testing.TB, opts cache.Options) (cache.Cache, client.Client) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	opts.Scheme = app.NewScheme()
	c, err := cache.New(env.Config, opts)
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
