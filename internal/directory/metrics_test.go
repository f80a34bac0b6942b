package directory_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/directory"
	"github.com/rosterhq/roster/internal/metrics"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/scim/patch"
	"github.com/rosterhq/roster/internal/testutil/metricstest"
)

// TestMetrics: what the directory's writes and reads do shows in Roster's metrics — slice
// writes by verb, group commits, conflict retries between replicas, the commit queue draining,
// the cache waits of read-your-writes, unresolved members per org, and the leader gauge.
func TestMetrics(t *testing.T) {
	ctx := context.Background()
	a, b, org := replicas(t)
	ns := org.Spec.Namespace
	yes := true

	// The test managers run without leader election: each is its own leader.
	eventually(t, "roster_leader is 1 on a manager that runs the controllers", func() bool {
		return testutil.ToFloat64(metrics.Leader) == 1
	})

	// Read-your-writes waits for this replica's informer to deliver its own write, about a
	// millisecond: a read right after a write nearly always waits.
	waits := metrics.CacheWait.WithLabelValues("OrgUser")
	before := metricstest.Count(t, waits)
	var ids []string
	for i := 0; i < 50 && metricstest.Count(t, waits) == before; i++ {
		u, err := a.CreateUser(ctx, org, v1alpha1.OrgUserSpec{UserName: fmt.Sprintf("user%d@example.com", i), Active: &yes})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.Name)
		if _, err := a.Users(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	if metricstest.Count(t, waits) == before {
		t.Fatal("50 reads right after their replica's own writes, and no cache wait observed for OrgUser")
	}

	creates, updates, collections := testutil.ToFloat64(metrics.SliceCreates), testutil.ToFloat64(metrics.SliceUpdates), testutil.ToFloat64(metrics.SliceDeleteCollections)
	commits := metricstest.Count(t, metrics.MembershipCommitDuration)
	nobody := naming.UserObjectName("nobody@example.com")
	team, err := a.CreateTeam(ctx, org, "Eng", "", []string{ids[0], nobody})
	if err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(metrics.SliceCreates) - creates; got != 1 {
		t.Errorf("a team created with members: %v slice creates counted, want 1", got)
	}
	if metricstest.Count(t, metrics.MembershipCommitDuration) == commits {
		t.Error("no membership commit observed for the team's members")
	}
	eventually(t, "roster_unresolved_members counts the member that is not a user", func() bool {
		return unresolved(t, org.Name) == 1
	})

	// Both replicas change the team's members at once: one's write loses to the other's and
	// is retried. Rounds repeat (bounded) until a retry shows: a race is likely, not certain.
	retries := testutil.ToFloat64(metrics.MembershipConflictRetries)
	round := 0
	for ; round < 50 && testutil.ToFloat64(metrics.MembershipConflictRetries) == retries; round++ {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 16 {
			d := []*directory.Directory{a, b}[i%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				kind := []patch.MemberKind{patch.MemberAdd, patch.MemberRemove}[round%2]
				op := patch.MemberOp{Kind: kind, Values: []string{ids[i%len(ids)]}}
				if _, err := d.UpdateTeam(ctx, ns, team.Name, nil, directory.TeamChange{Members: []patch.MemberOp{op}}); err != nil {
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
	}
	t.Logf("a conflict retry after %d rounds", round)
	if testutil.ToFloat64(metrics.MembershipConflictRetries) == retries {
		t.Error("50 rounds of concurrent changes of one team on two replicas, and no conflict retry counted")
	}
	if testutil.ToFloat64(metrics.SliceUpdates) == updates {
		t.Error("members added to an existing slice, and no slice update counted")
	}
	eventually(t, "the commit queues drain", func() bool { return testutil.ToFloat64(metrics.MembershipQueueDepth) == 0 })

	if err := b.DeleteTeam(ctx, ns, team.Name, nil); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(metrics.SliceDeleteCollections) - collections; got != 1 {
		t.Errorf("a team deleted: %v slice delete-collections counted, want 1", got)
	}
	eventually(t, "roster_unresolved_members drops to 0 with the team", func() bool { return unresolved(t, org.Name) == 0 })
}

// unresolved returns roster_unresolved_members of an org, collected from the apiserver; -1
// when the org has no series.
func unresolved(t *testing.T, org string) float64 { return unresolvedFrom(t, env.Client, org) }

// unresolvedFrom is unresolved, collected through r.
func unresolvedFrom(t *testing.T, r client.Reader, org string) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(&metrics.UnresolvedCollector{Reader: r})
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "org" && l.GetValue() == org {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 20*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil }); err != nil {
		t.Fatalf("never: %s", what)
	}
}

// teamListCounter is a manager's cache that counts the Lists of teams made through it.
type teamListCounter struct {
	cache.Cache
	lists atomic.Int32
}

func (c *teamListCounter) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if _, ok := list.(*v1alpha1.OrgTeamList); ok {
		c.lists.Add(1)
	}
	return c.Cache.List(ctx, list, opts...)
}

// TestUnresolvedScrapeListsNoTeams: a scrape of roster_unresolved_members reads the teams in
// the cache's store, in place. A cached List copies every team of the org into a new list on
// each scrape: garbage that, at rest near a memory limit, kept the collector busy.
func TestUnresolvedScrapeListsNoTeams(t *testing.T) {
	ctx := context.Background()
	o := env.NewOrg(t, "unres")
	org := &v1alpha1.Organization{}
	org.Name, org.Spec.Namespace = o.Name, o.Namespace
	r := env.StartRoster(t, nil)
	yes := true
	u, err := r.Directory.CreateUser(ctx, org, v1alpha1.OrgUserSpec{UserName: "ada@example.com", Active: &yes})
	if err != nil {
		t.Fatal(err)
	}
	nobody := []string{naming.UserObjectName("nobody@example.com"), naming.UserObjectName("noone@example.com")}
	for i, members := range [][]string{{u.Name, nobody[0]}, {nobody[1]}, nil} {
		if _, err := r.Directory.CreateTeam(ctx, org, fmt.Sprintf("team%d", i), "", members); err != nil {
			t.Fatal(err)
		}
	}
	counted := &teamListCounter{Cache: r.Manager.GetCache()}
	eventually(t, "roster_unresolved_members counts the two members that are not users", func() bool {
		return unresolvedFrom(t, counted, org.Name) == 2
	})
	if n := counted.lists.Load(); n != 0 {
		t.Errorf("scrapes listed the org's teams %d times; want them read in the cache's store", n)
	}
}
