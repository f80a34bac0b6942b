package directory

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// ownWaitTimeout bounds how long a read waits for this replica's cache to show the replica's
// own writes. Past it the read is served from the cache as it is (only read-your-writes is
// delayed, never a write).
const ownWaitTimeout = 2 * time.Second

// ownWrites gives read-your-writes on one replica without making writes wait: it remembers
// the highest resourceVersion this replica wrote and the highest its cache has seen, per kind,
// and a read waits only while the first is ahead of the second — typically a millisecond
// after a write, never when the replica wrote nothing new. resourceVersions are etcd revisions,
// and one watch delivers a kind's events in revision order, so a cache that has seen revision
// R holds every write of that kind up to R.
type ownWrites struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever seen advances
	wrote   map[string]uint64
	seen    map[string]uint64
	tracked bool
}

func newOwnWrites() *ownWrites {
	return &ownWrites{changed: make(chan struct{}), wrote: map[string]uint64{}, seen: map[string]uint64{}}
}

// The kinds whose writes the directory waits for.
const (
	kindUser  = "OrgUser"
	kindTeam  = "OrgTeam"
	kindSlice = "OrgTeamMemberSlice"
)

var trackedKinds = map[string]client.Object{
	kindUser:  &rosterv1.OrgUser{},
	kindTeam:  &rosterv1.OrgTeam{},
	kindSlice: &rosterv1.OrgTeamMemberSlice{},
}

// Track registers handlers on the cache's informers that advance what the cache has seen.
// Call it before the cache starts.
func (d *Directory) Track(ctx context.Context, informers cache.Informers) error {
	for kind, obj := range trackedKinds {
		inf, err := informers.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("directory: informer for %s: %w", kind, err)
		}
		seen := func(o any) {
			if m, ok := o.(client.Object); ok {
				d.own.observe(kind, m.GetResourceVersion())
			}
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    seen,
			UpdateFunc: func(_, o any) { seen(o) },
			DeleteFunc: seen, // a tombstone (DeletedFinalStateUnknown) is not an object: skipped
		}); err != nil {
			return err
		}
	}
	d.own.mu.Lock()
	d.own.tracked = true
	d.own.mu.Unlock()
	return nil
}

func (w *ownWrites) observe(kind, resourceVersion string) {
	rv, err := strconv.ParseUint(resourceVersion, 10, 64)
	if err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if rv > w.seen[kind] {
		w.seen[kind] = rv
		close(w.changed)
		w.changed = make(chan struct{})
	}
}

// noteWrite records an acknowledged write of this replica.
func (d *Directory) noteWrite(obj client.Object) {
	if obj == nil {
		return
	}
	kind := kindOf(obj)
	rv, err := strconv.ParseUint(obj.GetResourceVersion(), 10, 64)
	if kind == "" || err != nil {
		return
	}
	d.own.mu.Lock()
	if rv > d.own.wrote[kind] {
		d.own.wrote[kind] = rv
	}
	d.own.mu.Unlock()
}

func kindOf(obj client.Object) string {
	switch o := obj.(type) {
	case *metav1.PartialObjectMetadata:
		return o.GetObjectKind().GroupVersionKind().Kind
	case *rosterv1.OrgUser:
		return kindUser
	case *rosterv1.OrgTeam:
		return kindTeam
	case *rosterv1.OrgTeamMemberSlice:
		return kindSlice
	}
	return ""
}

// awaitOwnWrites waits until this replica's cache holds every write of the given kinds this
// replica has acknowledged (bounded by ownWaitTimeout and ctx). A read waits only for the kinds
// it reads: a POST /Users answered with the user's groups reads slices, and must not wait for
// the watch to deliver the user it just created.
func (d *Directory) awaitOwnWrites(ctx context.Context, kinds ...string) {
	w := d.own
	var timeout <-chan time.Time
	for {
		w.mu.Lock()
		behind := false
		if w.tracked {
			for _, kind := range kinds {
				if w.seen[kind] < w.wrote[kind] {
					behind = true
				}
			}
		}
		changed := w.changed
		w.mu.Unlock()
		if !behind {
			return
		}
		if timeout == nil {
			t := time.NewTimer(ownWaitTimeout)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-changed:
		case <-timeout:
			return
		case <-ctx.Done():
			return
		}
	}
}

// listKind is the kind of a list's items.
func listKind(list client.ObjectList) string {
	switch list.(type) {
	case *rosterv1.OrgUserList:
		return kindUser
	case *rosterv1.OrgTeamList:
		return kindTeam
	case *rosterv1.OrgTeamMemberSliceList:
		return kindSlice
	}
	return ""
}

// awaitGone waits until this replica's cache no longer shows obj (or shows it terminating),
// after a delete: a delete's own revision is not returned to the client, so ownWrites cannot
// wait for it.
func (d *Directory) awaitGone(ctx context.Context, obj client.Object) {
	key := client.ObjectKeyFromObject(obj)
	cached := obj.DeepCopyObject().(client.Object)
	ctx, cancel := context.WithTimeout(ctx, ownWaitTimeout)
	defer cancel()
	_ = wait.PollUntilContextCancel(ctx, time.Millisecond, true, func(ctx context.Context) (bool, error) {
		err := d.client.Get(ctx, key, cached)
		return apierrors.IsNotFound(err) || (err == nil && cached.GetDeletionTimestamp() != nil), nil
	})
}

// get reads an object by key into obj. From the cache (once it holds this replica's own
// writes) unless live is set; an object the cache does not know — created a moment ago
// through another replica — is read from the apiserver before it is called missing. A missing
// or terminating object is ErrNotFound.
func (d *Directory) get(ctx context.Context, key client.ObjectKey, obj client.Object, live bool) error {
	var err error
	if !live {
		d.awaitOwnWrites(ctx, kindOf(obj))
		err = d.client.Get(ctx, key, obj)
	}
	if live || apierrors.IsNotFound(err) {
		err = d.api.Get(ctx, key, obj)
	}
	switch {
	case apierrors.IsNotFound(err):
		return ErrNotFound
	case err != nil:
		return err
	case obj.GetDeletionTimestamp() != nil:
		return ErrNotFound
	}
	return nil
}

// list lists a namespace's objects from the cache, once it holds this replica's own writes.
// The objects are shared with the cache (no deep copies: a full scan of 100,000 users would
// copy every one): callers only read them.
func (d *Directory) list(ctx context.Context, namespace string, list client.ObjectList, opts ...client.ListOption) error {
	d.awaitOwnWrites(ctx, listKind(list))
	opts = append(opts, client.InNamespace(namespace), client.UnsafeDisableDeepCopy)
	return d.client.List(ctx, list, opts...)
}
