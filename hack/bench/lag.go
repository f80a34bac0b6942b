package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"k8s.io/client-go/rest"

	"github.com/rosterhq/roster/internal/app"
)

// lag measures how long a GET on another replica shows older state than a write another
// replica acknowledged: a second manager (its own cache) serves the same org; after each
// PATCH on the first, the second is polled (every 0.5 ms) until it shows the change. On the
// replica that acknowledged the write there is no lag by construction (reads wait for the
// replica's own writes), which the same loop checks.
func (b *bench) lag(ctx context.Context) error {
	second, err := app.New(rest.CopyConfig(b.rest), app.Config{SCIMAddr: "127.0.0.1:0", MetricsAddr: "0", ProbeAddr: "0",
		Webhook: app.WebhookConfig{Disabled: true}})
	if err != nil {
		return err
	}
	go func() { _ = second.Manager.Start(ctx) }()
	<-second.SCIM.Ready()
	o, err := b.newOrg(ctx, "bench-lag")
	if err != nil {
		return err
	}
	a := b.scimClient(o)
	other := &scimClient{base: "http://" + second.SCIM.Addr() + "/scim/v2/" + o.name, token: o.token, http: a.http}
	if err := waitFor(ctx, 30*time.Second, func() bool {
		s, _, err := other.do(ctx, http.MethodGet, "/ServiceProviderConfig", "")
		return err == nil && s == http.StatusOK
	}); err != nil {
		return err
	}
	status, body, err := a.do(ctx, http.MethodPost, "/Users", userBody(0))
	if err != nil {
		return err
	}
	if status != http.StatusCreated {
		return fmt.Errorf("POST /Users: %d %.300s", status, body)
	}
	var created struct{ ID string }
	_ = json.Unmarshal(body, &created)
	const writes = 300
	var lags []time.Duration
	for i := range writes {
		name := fmt.Sprintf("Lag %d", i)
		status, body, err := a.do(ctx, http.MethodPatch, "/Users/"+created.ID,
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"`+name+`"}]}`)
		if err := expectGet(status, body, err); err != nil { // a user PATCH answers 200
			return err
		}
		acked := time.Now()
		if !showsName(ctx, a, created.ID, name) {
			return fmt.Errorf("the replica that acknowledged write %d does not show it", i)
		}
		for !showsName(ctx, other, created.ID, name) {
			if time.Since(acked) > 10*time.Second {
				return fmt.Errorf("write %d not visible on the other replica after 10s", i)
			}
			time.Sleep(500 * time.Microsecond)
		}
		lags = append(lags, time.Since(acked))
	}
	label := fmt.Sprintf("lag writes=%d", writes)
	b.record(label, "GET on another replica stale for, p50", pct(lags, 50), "")
	b.record(label, "GET on another replica stale for, p99", pct(lags, 99), "one watch round trip")
	b.record(label, "GET on another replica stale for, max", pct(lags, 100), "")
	b.record(label, "GET on the writing replica stale for", "0 (checked each write)", "0")
	return nil
}

// showsName reports whether GET /Users/{id} answers the displayName.
func showsName(ctx context.Context, c *scimClient, id, name string) bool {
	status, body, err := c.do(ctx, http.MethodGet, "/Users/"+id+"?attributes=displayName", "")
	if err != nil || status != http.StatusOK {
		return false
	}
	var u struct{ DisplayName string }
	return json.Unmarshal(body, &u) == nil && u.DisplayName == name
}
