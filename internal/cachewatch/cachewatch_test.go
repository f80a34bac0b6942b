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
	p.observe("ns", "10")
	p.observe("ns", "7") // resync events carry old versions: never a step back
	p.observe("ns", "not-a-number")
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
		p.observe("ns", "12")
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
	p.observe("ns", "10")
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

// TestPerNamespace: in a cache that watches each namespace apart, a revision delivered in one
// namespace does not count for another (its watch may be behind), and a question that names
// no namespace cannot be answered.
func TestPerNamespace(t *testing.T) {
	ctx := context.Background()
	p := &Progress{changed: make(chan struct{}), tracked: true, perNamespace: true, inNamespace: map[string]uint64{}}
	p.observe("a", "20")
	p.observe("b", "5")
	if seen, ok := p.SeenIn("a"); !ok || seen != 20 {
		t.Fatalf("SeenIn(a) = %d, %t; want 20, true", seen, ok)
	}
	if seen, ok := p.SeenIn("b"); !ok || seen != 5 {
		t.Fatalf("SeenIn(b) = %d, %t; want 5, true", seen, ok)
	}
	if p.AwaitIn(ctx, "b", 10, 10*time.Millisecond) {
		t.Fatal("namespace b's watch has not delivered revision 10, though a's has")
	}
	if !p.AwaitIn(ctx, "a", 10, time.Millisecond) {
		t.Fatal("namespace a's watch delivered revision 20")
	}
	if _, ok := p.Seen(); ok {
		t.Fatal("Seen cannot tell how far every namespace's watch got")
	}
	if p.Await(ctx, 1, time.Millisecond) {
		t.Fatal("Await without a namespace must not claim a revision in a per-namespace cache")
	}
	go func() {
		time.Sleep(5 * time.Millisecond)
		p.observe("b", "11")
	}()
	if !p.AwaitIn(ctx, "b", 10, 5*time.Second) {
		t.Fatal("AwaitIn must return once the namespace's watch delivers a later revision")
	}

	// One watch for every namespace: any namespace's revision covers all of them.
	one := &Progress{changed: make(chan struct{}), tracked: true, inNamespace: map[string]uint64{}}
	one.observe("a", "20")
	if !one.AwaitIn(ctx, "b", 10, time.Millisecond) {
		t.Fatal("with one watch, revision 20 in a means b's writes up to 20 were delivered")
	}
}
