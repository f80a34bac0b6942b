package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/naming"
)

// post compares SCIM POST /Users throughput with raw client-go creates of the same objects,
// at the same concurrency, on the same control plane.
func (b *bench) post(ctx context.Context) error {
	rawOrg, err := b.newOrg(ctx, "bench-raw")
	if err != nil {
		return err
	}
	scimOrg, err := b.newOrg(ctx, "bench-scim")
	if err != nil {
		return err
	}
	// Raw and SCIM creates alternate in rounds, so drift of a shared machine hits both alike;
	// the ratio reported is the median of the rounds' paired ratios, which a burst of other
	// load on the machine during one round does not move (the totals are reported too).
	const rounds = 8
	per := b.cfg.n / rounds
	c := b.scimClient(scimOrg)
	var raw, viaSCIM time.Duration
	ratios := make([]float64, 0, rounds)
	for r := range rounds {
		rawRound := time.Duration(0)
		d, err := parallel(per, b.cfg.concurrency, func(i int) error {
			u := &rosterv1.OrgUser{Spec: userSpec(r*per + i)}
			u.Name, u.Namespace = naming.UserObjectName(u.Spec.UserName), rawOrg.name
			u.Labels = map[string]string{rosterv1.OrgLabel: rawOrg.name}
			return b.client.Create(ctx, u)
		})
		if err != nil {
			return err
		}
		raw += d
		rawRound = d
		d, err = parallel(per, b.cfg.concurrency, func(i int) error {
			status, body, err := c.do(ctx, http.MethodPost, "/Users", userBody(r*per+i))
			if err != nil {
				return err
			}
			if status != http.StatusCreated {
				return fmt.Errorf("POST /Users: %d %s", status, body)
			}
			return nil
		})
		if err != nil {
			return err
		}
		viaSCIM += d
		ratios = append(ratios, rawRound.Seconds()/d.Seconds())
	}
	n := per * rounds
	rawRate := float64(n) / raw.Seconds()
	scimRate := float64(n) / viaSCIM.Seconds()
	label := fmt.Sprintf("n=%d c=%d", n, b.cfg.concurrency)
	b.record("post "+label, "raw client-go creates/s", fmt.Sprintf("%.0f", rawRate), "")
	b.record("post "+label, "SCIM POST /Users/s", fmt.Sprintf("%.0f", scimRate), "")
	b.record("post "+label, "SCIM / raw ratio (totals)", fmt.Sprintf("%.2f", scimRate/rawRate), "")
	b.record("post "+label, "SCIM / raw ratio (median of rounds)", fmt.Sprintf("%.2f", median(ratios)), ">= 0.85")
	return nil
}

func userSpec(i int) rosterv1.OrgUserSpec {
	t := true
	return rosterv1.OrgUserSpec{
		UserName:    fmt.Sprintf("user%06d@example.com", i),
		ExternalID:  fmt.Sprintf("00u%06d", i),
		Active:      &t,
		Name:        &rosterv1.Name{GivenName: "Given", FamilyName: fmt.Sprintf("Family%d", i)},
		DisplayName: fmt.Sprintf("User %d", i),
		Emails:      []rosterv1.MultiValued{{Value: fmt.Sprintf("user%06d@example.com", i), Type: "work", Primary: &t}},
	}
}

func userBody(i int) string {
	return fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"user%06d@example.com",`+
		`"externalId":"00u%06d","name":{"givenName":"Given","familyName":"Family%d"},"displayName":"User %d",`+
		`"emails":[{"primary":true,"value":"user%06d@example.com","type":"work"}],"password":"x","active":true}`, i, i, i, i, i)
}

// parallel runs f(0..n-1) on c workers and returns the wall time.
func parallel(n, c int, f func(i int) error) (time.Duration, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), firstErr
}
