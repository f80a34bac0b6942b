package cachescan

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// NewCache is cache.New for ctrl.Options.NewCache: a cache whose informers' stores Each walks
// in place whatever its shape. Why: a cache restricted to several namespaces (a shard's,
// internal/shard) builds one informer per namespace and returns, from GetInformer, one that
// fans out to them and has no store; without NewCache, Each can only List such a cache, which
// copies every object. NewCache records each informer's store, by kind, as the cache creates
// it (cache.Options.NewInformer, chained to any already set).
func NewCache(config *rest.Config, opts cache.Options) (cache.Cache, error) {
	s := newStores(opts)
	next := opts.NewInformer
	if next == nil {
		next = toolscache.NewSharedIndexInformer
	}
	opts.NewInformer = func(lw toolscache.ListerWatcher, obj runtime.Object, resync time.Duration, indexers toolscache.Indexers) toolscache.SharedIndexInformer {
		inf := next(lw, obj, resync, indexers)
		s.add(obj, inf)
		return inf
	}
	c, err := cache.New(config, opts)
	if err != nil {
		return nil, err
	}
	return &scannable{Cache: c, stores: s}, nil
}

// scannable is a cache.Cache that knows its informers' stores.
type scannable struct {
	cache.Cache
	stores *stores
}

// RemoveInformer removes obj's informers and forgets their stores (only those: an informer
// another goroutine creates meanwhile for the kind stays known).
func (c *scannable) RemoveInformer(ctx context.Context, obj client.Object) error {
	removed := c.stores.of(obj)
	if err := c.Cache.RemoveInformer(ctx, obj); err != nil {
		return err
	}
	c.stores.forget(obj, removed)
	return nil
}

// stores holds the informers a cache created, by the Go type of their objects: one per
// namespace of a multi-namespace cache, one for a cache of every namespace.
type stores struct {
	mu     sync.Mutex
	byType map[reflect.Type][]toolscache.SharedIndexInformer
	// namespaces are the namespaces cached per kind, as configured (nil key: the default);
	// empty: every namespace. Read-only after NewCache.
	namespaces map[reflect.Type]map[string]cache.Config
}

// synced returns the informers recorded for obj's kind if there is one for each namespace the
// cache holds the kind in and all have synced; otherwise nil (the cache has not made them
// all yet, or the kind is cluster-scoped in a multi-namespace cache: one informer).
func (s *stores) synced(obj runtime.Object) []toolscache.SharedIndexInformer {
	infs := s.of(obj)
	want := 1
	if nss := s.namespacesOf(obj); len(nss) > 0 {
		want = len(nss)
	}
	if len(infs) != want {
		return nil
	}
	for _, inf := range infs {
		if !inf.HasSynced() {
			return nil
		}
	}
	return infs
}

// namespacesOf returns the namespaces configured for obj's kind (empty: every namespace).
func (s *stores) namespacesOf(obj runtime.Object) map[string]cache.Config {
	k, _ := key(obj)
	if nss, ok := s.namespaces[k]; ok {
		return nss
	}
	return s.namespaces[nil]
}

// covers reports whether the cache holds obj's kind in namespace ("": in every namespace it
// caches), as the cache's List decides: a multi-namespace cache refuses to list a namespace
// it was not given, and so does Each rather than count nothing.
func (s *stores) covers(obj runtime.Object, namespace string) bool {
	nss := s.namespacesOf(obj)
	if namespace == "" || len(nss) == 0 {
		return true
	}
	_, one := nss[namespace]
	_, all := nss[cache.AllNamespaces]
	return one || all
}

// newStores returns empty stores for a cache built with opts.
func newStores(opts cache.Options) *stores {
	s := &stores{byType: map[reflect.Type][]toolscache.SharedIndexInformer{}, namespaces: map[reflect.Type]map[string]cache.Config{}}
	s.namespaces[nil] = maps.Clone(opts.DefaultNamespaces)
	for obj, by := range opts.ByObject {
		if k, ok := key(obj); ok && len(by.Namespaces) > 0 {
			s.namespaces[k] = maps.Clone(by.Namespaces)
		}
	}
	return s
}

// key is the kind of obj, for typed objects only. Unstructured and metadata-only informers
// are not recorded: their Go type does not name their kind, and Each walks typed objects.
func key(obj runtime.Object) (reflect.Type, bool) {
	switch obj.(type) {
	case runtime.Unstructured, *metav1.PartialObjectMetadata, *metav1.PartialObjectMetadataList:
		return nil, false
	}
	return reflect.TypeOf(obj), true
}

func (s *stores) add(obj runtime.Object, inf toolscache.SharedIndexInformer) {
	k, ok := key(obj)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byType[k] = append(s.byType[k], inf)
}

// of returns the informers recorded for obj's kind.
func (s *stores) of(obj runtime.Object) []toolscache.SharedIndexInformer {
	k, ok := key(obj)
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]toolscache.SharedIndexInformer(nil), s.byType[k]...)
}

// forget drops the informers in removed from obj's kind.
func (s *stores) forget(obj runtime.Object, removed []toolscache.SharedIndexInformer) {
	k, ok := key(obj)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byType[k] = slices.DeleteFunc(s.byType[k], func(inf toolscache.SharedIndexInformer) bool {
		return slices.Contains(removed, inf)
	})
	if len(s.byType[k]) == 0 {
		delete(s.byType, k)
	}
}
