package directory_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/directory"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/scim/patch"
)

// BenchmarkReplaceAllMembers times what a PUT of a whole group's members costs the
// directory on the real apiserver: a replace of every member of a 10,000-member team (ten
// slices of 1,000), alternately filling and emptying it, with the slices written one after
// the other (serial) and with the default parallel writes (parallel). Run it as
//
//	go test -run '^$' -bench ReplaceAllMembers -benchtime 10x ./internal/directory
func BenchmarkReplaceAllMembers(b *testing.B) {
	const users, capacity = 10000, 1000
	ctx := context.Background()
	o := env.NewOrg(b, "bench")
	org := &v1alpha1.Organization{}
	org.Name, org.Spec.Namespace = o.Name, o.Namespace
	ids := make([]string, users)
	var wg sync.WaitGroup
	errs := make(chan error, users)
	sem := make(chan struct{}, 32)
	for i := range ids {
		u := &v1alpha1.OrgUser{Spec: v1alpha1.OrgUserSpec{UserName: fmt.Sprintf("u%05d@example.com", i)}}
		u.Name, u.Namespace = naming.UserObjectName(u.Spec.UserName), o.Namespace
		u.Labels = map[string]string{v1alpha1.OrgLabel: o.Name}
		ids[i] = u.Name
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := env.Client.Create(ctx, u); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	// Two managers, one writing slices one after the other and one in parallel (the default),
	// take turns on their own teams, so that load on the machine hits both alike; each
	// reports its mean time per replace.
	type side struct {
		name  string
		dir   *directory.Directory
		team  *v1alpha1.OrgTeam
		spent time.Duration
	}
	var sides []*side
	for _, writers := range []int{1, 0} {
		d := env.StartRoster(b, func(c *app.Config) {
			c.MemberSliceCapacity, c.MemberSliceWriters = capacity, writers
		}).Directory
		team, err := d.CreateTeam(ctx, org, fmt.Sprintf("bench %d", writers), "", nil)
		if err != nil {
			b.Fatal(err)
		}
		sides = append(sides, &side{name: map[int]string{1: "serial", 0: "parallel"}[writers], dir: d, team: team})
	}
	full, n := true, 0
	for b.Loop() {
		values := ids
		if !full {
			values = nil
		}
		full, n = !full, n+1
		for _, s := range sides {
			start := time.Now()
			change := directory.TeamChange{Members: []patch.MemberOp{{Kind: patch.MemberReplace, Values: values}}}
			if _, err := s.dir.UpdateTeam(ctx, o.Namespace, s.team.Name, nil, change); err != nil {
				b.Fatal(err)
			}
			s.spent += time.Since(start)
		}
	}
	for _, s := range sides {
		got, err := s.dir.Members(ctx, s.team)
		if err != nil {
			b.Fatal(err)
		}
		if want := map[bool]int{true: 0, false: users}[full]; len(got) != want {
			b.Fatalf("%s: %d members after the last replace, want %d", s.name, len(got), want)
		}
		b.ReportMetric(float64(s.spent.Milliseconds())/float64(n), s.name+"-ms/replace")
	}
	b.ReportMetric(sides[0].spent.Seconds()/sides[1].spent.Seconds(), "serial/parallel")
}
