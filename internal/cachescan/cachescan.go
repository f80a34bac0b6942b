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

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Each calls fn with every object of T's kind that r holds in namespace ("": in every
// namespace), in no particular order. r is the manager's cache (cache.Cache); any other
// reader is listed. list is an empty list of the same kind (e.g. &rosterv1.OrgUserList{}),
// filled only when the store cannot be reached.
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
	sc, recorded := r.(*scannable)
	if recorded {
		// Why not GetInformer first: a multi-namespace cache's GetInformer builds a map and starts a
		// goroutine per call. Once every namespace's informer of the kind has synced, the
		// recorded stores are all Each needs.
		if infs := sc.stores.synced(obj); infs != nil {
			return eachOf(sc.stores, infs, obj, namespace, fn)
		}
	}
	if c, ok := r.(cache.Informers); ok {
		inf, err := c.GetInformer(ctx, obj)
		if err != nil {
			return err
		}
		if s, ok := inf.(interface{ GetIndexer() toolscache.Indexer }); ok {
			return eachIn(s.GetIndexer(), namespace, fn)
		}
		if recorded {
			if infs := sc.stores.of(obj); len(infs) > 0 {
				return eachOf(sc.stores, infs, obj, namespace, fn)
			}
		}
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

// eachOf walks the stores of a multi-namespace cache's informers of obj's kind: each holds
// one namespace, so each object is in one of them.
func eachOf[T client.Object](s *stores, infs []toolscache.SharedIndexInformer, obj T, namespace string, fn func(T)) error {
	if !s.covers(obj, namespace) {
		return fmt.Errorf("the cache holds no %T of namespace %q", obj, namespace)
	}
	for _, inf := range infs {
		if err := eachIn(inf.GetIndexer(), namespace, fn); err != nil {
			return err
		}
	}
	return nil
}

// eachIn walks an informer's store. ByIndex returns the store's pointers (one slice of them,
// 16 bytes per object), not copies.
func eachIn[T client.Object](store toolscache.Indexer, namespace string, fn func(T)) error {
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
