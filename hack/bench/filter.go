package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"time"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/slimuser"
)

// filter loads users and measures `filter=userName eq` server-side: the request is served by
// the SCIM handler in-process (no network, no client), so the figure is the server's own time.
func (b *bench) filter(ctx context.Context) error {
	o, err := b.newOrg(ctx, "bench-filter")
	if err != nil {
		return err
	}
	if err := b.loadUsers(ctx, o, b.cfg.users); err != nil {
		return err
	}
	const samples = 2000
	lat := make([]time.Duration, 0, samples)
	h := b.roster.SCIM.Handler()
	for i := range samples {
		f := url.QueryEscape(fmt.Sprintf(`userName eq "USER%06d@example.com"`, (i*7919)%b.cfg.users))
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/scim/v2/"+o.name+"/Users?filter="+f, nil)
		req.Header.Set("Authorization", "Bearer "+o.token)
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		lat = append(lat, time.Since(start))
		if rec.Code != http.StatusOK {
			return fmt.Errorf("filter: %d %s", rec.Code, rec.Body)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	label := fmt.Sprintf("filter userName eq, %d users", b.cfg.users)
	b.record(label, "p50 server-side", lat[len(lat)/2].String(), "")
	b.record(label, "p99 server-side", lat[len(lat)*99/100].String(), "<= 2ms")
	return nil
}

// loadUsers creates n users directly through the apiserver (fast) and waits for the cache.
func (b *bench) loadUsers(ctx context.Context, o org, n int) error {
	start := time.Now()
	_, err := parallel(n, 32, func(i int) error {
		u := &rosterv1.OrgUser{Spec: userSpec(i)}
		u.Name, u.Namespace = naming.UserObjectName(u.Spec.UserName), o.name
		u.Labels = map[string]string{rosterv1.OrgLabel: o.name}
		return b.client.Create(ctx, u)
	})
	if err != nil {
		return err
	}
	for {
		cached := 0
		if err := slimuser.Each(ctx, b.roster.Manager.GetCache(), o.name, func(*slimuser.User) { cached++ }); err != nil {
			return err
		}
		if cached >= n {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.record(fmt.Sprintf("load %d users", n), "raw creates, 32 writers", time.Since(start).Round(time.Millisecond).String(), "")
	return nil
}
