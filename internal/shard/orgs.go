package shard

import (
	"context"
	"fmt"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/index"
)

// Organizations returns a cache of every Organization, whatever the shard, with the
// index.OrgNamespace index, and nothing else. A shard's own cache holds only the
// Organizations its selector picks, so it cannot tell that an Organization of another shard
// names the same namespace: the shared-namespace guard (SCIM's 503, NamespaceShared) reads
// this one. Organizations are few and small; the cache is one more watch per replica.
// opts gives the scheme, mapper and HTTP client of the manager's cache; its per-kind and
// namespace settings are dropped. Run it with mgr.Add(CacheRunnable{c}).
func Organizations(ctx context.Context, cfg *rest.Config, opts cache.Options) (cache.Cache, error) {
	opts.ByObject, opts.DefaultNamespaces, opts.DefaultLabelSelector, opts.DefaultFieldSelector = nil, nil, nil, nil
	c, err := cache.New(cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("creating the cache of every organization: %w", err)
	}
	if err := c.IndexField(ctx, &rosterv1.Organization{}, index.OrgNamespace, index.OrgNamespaceOf); err != nil {
		return nil, fmt.Errorf("indexing every organization: %w", err)
	}
	return c, nil
}

// CacheRunnable runs a cache among the manager's own caches: started before the SCIM server
// and the controllers, which wait for it to sync.
type CacheRunnable struct{ cache.Cache }

// GetCache returns the cache (manager: a runnable with a cache runs with the caches).
func (c CacheRunnable) GetCache() cache.Cache { return c.Cache }
