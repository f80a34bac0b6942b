package scim

import (
	"context"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// DefaultActivityInterval is how often a replica records the organizations' last SCIM
// request in their status (Options.ActivityInterval).
const DefaultActivityInterval = time.Minute

// activity remembers, per organization, when this replica last served an authenticated
// request, so that Organization status.lastRequestTime says whether the identity provider
// still calls. Requests only touch memory; the status is written once per interval and
// active organization, and only forward (another replica may have written a later time).
type activity struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// note records a request of org at t.
func (a *activity) note(org string, t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.seen == nil {
		a.seen = map[string]time.Time{}
	}
	if t.After(a.seen[org]) {
		a.seen[org] = t
	}
}

// take returns what was noted since the last take.
func (a *activity) take() map[string]time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.seen
	a.seen = nil
	return out
}

// recordActivity writes what was noted to the organizations' status every interval until ctx
// ends, and once more then (a stopping replica's last requests are not lost).
func (s *Server) recordActivity(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			flush, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			s.flushActivity(flush)
			cancel()
			return
		case <-t.C:
			s.flushActivity(ctx)
		}
	}
}

// flushActivity patches status.lastRequestTime of each organization noted, where it is later
// than what the cache shows. Best effort: a failed write is logged and the time is kept for
// the next round.
func (s *Server) flushActivity(ctx context.Context) {
	for org, at := range s.activity.take() {
		var o rosterv1.Organization
		if err := s.opts.Client.Get(ctx, client.ObjectKey{Name: org}, &o); err != nil {
			continue // deleted meanwhile, or the cache cannot say: nothing to record
		}
		// Kubernetes times have second precision: compare at that precision.
		at = at.Truncate(time.Second)
		if lrt := o.Status.LastRequestTime; lrt != nil && !at.After(lrt.Time) {
			continue
		}
		// The write carries the resourceVersion it was decided on: a later time another
		// replica wrote since, which this cache has not seen yet, makes it conflict instead of
		// being moved back; the time is then kept for the next round.
		body := fmt.Appendf(nil, `{"metadata":{"resourceVersion":%q},"status":{"lastRequestTime":%q}}`,
			o.ResourceVersion, at.UTC().Format(time.RFC3339))
		if err := s.opts.Client.Status().Patch(ctx, &o, client.RawPatch(types.MergePatchType, body)); err != nil {
			if !apierrors.IsConflict(err) {
				s.opts.Log.Info("recording the organization's last SCIM request", "org", org, "error", err.Error())
			}
			s.activity.note(org, at)
		}
	}
}
