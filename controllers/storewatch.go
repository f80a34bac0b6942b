package controllers

import (
	"context"
	"errors"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/rosterhq/roster/internal/identitystore"
	"github.com/rosterhq/roster/internal/identitystore/lazy"
)

// Defaults of a StoreWatcher.
const (
	DefaultStoreResyncInterval = 5 * time.Minute
	defaultPingInterval        = 2 * time.Second
)

// StoreWatcher tells the controllers when the identity store needs another look. It runs on
// the leader only, next to the controllers it feeds through channel sources:
//
//   - PostgreSQL's change notifications (identitystore.Notifier): a membership row changed
//     by anyone re-queues its team within a second, so drift is reverted quickly;
//   - a periodic full resync of every team's memberships (SQLite has no notifications, and a
//     notification can be lost while the watch reconnects);
//   - the store becoming reachable again after an outage: every user and team is re-queued
//     at once instead of waiting out its back-off, and Organizations update their Synced
//     condition when reachability changes either way.
type StoreWatcher struct {
	Store *lazy.Store
	// ResyncInterval is the period of the full resync of teams (0: DefaultStoreResyncInterval;
	// negative: never).
	ResyncInterval time.Duration
	// PingInterval is how often reachability is checked (0: 2s).
	PingInterval time.Duration
	Log          logr.Logger

	teams, users, orgs chan event.TypedGenericEvent[identitystore.Change]
}

var _ manager.LeaderElectionRunnable = (*StoreWatcher)(nil)

// NewStoreWatcher returns a watcher of st; add it to the manager and pass it to the
// controllers as their Events.
func NewStoreWatcher(st *lazy.Store, resync time.Duration, log logr.Logger) *StoreWatcher {
	return &StoreWatcher{
		Store: st, ResyncInterval: resync, Log: log,
		teams: make(chan event.TypedGenericEvent[identitystore.Change], 256),
		users: make(chan event.TypedGenericEvent[identitystore.Change], 16),
		orgs:  make(chan event.TypedGenericEvent[identitystore.Change], 16),
	}
}

// NeedLeaderElection is true: only the leader's controllers write to the store.
func (w *StoreWatcher) NeedLeaderElection() bool { return true }

// Start runs until ctx is done.
func (w *StoreWatcher) Start(ctx context.Context) error {
	go w.ping(ctx)
	go w.resync(ctx)
	go w.followHealth(ctx)
	w.watch(ctx)
	return nil
}

func (w *StoreWatcher) send(ctx context.Context, ch chan event.TypedGenericEvent[identitystore.Change], c identitystore.Change) {
	select {
	case ch <- event.TypedGenericEvent[identitystore.Change]{Object: c}:
	case <-ctx.Done():
	}
}

// ping checks reachability regularly, so that an outage shows in Organizations and its end
// is noticed even while no reconcile touches the store.
func (w *StoreWatcher) ping(ctx context.Context) {
	every := w.PingInterval
	if every <= 0 {
		every = defaultPingInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_ = w.Store.Ping(pctx) // the lazy store records the outcome
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// resync re-queues every team periodically.
func (w *StoreWatcher) resync(ctx context.Context) {
	every := w.ResyncInterval
	if every == 0 {
		every = DefaultStoreResyncInterval
	}
	if every < 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.send(ctx, w.teams, identitystore.Change{})
		}
	}
}

// followHealth reacts to reachability changes.
func (w *StoreWatcher) followHealth(ctx context.Context) {
	var last lazy.Health
	for {
		changed := w.Store.Changed()
		h := w.Store.Health()
		if h.Known && (!last.Known || h.Available != last.Available) {
			if h.Available {
				w.Log.Info("identity store reachable")
				if last.Known {
					// Back after an outage: everything that failed meanwhile, now.
					w.send(ctx, w.users, identitystore.Change{})
					w.send(ctx, w.teams, identitystore.Change{})
				}
			} else {
				w.Log.Error(h.Err, "identity store unreachable; SCIM keeps accepting writes, the controllers retry")
			}
			w.send(ctx, w.orgs, identitystore.Change{})
			last = h
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// watch forwards the store's change notifications to the team controller, re-establishing the
// watch when it cannot start (the store is down) and giving up for stores without them.
func (w *StoreWatcher) watch(ctx context.Context) {
	backoff := time.Second
	for ctx.Err() == nil {
		ch, err := w.Store.Watch(ctx)
		if errors.Is(err, lazy.ErrNoNotifications) {
			w.Log.Info("the identity store sends no change notifications; drift is found by the periodic resync", "interval", w.ResyncInterval)
			<-ctx.Done()
			return
		}
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
		// Changes made before the watch started were not seen.
		w.send(ctx, w.teams, identitystore.Change{})
		for c := range ch {
			w.send(ctx, w.teams, c)
		}
	}
}
