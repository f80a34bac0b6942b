package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/naming"
)

// loadedOrg is the org the memory and paging scenarios share: users 0..users-1 and teams,
// all loaded through SCIM.
type loadedOrg struct {
	org
	users int
	// teams are the SCIM ids of the teams; small are those of the small ones.
	teams, small []string
	memberships  int
}

// Team shape of the memory scenario (issue 11): 1,000 teams, ten of them with half the users
// each (50,000 of 100,000), the others with smallTeamSize members.
const (
	memoryTeams   = 1000
	bigTeams      = 10
	smallTeamSize = 20
)

// loadOrg loads the shared org once: users by POST /Users, small teams by POST /Groups with
// their members, big teams by POST then PUT with every member, all at -load-concurrency.
func (b *bench) loadOrg(ctx context.Context) (*loadedOrg, error) {
	if b.loaded != nil {
		return b.loaded, nil
	}
	o, err := b.newOrg(ctx, "bench-memory")
	if err != nil {
		return nil, err
	}
	lo := &loadedOrg{org: o, users: b.cfg.users}
	c := b.scimClient(o)
	n := b.cfg.users
	d, err := parallel(n, b.cfg.loadConcurrency, func(i int) error {
		status, body, err := c.do(ctx, http.MethodPost, "/Users", userBody(i))
		if err == nil && status != http.StatusCreated {
			err = fmt.Errorf("POST /Users: %d %.300s", status, body)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	label := fmt.Sprintf("load %d users, %d teams", n, memoryTeams)
	b.record(label, fmt.Sprintf("SCIM POST /Users, %d clients", b.cfg.loadConcurrency),
		fmt.Sprintf("%s (%.0f/s)", d.Round(time.Second), float64(n)/d.Seconds()), "")

	ids := make([]string, n)
	for i := range ids {
		ids[i] = naming.UserObjectName(userSpec(i).UserName)
	}
	bigSize := n / 2
	small := min(smallTeamSize, n)
	lo.teams = make([]string, memoryTeams)
	start := time.Now()
	_, err = parallel(memoryTeams, b.cfg.loadConcurrency, func(i int) error {
		var mem []string
		if i >= bigTeams {
			first := (i * 7919) % (n - small + 1)
			mem = ids[first : first+small]
		}
		status, body, err := c.do(ctx, http.MethodPost, "/Groups", fmt.Sprintf(`{"displayName":"team-%04d","members":%s}`, i, members(mem)))
		if err == nil && status != http.StatusCreated {
			err = fmt.Errorf("POST /Groups: %d %.300s", status, body)
		}
		if err != nil {
			return err
		}
		var created struct{ ID string }
		if err := json.Unmarshal(body, &created); err != nil {
			return err
		}
		lo.teams[i] = created.ID
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The big teams one at a time: each PUT already fans out over its slices.
	for i := range bigTeams {
		first := (i * n / bigTeams / 2) % (n - bigSize + 1)
		status, body, err := c.do(ctx, http.MethodPut, "/Groups/"+lo.teams[i]+"?excludedAttributes=members",
			fmt.Sprintf(`{"displayName":"team-%04d","members":%s}`, i, members(ids[first:first+bigSize])))
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("PUT /Groups: %d %.300s", status, body)
		}
		if err != nil {
			return nil, err
		}
	}
	lo.small = lo.teams[bigTeams:]
	lo.memberships = bigTeams*bigSize + (memoryTeams-bigTeams)*small
	b.record(label, fmt.Sprintf("SCIM teams (%d of %d members, %d of %d)", bigTeams, bigSize, memoryTeams-bigTeams, small),
		time.Since(start).Round(time.Second).String(), "")

	start = time.Now()
	if err := b.settle(ctx, o.name, n, memoryTeams); err != nil {
		return nil, err
	}
	b.record(label, "controllers settled (Organization Synced) after", time.Since(start).Round(time.Second).String(), "")
	b.loaded = lo
	return lo, nil
}

// settle waits until the Organization counts users and teams and says every one of them is in
// the identity store: the controllers have nothing left to do.
func (b *bench) settle(ctx context.Context, name string, users, teams int) error {
	return waitFor(ctx, 2*time.Hour, func() bool {
		time.Sleep(2 * time.Second)
		var o rosterv1.Organization
		if err := b.client.Get(ctx, client.ObjectKey{Name: name}, &o); err != nil {
			return false
		}
		return int(o.Status.Users) == users && int(o.Status.Teams) == teams &&
			meta.IsStatusConditionTrue(o.Status.Conditions, rosterv1.ConditionSynced)
	})
}

// memory measures the manager process: at rest after the load, during an Okta-style import
// and during a mixed write load, and after each.
func (b *bench) memory(ctx context.Context) error {
	lo, err := b.loadOrg(ctx)
	if err != nil {
		return err
	}
	m := b.manager
	label := fmt.Sprintf("memory %d users, %d memberships", lo.users, lo.memberships)
	rest, err := m.quiet(func() error { return sleep(ctx, b.cfg.settle) })
	if err != nil {
		return err
	}
	if b.cfg.memoryLimit > 0 {
		b.record(label, "container memory limit told to the manager (soft limit 90 %)", mib(float64(b.cfg.memoryLimit)), "")
	}
	b.record(label, "RSS at rest", mib(rest.end.rss), "<= 450 MiB")
	b.record(label, "RSS at rest: file-backed (the binary's pages)", mib(rest.end.rssFile), "")
	b.record(label, "heap in use at rest", mib(rest.end.heapInuse), "")
	b.record(label, "manager at rest (no requests; the bench reads /proc only)", rest.restFigures(), "")
	b.record(label, "RSS peak so far (VmHWM, load included)", mib(rest.end.hwm), "")
	if cpu, alloc, err := m.scrapeCost(20); err == nil {
		b.record(label, "one /metrics scrape (gzip, as Prometheus asks), mean of 20", fmt.Sprintf("CPU %.1f ms, %.0f KB allocated", cpu*1000, alloc/1e3), "")
	}
	if b.cfg.heapProfile != "" {
		// The profile is taken after a forced GC: the heap then holds only live objects.
		if err := m.saveHeapProfile(b.cfg.heapProfile); err != nil {
			return err
		}
		if live, err := m.read(); err == nil {
			b.record(label, "live heap (right after a forced GC)", mib(live.heapAlloc), "")
		}
	}

	var pages, groupPages int
	var importTime time.Duration
	imp, err := m.during(func() error {
		start := time.Now()
		var err error
		pages, groupPages, err = b.oktaImport(ctx, lo)
		importTime = time.Since(start)
		return err
	})
	if err != nil && ctx.Err() != nil {
		return err
	}
	if err != nil {
		b.record(label, "Okta import (every /Users page, then every /Groups page with members)",
			fmt.Sprintf("stopped after %s: %d user pages, %d group pages (%v)", importTime.Round(time.Second), pages, groupPages, err), "<= 60s")
	} else {
		b.record(label, "Okta import (every /Users page, then every /Groups page with members)",
			fmt.Sprintf("%s (%d + %d pages)", importTime.Round(100*time.Millisecond), pages, groupPages), "<= 60s")
	}
	b.record(label, "import: RSS peak above rest", mib(imp.peak.rss-rest.end.rss), "<= 100 MiB")
	b.record(label, "import: heap in use, peak", mib(imp.peak.heapInuse), "")
	after, err := m.quiet(func() error { return sleep(ctx, b.cfg.settle) })
	if err != nil {
		return err
	}
	b.record(label, fmt.Sprintf("RSS %s after the import", b.cfg.settle), mib(after.end.rss), "back to rest")
	b.record(label, "after the import, at rest", after.restFigures(), "")

	var stats writeStats
	wl, err := m.during(func() error { return b.writeLoad(ctx, lo, &stats) })
	if err != nil {
		return err
	}
	b.record(label, fmt.Sprintf("write load %d req/s for %s", b.cfg.writeRate, b.cfg.writeFor),
		fmt.Sprintf("%d requests, %d failed, p99 %s", stats.done.Load(), stats.failed.Load(), pct(stats.latencies(), 99)), "")
	if stats.firstErr != nil {
		b.record(label, "write load: first failure", fmt.Sprintf("%.200s", stats.firstErr), "")
	}
	b.record(label, "write load: RSS peak above rest", mib(wl.peak.rss-rest.end.rss), "")
	b.record(label, "write load: heap in use, peak", mib(wl.peak.heapInuse), "")
	after, err = m.quiet(func() error { return sleep(ctx, b.cfg.settle) })
	if err != nil {
		return err
	}
	b.record(label, fmt.Sprintf("RSS %s after the write load", b.cfg.settle), mib(after.end.rss), "back to rest")
	b.record(label, "after the write load, at rest", after.restFigures(), "")
	b.record(label, "RSS peak of the run (VmHWM)", mib(after.end.hwm), "")
	return nil
}

// oktaImport pages through /Users and then /Groups (members included) by startIndex with
// count=100, as Okta's import does, until a page comes back short or -import-timeout passes.
func (b *bench) oktaImport(ctx context.Context, lo *loadedOrg) (userPages, groupPages int, err error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.importTimeout)
	defer cancel()
	c := b.scimClient(lo.org)
	for _, res := range []struct {
		path  string
		pages *int
	}{{"/Users", &userPages}, {"/Groups", &groupPages}} {
		for start := 1; ; start += 100 {
			status, body, err := c.do(ctx, http.MethodGet, fmt.Sprintf("%s?startIndex=%d&count=100", res.path, start), "")
			if err != nil {
				return userPages, groupPages, err
			}
			if status != http.StatusOK {
				return userPages, groupPages, fmt.Errorf("GET %s: %d %.300s", res.path, status, body)
			}
			var page struct {
				TotalResults, ItemsPerPage int
			}
			if err := json.Unmarshal(body, &page); err != nil {
				return userPages, groupPages, err
			}
			*res.pages++
			// A page may hold fewer than count (a member budget): go on from what it held.
			if page.ItemsPerPage == 0 || start+page.ItemsPerPage > page.TotalResults {
				break
			}
			start += page.ItemsPerPage - 100
		}
	}
	return userPages, groupPages, nil
}

type writeStats struct {
	done, failed atomic.Int64
	mu           sync.Mutex
	lat          []time.Duration
	firstErr     error
}

func (s *writeStats) add(d time.Duration, err error) {
	s.done.Add(1)
	s.mu.Lock()
	if err != nil {
		s.failed.Add(1)
		if s.firstErr == nil {
			s.firstErr = err
		}
	}
	s.lat = append(s.lat, d)
	s.mu.Unlock()
}

func (s *writeStats) latencies() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.lat) == 0 {
		return []time.Duration{0}
	}
	return s.lat
}

// writeLoad sends -write-rate requests per second for -write-for, open loop: 60% PATCH of a
// user's displayName, 20% member adds and 15% member removes on small teams, 5% new users.
func (b *bench) writeLoad(ctx context.Context, lo *loadedOrg, stats *writeStats) error {
	c := b.scimClient(lo.org)
	rng := rand.New(rand.NewPCG(1, 2))
	tick := time.NewTicker(time.Second / time.Duration(b.cfg.writeRate))
	defer tick.Stop()
	end := time.After(b.cfg.writeFor)
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	created := 0
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-end:
			wg.Wait()
			return nil
		case <-tick.C:
		}
		var method, path, body string
		var want int
		user := rng.IntN(lo.users)
		uid := naming.UserObjectName(userSpec(user).UserName)
		team := lo.small[rng.IntN(len(lo.small))]
		switch r := i % 20; {
		case r < 12:
			method, path, want = http.MethodPatch, "/Users/"+uid, http.StatusOK
			body = fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"User %d v%d"}]}`, user, i)
		case r < 16:
			method, path, want, body = http.MethodPatch, "/Groups/"+team, http.StatusNoContent, addOps([]string{uid})
		case r < 19:
			method, path, want, body = http.MethodPatch, "/Groups/"+team, http.StatusNoContent, removeOps([]string{uid})
		default:
			method, path, want, body = http.MethodPost, "/Users", http.StatusCreated, userBody(lo.users+1000000+created)
			created++
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			start := time.Now()
			status, resp, err := c.do(ctx, method, path, body)
			if err == nil && status != want && !(method == http.MethodPatch && status == http.StatusOK) {
				err = fmt.Errorf("%s %s: %d %.200s", method, path, status, resp)
			}
			stats.add(time.Since(start), err)
		}()
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
