package membership_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/index"
	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/testutil/testenv"
)

// sliceScans is a cache that counts the Lists of member slices it answers without an index
// (no field selector): each walks every slice of the namespace.
type sliceScans struct {
	client.Reader
	scans atomic.Int32
}

func (c *sliceScans) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if _, ok := list.(*rosterv1.OrgTeamMemberSliceList); ok {
		var o client.ListOptions
		o.ApplyOptions(opts)
		if o.FieldSelector == nil {
			c.scans.Add(1)
		}
	}
	return c.Reader.List(ctx, list, opts...)
}

// indexedCache is a started cache with Roster's field indexes, stopped when t ends.
func indexedCache(t *testing.T) cache.Cache {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, err := cache.New(env.Config, cache.Options{Scheme: app.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	if err := index.Register(ctx, c); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
	return c
}

// TestSettledReadsTheTeamIndex: Settled, which the store's periodic resync calls for every
// team, finds a team's slices through the team index, keeping the labelled ones as the List
// by label did. A cached List by label walks every
// slice of the namespace: a resync of an org's teams cost O(teams × slices), the largest part
// of the manager's work at rest (docs/benchmarks.md, "At rest").
func TestSettledReadsTheTeamIndex(t *testing.T) {
	ctx := context.Background()
	c := indexedCache(t)

	org := env.NewOrg(t, "settled")
	var teams []*rosterv1.OrgTeam
	for i := range 20 {
		team := &rosterv1.OrgTeam{Spec: rosterv1.OrgTeamSpec{DisplayName: fmt.Sprintf("team %d", i), ManagedBy: rosterv1.ManagedByManual}}
		team.Name, team.Namespace = fmt.Sprintf("g-%d", i), org.Namespace
		team.Labels = map[string]string{rosterv1.OrgLabel: org.Namespace}
		if err := env.Client.Create(ctx, team); err != nil {
			t.Fatal(err)
		}
		if i == 7 {
			// A slice naming the team in spec.team without its TeamLabel (made by hand): the
			// label's List, which Settled stood for, leaves it out, and so must the index
			// lookup. Created first: once the cache shows the labelled ones, it shows this.
			unlabelled := membership.NewSlice(team, []string{"hand-1"})
			delete(unlabelled.Labels, rosterv1.TeamLabel)
			if err := env.Client.Create(ctx, unlabelled); err != nil {
				t.Fatal(err)
			}
		}
		for j := range 3 {
			if err := env.Client.Create(ctx, membership.NewSlice(team, []string{fmt.Sprintf("u-%d-%d", i, j)})); err != nil {
				t.Fatal(err)
			}
		}
		teams = append(teams, team)
	}

	scans := &sliceScans{Reader: c}
	s := &membership.Store{Cache: scans, API: env.Client, Writer: env.Client}
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		held, retry, err := s.Settled(ctx, teams[7])
		if err != nil || retry > 0 {
			return false, fmt.Sprintf("Settled: retry %s, %v", retry, err)
		}
		got := slices.Sorted(maps.Keys(membership.Members(held)))
		if want := []string{"u-7-0", "u-7-1", "u-7-2"}; !slices.Equal(got, want) {
			return false, fmt.Sprintf("Settled gave the members %v, want %v", got, want)
		}
		return true, ""
	})
	if n := scans.scans.Load(); n != 0 {
		t.Errorf("Settled listed the namespace's slices %d times without the team index", n)
	}
}

// TestSettledTakesAnOddlyLabelledSlice: a slice labelled for a team whose spec.team names
// another (written past the webhook, which refuses it) is what a List by label selects and
// the team index does not. For a team with a watermark the cache has not been seen to reach,
// Settled compares the cache with a live List by label: it must compare the label's own
// cached List too, or it would ask to wait for ever. No waiting between the steps: the final
// assertion waits for the cache.
func TestSettledTakesAnOddlyLabelledSlice(t *testing.T) {
	ctx := context.Background()
	org := env.NewOrg(t, "oddlabel")
	var teams [2]*rosterv1.OrgTeam
	for i := range teams {
		team := &rosterv1.OrgTeam{Spec: rosterv1.OrgTeamSpec{DisplayName: fmt.Sprintf("odd %d", i), ManagedBy: rosterv1.ManagedByManual}}
		team.Name, team.Namespace = fmt.Sprintf("g-odd-%d", i), org.Namespace
		team.Labels = map[string]string{rosterv1.OrgLabel: org.Namespace}
		team.Annotations = map[string]string{membership.WatermarkAnnotation: "1"}
		if err := env.Client.Create(ctx, team); err != nil {
			t.Fatal(err)
		}
		teams[i] = team
	}
	if err := env.Client.Create(ctx, membership.NewSlice(teams[0], []string{"u-own"})); err != nil {
		t.Fatal(err)
	}
	odd := membership.NewSlice(teams[1], []string{"u-odd"}) // spec.team: the second team
	odd.Labels[rosterv1.TeamLabel] = teams[0].Name          // labelled for the first
	if err := env.Client.Create(ctx, odd); err != nil {
		t.Fatal(err)
	}

	s := &membership.Store{Cache: indexedCache(t), API: env.Client, Writer: env.Client}
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		held, retry, err := s.Settled(ctx, teams[0])
		if err != nil || retry > 0 {
			return false, fmt.Sprintf("Settled: retry %s, %v", retry, err)
		}
		got := slices.Sorted(maps.Keys(membership.Members(held)))
		if want := []string{"u-odd", "u-own"}; !slices.Equal(got, want) {
			return false, fmt.Sprintf("Settled gave the members %v, want %v (what the label selects)", got, want)
		}
		return true, ""
	})
}
