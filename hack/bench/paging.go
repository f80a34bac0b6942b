package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// paging times list requests on the loaded org over HTTP (client to the manager process):
// first and deep pages by startIndex, with and without sortBy, cursor pages when the server
// advertises them, a prefix filter and full-scan filters. Each measure takes up to
// -paging-samples requests or -paging-time, whichever comes first.
func (b *bench) paging(ctx context.Context) error {
	lo, err := b.loadOrg(ctx)
	if err != nil {
		return err
	}
	c := b.scimClient(lo.org)
	label := fmt.Sprintf("paging %d users", lo.users)
	deep := max(1, lo.users-99)
	get := func(path string) func() error {
		return func() error { return expectGet(c.do(ctx, http.MethodGet, path, "")) }
	}
	for _, m := range []struct{ name, path, goal string }{
		{"first page (startIndex=1, count=100)", "/Users?startIndex=1&count=100", "p99 <= 50ms"},
		{"Okta's first request (count=1)", "/Users?startIndex=1&count=1", "p99 <= 50ms"},
		{fmt.Sprintf("deep page (startIndex=%d, count=100)", deep), fmt.Sprintf("/Users?startIndex=%d&count=100", deep), "p99 <= 50ms"},
		{"first page sortBy=userName", "/Users?startIndex=1&count=100&sortBy=userName", "p99 <= 50ms"},
		{"deep page sortBy=userName", fmt.Sprintf("/Users?startIndex=%d&count=100&sortBy=userName", deep), "p99 <= 50ms"},
		{`prefix filter userName sw "user0999"`, "/Users?count=100&filter=" + url.QueryEscape(`userName sw "user0999"`), "p99 <= 50ms"},
		{`full scan userName co "9999@"`, "/Users?count=100&filter=" + url.QueryEscape(`userName co "9999@"`), "p99 <= 500ms"},
		{`full scan title sw "Eng"`, "/Users?count=100&filter=" + url.QueryEscape(`title sw "Eng"`), "p99 <= 500ms"},
		{"first /Groups page with members (count=100)", "/Groups?startIndex=1&count=100", ""},
	} {
		if err := b.sampleLatency(label, m.name, m.goal, get(m.path)); err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
	}
	return b.cursorPaging(ctx, c, label, deep)
}

// cursorPaging times cursor pages (RFC 9865) if /ServiceProviderConfig advertises them: the
// first page, and a page about as deep as startIndex deep, reached by following nextCursor.
func (b *bench) cursorPaging(ctx context.Context, c *scimClient, label string, deep int) error {
	status, body, err := c.do(ctx, http.MethodGet, "/ServiceProviderConfig", "")
	if err := expectGet(status, body, err); err != nil {
		return err
	}
	var spc struct {
		Pagination struct{ Cursor bool } `json:"pagination"`
	}
	if err := json.Unmarshal(body, &spc); err != nil {
		return err
	}
	if !spc.Pagination.Cursor {
		b.record(label, "cursor pages", "skipped: /ServiceProviderConfig has no pagination.cursor", "p99 <= 50ms")
		return nil
	}
	next := func(path string) (string, error) {
		status, body, err := c.do(ctx, http.MethodGet, path, "")
		if err := expectGet(status, body, err); err != nil {
			return "", err
		}
		var page struct{ NextCursor string }
		// Decoded first: Go leaves the order of page.NextCursor and the call in one return unspecified.
		err = json.Unmarshal(body, &page)
		return page.NextCursor, err
	}
	for _, sort := range []string{"", "&sortBy=userName"} {
		first := "/Users?count=100&cursor=" + sort
		if err := b.sampleLatency(label, "cursor first page"+sort, "p99 <= 50ms", func() error { _, err := next(first); return err }); err != nil {
			return err
		}
		// Follow nextCursor to the page holding user deep, then time that page.
		cursor, path := "", first
		for range deep / 100 {
			if cursor, err = next(path); err != nil || cursor == "" {
				return fmt.Errorf("following nextCursor: %q %v", cursor, err)
			}
			path = "/Users?count=100&cursor=" + url.QueryEscape(cursor) + sort
		}
		if err := b.sampleLatency(label, fmt.Sprintf("cursor page %d%s", deep/100+1, sort), "p99 <= 50ms", func() error { _, err := next(path); return err }); err != nil {
			return err
		}
	}
	return nil
}

// sampleLatency runs f -paging-samples times or for -paging-time, whichever ends first, and
// records p50 and p99.
func (b *bench) sampleLatency(label, name, goal string, f func() error) error {
	var lat []time.Duration
	deadline := time.Now().Add(b.cfg.pagingTime)
	for len(lat) < b.cfg.pagingSamples && (len(lat) < 2 || time.Now().Before(deadline)) {
		d, err := timed(f)
		if err != nil {
			return err
		}
		lat = append(lat, d)
	}
	b.record(label, fmt.Sprintf("%s p50 / p99 (n=%d)", name, len(lat)), pct(lat, 50)+" / "+pct(lat, 99), goal)
	return nil
}
