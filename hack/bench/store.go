package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"k8s.io/client-go/rest"

	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/identitystore/open"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/testutil/pgtest"
)

// store measures how long a SCIM write takes to show in the identity store: from sending the
// request until a reader of the PostgreSQL database sees the row, at a steady rate of writes
// (open loop: a slow write does not delay the next). The writes cycle through creating a
// user, changing a user's displayName and adding a member to one of ten teams (one team
// taking a third of all writes would measure conflicts between concurrent PATCHes of one
// group, not the store). It runs a second Roster,
// with the identity store, next to the bench's own; run the scenario alone, or that Roster
// also writes the other scenarios' users to the store.
func (b *bench) store(ctx context.Context) error {
	srv, err := pgtest.New()
	if err != nil {
		return err
	}
	defer srv.Close() //nolint:errcheck
	url := srv.URL()
	r, err := app.New(rest.CopyConfig(b.rest), app.Config{SCIMAddr: "127.0.0.1:0", MetricsAddr: "0", ProbeAddr: "0",
		Webhook: app.WebhookConfig{Disabled: true}, IdentityStore: url})
	if err != nil {
		return err
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Manager.Start(rctx) }()
	defer func() { stop(); <-done }()
	<-r.SCIM.Ready()

	reader, err := open.Open(ctx, url)
	if err != nil {
		return err
	}
	defer reader.Close()
	o, err := b.newOrg(ctx, "bench-store")
	if err != nil {
		return err
	}
	c := b.scimClient(o)
	c.base = "http://" + r.SCIM.Addr() + "/scim/v2/" + o.name
	if err := waitFor(ctx, 30*time.Second, func() bool {
		status, _, err := c.do(ctx, http.MethodGet, "/ServiceProviderConfig", "")
		return err == nil && status == http.StatusOK
	}); err != nil {
		return fmt.Errorf("the store Roster does not accept the token: %w", err)
	}

	// Users that later writes change and add to the team, and the team.
	n := b.cfg.storeWrites
	warm := n/3 + 1
	if err := c.createUsers(ctx, warm); err != nil {
		return err
	}
	teams := max(b.cfg.storeTeams, 1)
	teamIDs := make([]string, teams)
	for i := range teamIDs {
		status, body, err := c.do(ctx, http.MethodPost, "/Groups", fmt.Sprintf(`{"displayName":"Store bench %d"}`, i))
		if err != nil || status != http.StatusCreated {
			return fmt.Errorf("create group: %d %s %v", status, body, err)
		}
		var team struct{ ID string }
		if err := json.Unmarshal(body, &team); err != nil {
			return err
		}
		teamIDs[i] = team.ID
	}
	if err := waitFor(ctx, 2*time.Minute, func() bool {
		_, err := reader.ObserveUser(ctx, o.name, naming.UserObjectName(userSpec(warm-1).UserName))
		_, terr := reader.ObserveTeam(ctx, o.name, teamIDs[teams-1])
		return err == nil && terr == nil
	}); err != nil {
		return fmt.Errorf("warm-up rows: %w", err)
	}

	// The measured writes.
	type sample struct {
		kind      string
		scim, row time.Duration
		err       error
	}
	results := make([]sample, n)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(b.cfg.storeRate))
	defer tick.Stop()
	var first, last time.Time
	for i := range n {
		<-tick.C
		if i == 0 {
			first = time.Now()
		}
		last = time.Now()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &results[i]
			j := warm + i // a user no earlier write created
			w := i / 3 % warm
			var method, path, body string
			var visible func() bool
			switch i % 3 {
			case 0:
				s.kind = "create user"
				id := naming.UserObjectName(userSpec(j).UserName)
				method, path, body = http.MethodPost, "/Users", userBody(j)
				visible = func() bool { _, err := reader.ObserveUser(ctx, o.name, id); return err == nil }
			case 1:
				s.kind = "update user"
				id := naming.UserObjectName(userSpec(w).UserName)
				name := fmt.Sprintf("Renamed %d", i)
				method, path = http.MethodPatch, "/Users/"+id
				body = fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":%q}]}`, name)
				visible = func() bool { u, err := reader.ObserveUser(ctx, o.name, id); return err == nil && u.DisplayName == name }
			default:
				s.kind = "add member"
				id := naming.UserObjectName(userSpec(w).UserName)
				team := teamIDs[i/3%teams]
				method, path = http.MethodPatch, "/Groups/"+team
				body = fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":%q}]}]}`, id)
				visible = func() bool {
					ids, err := reader.ObserveMembers(ctx, o.name, team)
					_, found := slices.BinarySearch(ids, id)
					return err == nil && found
				}
			}
			sent := time.Now()
			status, resp, err := c.do(ctx, method, path, body)
			s.scim = time.Since(sent)
			if err == nil && status >= 300 {
				err = fmt.Errorf("%s %s: %d %s", method, path, status, resp)
			}
			if err == nil {
				err = waitFor(ctx, time.Minute, visible)
			}
			s.row, s.err = time.Since(sent), err
		}()
	}
	wg.Wait()
	byKind := map[string][]time.Duration{}
	var all, scim []time.Duration
	for _, s := range results {
		if s.err != nil {
			return s.err
		}
		byKind[s.kind] = append(byKind[s.kind], s.row)
		all = append(all, s.row)
		scim = append(scim, s.scim)
	}
	label := fmt.Sprintf("store: SCIM write -> PostgreSQL row, %d writes at %d/s", n, b.cfg.storeRate)
	b.record(label, "achieved rate", fmt.Sprintf("%.1f/s", float64(n-1)/last.Sub(first).Seconds()), fmt.Sprintf("%d/s", b.cfg.storeRate))
	b.record(label, "SCIM response p50 / p99", pct(scim, 50)+" / "+pct(scim, 99), "")
	b.record(label, "row visible p50", pct(all, 50), "")
	b.record(label, "row visible p99", pct(all, 99), "<= 1s")
	b.record(label, "row visible max", pct(all, 100), "")
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		b.record(label, k+" p50 / p99", pct(byKind[k], 50)+" / "+pct(byKind[k], 99), "")
	}
	return nil
}

// pct returns the p-th percentile (p=100: the maximum), rounded to 0.1ms.
func pct(d []time.Duration, p int) string {
	s := slices.Clone(d)
	slices.Sort(s)
	i := len(s) * p / 100
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i].Round(100 * time.Microsecond).String()
}

// waitFor polls cond every 2ms until it holds.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}
