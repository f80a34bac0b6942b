package cachewatch

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rosterhq/roster/internal/metrics"
	"github.com/rosterhq/roster/internal/testutil/metricstest"
)

func TestAwait(t *testing.T) {
	var untracked *Progress
	if untracked.Await(context.Background(), 1, time.Second) {
		t.Fatal("a nil Progress must not claim to have reached anything")
	}
	if _, ok := untracked.Seen(); ok {
		t.Fatal("a nil Progress is not tracked")
	}

	p := &Progress{changed: make(chan struct{}), tracked: true}
	p.observe("10")
	p.observe("7") // resync events carry old versions: never a step back
	p.observe("not-a-number")
	if seen, ok := p.Seen(); !ok || seen != 10 {
		t.Fatalf("Seen = %d, %t; want 10, true", seen, ok)
	}
	if !p.Await(context.Background(), 10, time.Millisecond) {
		t.Fatal("revision 10 was delivered")
	}
	start := time.Now()
	if p.Await(context.Background(), 11, 20*time.Millisecond) || time.Since(start) < 20*time.Millisecond {
		t.Fatal("Await must wait out its timeout for a revision not delivered")
	}
	go func() {
		time.Sleep(5 * time.Millisecond)
		p.observe("12")
	}()
	if !p.Await(context.Background(), 11, 5*time.Second) {
		t.Fatal("Await must return once a later revision arrives")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if p.Await(ctx, 99, time.Hour) {
		t.Fatal("a cancelled context ends the wait")
	}
}

// TestAwaitRecordsWaits: a wait that gave up is observed as the kind's cache lag and counts
// as a timeout, and a revision already delivered records nothing. (A wait that ends well is
// observed in internal/directory's TestMetrics, against a real informer.)
func TestAwaitRecordsWaits(t *testing.T) {
	waited, timeouts := metrics.CacheWaitFor("CachewatchTest")
	p := &Progress{changed: make(chan struct{}), tracked: true, waited: waited, timeouts: timeouts}
	p.observe("10")
	count := func() (uint64, float64) { return metricstest.Count(t, waited), testutil.ToFloat64(timeouts) }

	p.Await(context.Background(), 10, time.Second)
	if n, to := count(); n != 0 || to != 0 {
		t.Fatalf("no wait was needed, yet %d waits and %v timeouts were recorded", n, to)
	}
	if p.Await(context.Background(), 11, 10*time.Millisecond) {
		t.Fatal("revision 11 was never delivered")
	}
	if n, to := count(); n != 1 || to != 1 {
		t.Fatalf("after a wait that timed out: %d waits, %v timeouts; want 1, 1", n, to)
	}
}
