package cachewatch

import (
	"context"
	"testing"
	"time"
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
