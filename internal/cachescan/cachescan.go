// Package cachescan walks the objects an informer cache holds, in place.
//
// Why it exists: controller-runtime's cached List builds a new list of the objects it
// returns. Even with UnsafeDisableDeepCopy it copies every struct into the list's Items (an
// OrgUser is ~700 bytes), so counting an organization of 100,000 users that way allocated
// ~70 MB per call and the garbage kept the collector busy (docs/benchmarks.md, "Organization
// status without copies"). Each reads the informer's own index instead: pointers to the cached
// objects, as current as a cached List (the same store, under the same lock).
package cachescan

import (
	"context"
	"fmt"
	"reflect"
	"unsafe"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Each calls fn with every object of T's kind that r holds in namespace ("": in every
// namespace), in no particular order. r is the manager's cache (cache.Cache); any other
// reader is listed. list is an empty list of the same kind (e.g. &rosterv1.OrgTeamList{}),
// filled only when the store cannot be reached. T is what the store holds: the cache keeps
// OrgUsers in compact form, walked with slimuser.Each instead.
//
// fn receives the cache's own object: read-only by contract. It must neither change it nor
// keep it (or anything it points to) after it returns; copy what it needs.
//
// The store is read without copies when the informer is client-go's SharedIndexInformer (a
// cache of all namespaces, or of one). A cache restricted to several namespaces (a shard's,
// internal/shard) hides its per-namespace informers behind one that has no store: built by
// NewCache (as the manager's is), Each walks the stores NewCache recorded, in place too; any
// other such cache, and any reader that is not a cache, is listed without deep copies, which
// copies the structs once.
func Each[T client.Object](ctx context.Context, r client.Reader, list client.ObjectList, namespace string, fn func(T)) error {
	obj := newObject[T]()
	walked, err := EachStored(ctx, r, obj, namespace, fn)
	if walked || err != nil {
		return err
	}
	opts := []client.ListOption{client.UnsafeDisableDeepCopy}
	if namespace != "" {
		opts = append(opts, client.InNamespace(namespace))
	}
	if err := r.List(ctx, list, opts...); err != nil {
		return err
	}
	return meta.EachListItem(list, func(o runtime.Object) error {
		t, ok := o.(T)
		if !ok {
			return fmt.Errorf("list %T holds %T, not %T", list, o, obj)
		}
		fn(t)
		return nil
	})
}

// EachStored is Each without the List: it calls fn with every object the stores of kind's
// informers hold in namespace, as stored (after the cache's transforms: OrgUsers are
// *slimuser.User), and reports false, calling fn for none, when r has no store it can walk
// in place (the caller lists instead). An object that is no T is an error.
func EachStored[T any](ctx context.Context, r client.Reader, kind client.Object, namespace string, fn func(T)) (bool, error) {
	infs, err := informers(ctx, r, kind)
	if err != nil || infs == nil {
		return false, err
	}
	if infs.recorded != nil && !infs.recorded.covers(kind, namespace) {
		return true, fmt.Errorf("the cache holds no %T of namespace %q", kind, namespace)
	}
	for _, inf := range infs.list {
		if err := eachIn(inf.GetIndexer(), namespace, fn); err != nil {
			return true, err
		}
	}
	return true, nil
}

// GetStored returns the object stored under key by kind's informers, as stored (see
// EachStored), and whether it exists; walked is false when r has no store to read in place.
func GetStored(ctx context.Context, r client.Reader, kind client.Object, key client.ObjectKey) (obj any, exists, walked bool, err error) {
	infs, err := storesOf(ctx, r, kind, key.Namespace)
	if err != nil || infs == nil {
		return nil, false, infs != nil, err
	}
	k := key.Name
	if key.Namespace != "" {
		k = key.Namespace + "/" + key.Name
	}
	obj, exists, err = infs.get(k)
	return obj, exists, true, err
}

// GetStoredEach is GetStored for many names of one namespace: it calls fn with each name's
// index in names and its stored object (nil when absent), and reports false, calling fn for
// none, when r has no store to read in place (the caller reads one by one instead).
//
// Why: finding the kind's informers costs as much as the lookup itself, and a PUT of a
// 100,000-member group resolves every member (membership.Store.Users): once per call instead
// of once per name.
func GetStoredEach(ctx context.Context, r client.Reader, kind client.Object, namespace string, names []string, fn func(i int, obj any)) (walked bool, err error) {
	infs, err := storesOf(ctx, r, kind, namespace)
	if err != nil || infs == nil {
		return infs != nil, err
	}
	// Each key is built in one buffer and looked up through a string that views it: a
	// concatenation per name allocated 100,000 keys per PUT. Safe because a store's GetByKey
	// only indexes its map with the key (client-go's threadSafeMap), keeping nothing.
	var buf []byte
	if namespace != "" {
		buf = append(append(buf, namespace...), '/')
	}
	prefix := len(buf)
	for i, name := range names {
		buf = append(buf[:prefix], name...)
		obj, _, err := infs.get(unsafe.String(unsafe.SliceData(buf), len(buf)))
		if err != nil {
			return true, err
		}
		fn(i, obj)
	}
	return true, nil
}

// storesOf finds the stores of kind's informers to read namespace's objects in place: nil
// when r has none (the caller reads through r), an error when r is a cache that does not hold
// namespace — as the cache's own Get, not "no such object" (a caller would take a user for
// gone, e.g. revoke its bindings).
func storesOf(ctx context.Context, r client.Reader, kind client.Object, namespace string) (*storeSet, error) {
	infs, err := informers(ctx, r, kind)
	if err != nil || infs == nil {
		return nil, err
	}
	if namespace != "" && infs.recorded != nil && !infs.recorded.covers(kind, namespace) {
		return infs, fmt.Errorf("the cache holds no %T of namespace %q", kind, namespace)
	}
	return infs, nil
}

// get looks key up in each store (one per namespace of a multi-namespace cache: the key is in
// one of them at most).
func (s *storeSet) get(key string) (obj any, exists bool, err error) {
	for _, inf := range s.list {
		if obj, exists, err = inf.GetIndexer().GetByKey(key); exists || err != nil {
			return obj, exists, err
		}
	}
	return nil, false, nil
}

// storeSet is the informers whose stores hold a kind: one, or one per namespace of a
// multi-namespace cache built by NewCache (recorded then says which namespaces it covers).
type storeSet struct {
	list     []indexed
	recorded *stores
}

type indexed interface{ GetIndexer() toolscache.Indexer }

// informers finds the informers of kind in r whose stores can be read in place; nil when
// there are none (r is no cache, or a multi-namespace cache not built by NewCache).
func informers(ctx context.Context, r client.Reader, kind client.Object) (*storeSet, error) {
	sc, recorded := r.(*scannable)
	if recorded {
		// Why not GetInformer first: a multi-namespace cache's GetInformer builds a map and starts a
		// goroutine per call. Once every namespace's informer of the kind has synced, the
		// recorded stores are all a walk needs.
		if infs := sc.stores.synced(kind); infs != nil {
			return recordedSet(sc.stores, infs), nil
		}
	}
	c, ok := r.(cache.Informers)
	if !ok {
		return nil, nil
	}
	inf, err := c.GetInformer(ctx, kind)
	if err != nil {
		return nil, err
	}
	if s, ok := inf.(indexed); ok {
		return &storeSet{list: []indexed{s}}, nil
	}
	if recorded {
		if infs := sc.stores.of(kind); len(infs) > 0 {
			return recordedSet(sc.stores, infs), nil
		}
	}
	return nil, nil
}

func recordedSet(s *stores, infs []toolscache.SharedIndexInformer) *storeSet {
	set := &storeSet{recorded: s, list: make([]indexed, len(infs))}
	for i, inf := range infs {
		set.list[i] = inf
	}
	return set
}

// eachIn walks an informer's store. ByIndex returns the store's pointers (one slice of them,
// 16 bytes per object), not copies.
func eachIn[T any](store toolscache.Indexer, namespace string, fn func(T)) error {
	var items []any
	if namespace == "" {
		items = store.List()
	} else {
		var err error
		if items, err = store.ByIndex(toolscache.NamespaceIndex, namespace); err != nil {
			return err
		}
	}
	for _, it := range items {
		t, ok := it.(T)
		if !ok {
			return fmt.Errorf("the cache holds %T, not %T", it, *new(T))
		}
		fn(t)
	}
	return nil
}

// newObject returns a new, empty T; T is a pointer to a struct, as every typed object is.
func newObject[T client.Object]() T {
	return reflect.New(reflect.TypeFor[T]().Elem()).Interface().(T)
}
