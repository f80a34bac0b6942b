// Package cachewatch tells how far an informer cache has got: the highest resourceVersion it
// has delivered for a kind. resourceVersions are etcd revisions, and one watch delivers a
// kind's events in revision order, so a cache that has delivered revision R holds every write
// of that kind up to R. Reads that must not be staler than a known write (read-your-writes,
// membership fences) wait for it here instead of reading the apiserver.
//
// A cache restricted to some namespaces (a shard's, internal/shard) runs one watch per
// namespace: each is in revision order, but not with the others, so a revision delivered in
// one namespace says nothing of another. Such a cache is tracked per namespace
// (TrackPerNamespace), and readers ask about the namespace they read (SeenIn, AwaitIn).
package cachewatch

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rosterhq/roster/internal/metrics"
)

// Progress is the highest resourceVersion an informer has delivered. The zero value and nil
// are "not tracked": Await then reports false at once.
type Progress struct {
	mu      sync.Mutex
	seen    uint64
	changed chan struct{} // closed and replaced whenever seen (or a namespace's) advances
	tracked bool
	// perNamespace: the cache watches each namespace apart; inNamespace is each one's seen.
	perNamespace bool
	inNamespace  map[string]uint64

	// waited and timeouts record the waits Await had to make (nil: not recorded), as
	// roster_cache_wait_seconds and roster_cache_wait_timeouts_total of the kind.
	waited   prometheus.Observer
	timeouts prometheus.Counter
}

// Track registers a handler on the cache's informer for obj's kind and returns its progress.
// Call it before the cache starts. Handlers run after the informer's store is updated, so what
// Progress reports is already readable from the cache.
func Track(ctx context.Context, informers cache.Informers, obj client.Object) (*Progress, error) {
	return track(ctx, informers, obj, false)
}

// TrackPerNamespace is Track for a cache that watches each namespace on its own (one
// restricted to a set of namespaces): what it reports is per namespace (SeenIn, AwaitIn), and
// Seen and Await, which cannot say which namespace they mean, report nothing tracked.
func TrackPerNamespace(ctx context.Context, informers cache.Informers, obj client.Object) (*Progress, error) {
	return track(ctx, informers, obj, true)
}

func track(ctx context.Context, informers cache.Informers, obj client.Object, perNamespace bool) (*Progress, error) {
	inf, err := informers.GetInformer(ctx, obj)
	if err != nil {
		return nil, fmt.Errorf("informer for %T: %w", obj, err)
	}
	p := New(reflect.TypeOf(obj).Elem().Name(), perNamespace)
	seen := func(o any) {
		if m, ok := o.(client.Object); ok { // a tombstone (DeletedFinalStateUnknown) is skipped
			p.observe(m.GetNamespace(), m.GetResourceVersion())
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    seen,
		UpdateFunc: func(_, o any) { seen(o) },
		DeleteFunc: seen,
	}); err != nil {
		return nil, err
	}
	return p, nil
}

// New returns a Progress that something other than an informer handler of Track advances
// (Observe): an index fed by its own handler, which can lag the cache. name labels its wait
// metrics; perNamespace is as for TrackPerNamespace.
func New(name string, perNamespace bool) *Progress {
	p := &Progress{changed: make(chan struct{}), tracked: true, perNamespace: perNamespace, inNamespace: map[string]uint64{}}
	p.waited, p.timeouts = metrics.CacheWaitFor(name)
	return p
}

// Observe records that revision resourceVersion of an object in namespace has been delivered
// (and is readable).
func (p *Progress) Observe(namespace, resourceVersion string) { p.observe(namespace, resourceVersion) }

func (p *Progress) observe(namespace, resourceVersion string) {
	rv, err := strconv.ParseUint(resourceVersion, 10, 64)
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	advanced := false
	if rv > p.seen {
		p.seen, advanced = rv, true
	}
	if p.perNamespace && rv > p.inNamespace[namespace] {
		p.inNamespace[namespace], advanced = rv, true
	}
	if advanced {
		close(p.changed)
		p.changed = make(chan struct{})
	}
}

// seenIn is the highest revision delivered that covers namespace ("": every namespace, only
// known when one watch delivers them all); ok is false when not tracked. Called with p.mu held.
func (p *Progress) seenIn(namespace string) (uint64, bool) {
	switch {
	case !p.perNamespace:
		return p.seen, p.tracked
	case namespace == "":
		return 0, false
	}
	return p.inNamespace[namespace], p.tracked
}

// SeenIn returns the highest revision delivered that covers namespace: in a cache watching
// each namespace apart, that namespace's; else Seen.
func (p *Progress) SeenIn(namespace string) (rv uint64, ok bool) {
	if p == nil {
		return 0, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seenIn(namespace)
}

// Seen returns the highest revision delivered so far; ok is false when not tracked.
func (p *Progress) Seen() (rv uint64, ok bool) {
	if p == nil {
		return 0, false
	}
	return p.SeenIn("")
}

// Await waits until the cache has delivered revision want, at most timeout (and ctx); it
// reports whether it got there. A wait that was needed is recorded in the kind's metrics.
func (p *Progress) Await(ctx context.Context, want uint64, timeout time.Duration) bool {
	return p.AwaitIn(ctx, "", want, timeout)
}

// AwaitIn is Await for a write in namespace: in a cache watching each namespace apart, it
// waits for that namespace's watch.
func (p *Progress) AwaitIn(ctx context.Context, namespace string, want uint64, timeout time.Duration) bool {
	if p == nil {
		return false
	}
	var expired <-chan time.Time
	var start time.Time
	for {
		p.mu.Lock()
		seen, tracked := p.seenIn(namespace)
		changed := p.changed
		p.mu.Unlock()
		switch {
		case !tracked:
			return false
		case seen >= want:
			p.observeWait(start, false)
			return true
		}
		if expired == nil {
			start = time.Now()
			t := time.NewTimer(timeout)
			defer t.Stop()
			expired = t.C
		}
		select {
		case <-changed:
		case <-expired:
			p.observeWait(start, true)
			return false
		case <-ctx.Done():
			return false // the caller gave up: says nothing about the cache
		}
	}
}

// observeWait records a wait that started at start (zero: there was none to make).
func (p *Progress) observeWait(start time.Time, timedOut bool) {
	if start.IsZero() || p.waited == nil {
		return
	}
	p.waited.Observe(time.Since(start).Seconds())
	if timedOut {
		p.timeouts.Inc()
	}
}
