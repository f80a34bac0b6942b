package directory

import (
	"context"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/cachewatch"
	"github.com/rosterhq/roster/internal/index"
)

// ownWaitTimeout bounds how long a read waits for this replica's cache to show the replica's
// own writes. Past it the read is served from the cache as it is (only read-your-writes is
// delayed, never a write).
const ownWaitTimeout = 2 * time.Second

// ownWrites gives read-your-writes on one replica without making writes wait: it remembers
// the highest resourceVersion this replica wrote per kind and namespace, and a read waits only while the
// cache (cachewatch.Progress) is behind it — typically a millisecond after a write, never when
// the replica wrote nothing new.
type ownWrites struct {
	mu       sync.Mutex
	wrote    map[ownKey]uint64
	progress map[string]*cachewatch.Progress // nil entries: not tracked, reads do not wait
}

// ownKey is a kind in a namespace: a shard's cache watches each namespace apart
// (cachewatch.TrackPerNamespace), and a read of one namespace waits for its writes there.
type ownKey struct{ kind, namespace string }

// The kinds whose writes the directory waits for.
const (
	kindUser  = "OrgUser"
	kindTeam  = "OrgTeam"
	kindSlice = "OrgTeamMemberSlice"
)

// kindClaim names display-name claims in audit records (Written); reads never wait for them:
// claims are read from the apiserver only.
const kindClaim = "OrgTeamNameClaim"

// noteWrite records an acknowledged write of this replica, for read-your-writes and in the
// context's Written.
func (d *Directory) noteWrite(ctx context.Context, obj client.Object) {
	if obj == nil {
		return
	}
	kind := kindOf(obj)
	recordWrite(ctx, kind, obj.GetName())
	rv, err := strconv.ParseUint(obj.GetResourceVersion(), 10, 64)
	if kind == "" || err != nil {
		return
	}
	d.own.mu.Lock()
	if k := (ownKey{kind, obj.GetNamespace()}); rv > d.own.wrote[k] {
		d.own.wrote[k] = rv
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
func (d *Directory) awaitOwnWrites(ctx context.Context, namespace string, kinds ...string) {
	for _, kind := range kinds {
		d.own.mu.Lock()
		want, p := d.own.wrote[ownKey{kind, namespace}], d.own.progress[kind]
		d.own.mu.Unlock()
		if seen, ok := p.SeenIn(namespace); ok && seen < want {
			p.AwaitIn(ctx, namespace, want, ownWaitTimeout)
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
// and its ordered index no longer lists it, after a delete: a delete's own revision is not
// returned to the client, so ownWrites cannot wait for it. The index is fed by a handler of its
// own, which runs after the cache's store has changed: the cache alone going quiet would let a
// list right after a 204 still show the deleted resource.
func (d *Directory) awaitGone(ctx context.Context, obj client.Object) {
	key := client.ObjectKeyFromObject(obj)
	cached := obj.DeepCopyObject().(client.Object)
	ctx, cancel := context.WithTimeout(ctx, ownWaitTimeout)
	defer cancel()
	_ = wait.PollUntilContextCancel(ctx, time.Millisecond, true, func(ctx context.Context) (bool, error) {
		err := d.client.Get(ctx, key, cached)
		if gone := apierrors.IsNotFound(err) || (err == nil && cached.GetDeletionTimestamp() != nil); !gone {
			return false, nil
		}
		return d.order == nil || !d.order.Holds(obj), nil
	})
}

// get reads an object by key into obj. From the cache (once it holds this replica's own
// writes) unless live is set; an object the cache does not know — created a moment ago
// through another replica — is read from the apiserver before it is called missing. A missing
// or terminating object is ErrNotFound.
func (d *Directory) get(ctx context.Context, key client.ObjectKey, obj client.Object, live bool) error {
	var err error
	if !live {
		d.awaitOwnWrites(ctx, key.Namespace, kindOf(obj))
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

// list lists a namespace's objects from the cache (all, or those a lookup in a field index
// finds: by nil is all), once it holds this replica's own writes. The objects are shared with
// the cache (no deep copies: a full scan of 100,000 teams would copy every one): callers only
// read them. Users are the exception: the cache holds them in compact form
// (internal/slimuser), which only a copying list turns into OrgUsers.
func (d *Directory) list(ctx context.Context, namespace string, list client.ObjectList, by *index.Lookup) error {
	d.awaitOwnWrites(ctx, namespace, listKind(list))
	opts := []client.ListOption{client.InNamespace(namespace)}
	if _, users := list.(*rosterv1.OrgUserList); !users {
		opts = append(opts, client.UnsafeDisableDeepCopy)
	}
	if by != nil {
		return by.List(ctx, d.client, namespace, list, opts...)
	}
	return d.client.List(ctx, list, opts...)
}
