package shard

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Reader reads from Cache in the shard's namespaces and from API everywhere else. The
// admission webhook uses it: one ValidatingWebhookConfiguration serves every shard, so any
// shard's replica may be asked about any organization's objects, and a namespace its cache
// does not hold answers an error there, not "not found" (which would deny valid writes).
// Outside its organizations a shard reads live: never staler than the cache, so nothing
// slips through that the owning shard would refuse.
type Reader struct {
	Shard *Shard
	Cache client.Reader
	API   client.Reader
}

var _ client.Reader = Reader{}

// Get reads key from the cache when its namespace is the shard's (or it is cluster-scoped).
func (r Reader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if key.Namespace != "" && !r.Shard.Namespaced(key.Namespace) {
		return r.API.Get(ctx, key, obj, opts...)
	}
	return r.Cache.Get(ctx, key, obj, opts...)
}

// List lists from the cache in the shard's namespaces, live in any other namespace or across
// all of them.
func (r Reader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	var lo client.ListOptions
	lo.ApplyOptions(opts)
	if r.Shard != nil && (lo.Namespace == "" || !r.Shard.Namespaced(lo.Namespace)) {
		return r.API.List(ctx, list, opts...)
	}
	return r.Cache.List(ctx, list, opts...)
}
