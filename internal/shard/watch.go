package shard

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// ErrChanged is what the manager of a shard returns when the organizations its selector picks
// are no longer those it started with: the process exits and its container restarts with
// the new set (`roster manager` exits 1 and the kubelet restarts it in the same pod).
var ErrChanged = errors.New("the organizations this shard selects changed: restarting to cache the new set")

// Default timings of a Watcher.
const (
	// DefaultMaxDelay bounds the random delay before a replica takes its turn to restart:
	// relabelling several organizations at once costs one restart, not one each.
	DefaultMaxDelay = 10 * time.Second
	// DefaultTurnDuration is how long a turn to restart is held when the replica that took
	// it does not come back (the safety net; a replica that comes back serving ends it at
	// once). It outlasts the kubelet's longest crash-loop back-off (5 minutes): a replica
	// whose restart is delayed by back-off still holds the turn, so the next one waits.
	DefaultTurnDuration = 6 * time.Minute
)

// Watcher restarts a shard's replica when its set of organizations changes, one replica of
// the shard at a time: a replica takes its turn through a Lease (Name, in Namespace) before it
// stops, and hands it back once it is ready again after the restart. Until then the other
// replicas keep serving: a Deployment never loses all of a shard at once.
type Watcher struct {
	Shard *Shard
	// Cache holds the Organizations the selector picks (Shard.Restrict).
	Cache cache.Cache
	// API reads and writes the Lease live: turns must never be decided on a stale cache.
	API client.Client
	// Namespace and Name locate the Lease; Identity names this replica in it. It must stay
	// the same across a restart of the container (the pod's name), so that the replica that
	// comes back can end its own turn.
	Namespace, Name, Identity string
	Log                       logr.Logger
	// MaxDelay and TurnDuration: 0 for DefaultMaxDelay and DefaultTurnDuration.
	MaxDelay, TurnDuration time.Duration
	// Serving, when set, is closed once the replica serves again (the SCIM server's Ready):
	// the turn is handed back then, not at cache sync, so the next replica stops only once
	// this one answers. Nil: at cache sync.
	Serving <-chan struct{}

	// restarting is set once the replica has decided to restart: /readyz fails from then on.
	restarting atomic.Bool
}

var _ manager.LeaderElectionRunnable = (*Watcher)(nil)

// NeedLeaderElection is false: every replica caches, so every replica restarts.
func (w *Watcher) NeedLeaderElection() bool { return false }

// ReadyzCheck fails once the replica is about to restart for a new set of organizations.
func (w *Watcher) ReadyzCheck(*http.Request) error {
	if w.restarting.Load() {
		return ErrChanged
	}
	return nil
}

// Start ends this replica's turn left from before its restart, then watches the selected
// Organizations and returns ErrChanged when their set (or a namespace) differs from the one
// the replica started with, once it holds the turn to restart.
func (w *Watcher) Start(ctx context.Context) error {
	if w.Shard == nil {
		return nil
	}
	inf, err := w.Cache.GetInformer(ctx, &rosterv1.Organization{})
	if err != nil {
		return err
	}
	changed := make(chan struct{}, 1)
	poke := func(any) {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: poke, UpdateFunc: func(_, o any) { poke(o) }, DeleteFunc: poke,
	})
	if err != nil {
		return err
	}
	defer func() { _ = inf.RemoveEventHandler(reg) }()
	if !w.Cache.WaitForCacheSync(ctx) {
		return nil // stopping
	}
	if w.Serving != nil {
		select {
		case <-ctx.Done():
			return nil
		case <-w.Serving:
		}
	}
	if err := w.endTurn(ctx); err != nil {
		w.Log.Error(err, "handing back the turn to restart; it expires by itself", "lease", w.Name, "after", w.turnDuration())
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
		now, err := w.current(ctx)
		if err != nil {
			return err
		}
		if maps.Equal(now, w.Shard.orgs) {
			continue
		}
		w.Log.Info("the organizations this shard selects changed; restarting after the other replicas' turns",
			"selector", w.Shard.Selector(), "had", w.Shard.Orgs(), "now", sortedKeys(now))
		if err := w.takeTurn(ctx); err != nil {
			return nil // stopping
		}
		w.restarting.Store(true)
		return ErrChanged
	}
}

// current lists the Organizations the selector picks now, from the cache (which holds only
// those).
func (w *Watcher) current(ctx context.Context) (map[string]string, error) {
	var list rosterv1.OrganizationList
	if err := w.Cache.List(ctx, &list, client.MatchingLabelsSelector{Selector: w.Shard.selector}); err != nil {
		return nil, fmt.Errorf("listing organizations: %w", err)
	}
	return orgNamespaces(list.Items), nil
}

func sortedKeys(m map[string]string) []string { return (&Shard{orgs: m}).Orgs() }

func (w *Watcher) turnDuration() time.Duration {
	if w.TurnDuration > 0 {
		return w.TurnDuration
	}
	return DefaultTurnDuration
}

// takeTurn waits a random delay, then until no other replica holds the turn (or its turn
// has expired), and takes it. It returns only ctx's error.
func (w *Watcher) takeTurn(ctx context.Context) error {
	maxDelay := w.MaxDelay
	if maxDelay <= 0 {
		maxDelay = DefaultMaxDelay
	}
	wait := rand.N(maxDelay) + time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		ok, err := w.tryTurn(ctx)
		if err != nil {
			w.Log.Error(err, "taking the turn to restart; retrying", "lease", w.Name)
		}
		if ok {
			return nil
		}
		wait = time.Second
	}
}

// tryTurn takes the Lease if it is free, expired or already this replica's. Create and the
// resourceVersion-checked Update make two replicas racing for it see one winner.
func (w *Watcher) tryTurn(ctx context.Context) (bool, error) {
	now := metav1.NewMicroTime(time.Now())
	secs := int32(w.turnDuration() / time.Second)
	var lease coordinationv1.Lease
	err := w.API.Get(ctx, client.ObjectKey{Namespace: w.Namespace, Name: w.Name}, &lease)
	if apierrors.IsNotFound(err) {
		lease = coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: w.Namespace, Name: w.Name},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &w.Identity, AcquireTime: &now, RenewTime: &now, LeaseDurationSeconds: &secs}}
		err = w.API.Create(ctx, &lease)
		return err == nil, client.IgnoreAlreadyExists(err)
	}
	if err != nil {
		return false, err
	}
	holder := ptr.Deref(lease.Spec.HolderIdentity, "")
	if holder != "" && holder != w.Identity && !expired(&lease, now.Time) {
		return false, nil
	}
	lease.Spec.HolderIdentity, lease.Spec.AcquireTime, lease.Spec.RenewTime, lease.Spec.LeaseDurationSeconds = &w.Identity, &now, &now, &secs
	err = w.API.Update(ctx, &lease)
	if apierrors.IsConflict(err) {
		return false, nil
	}
	return err == nil, err
}

func expired(l *coordinationv1.Lease, now time.Time) bool {
	if l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return true
	}
	return now.After(l.Spec.RenewTime.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second))
}

// endTurn frees the Lease if this replica holds it: it is back, with its cache synced and
// (Serving) serving.
func (w *Watcher) endTurn(ctx context.Context) error {
	var lease coordinationv1.Lease
	err := w.API.Get(ctx, client.ObjectKey{Namespace: w.Namespace, Name: w.Name}, &lease)
	if err != nil || ptr.Deref(lease.Spec.HolderIdentity, "") != w.Identity {
		return client.IgnoreNotFound(err)
	}
	lease.Spec.HolderIdentity = nil
	return w.API.Update(ctx, &lease) // resourceVersion-checked: a turn taken since stays
}

// Holder returns who holds the turn to restart named name ("" when no one).
func Holder(ctx context.Context, api client.Reader, namespace, name string) (string, error) {
	var lease coordinationv1.Lease
	if err := api.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &lease); err != nil {
		return "", client.IgnoreNotFound(err)
	}
	if expired(&lease, time.Now()) {
		return "", nil
	}
	return ptr.Deref(lease.Spec.HolderIdentity, ""), nil
}
