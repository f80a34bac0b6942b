package controllers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/cachescan"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/slimuser"
)

// TestCachedUserReadAllocatesNoKind: slimuser.Reader.Get, which membership.Store.Users and
// the team and access reconcilers call once per member id (100,000 on a large team's PUT),
// allocates nothing beyond the store lookup it wraps: it names the kind without a new
// OrgUser per call. In a real cache of every namespace and in a shard's.
func TestCachedUserReadAllocatesNoKind(t *testing.T) {
	ctx := context.Background()
	org, other := env.NewOrg(t, "uread"), env.NewOrg(t, "ureadother")
	createUsers(t, org.Namespace, 0, 1)
	key := client.ObjectKey{Namespace: org.Namespace, Name: naming.UserObjectName("count0@example.com")}
	kind := &rosterv1.OrgUser{} // the lookup's own cost is measured with one kind value
	for _, shape := range []struct {
		name string
		opts cache.Options
	}{
		{"every-namespace", cache.Options{}},
		{"shard", cache.Options{DefaultNamespaces: map[string]cache.Config{org.Namespace: {}, other.Namespace: {}}}},
	} {
		t.Run(shape.name, func(t *testing.T) {
			c, _ := countCache(t, shape.opts)
			r := slimuser.Reader{Cache: c}
			eventually(t, 60*time.Second, func() (bool, string) {
				u, err := r.Get(ctx, key)
				return err == nil && u.UserName() == "count0@example.com", fmt.Sprintf("reading the user: %v", err)
			})
			lookup := testing.AllocsPerRun(200, func() {
				if _, exists, walked, err := cachescan.GetStored(ctx, c, kind, key); !exists || !walked || err != nil {
					t.Fatalf("GetStored: exists %v, walked %v, %v", exists, walked, err)
				}
			})
			get := testing.AllocsPerRun(200, func() {
				if _, err := r.Get(ctx, key); err != nil {
					t.Fatal(err)
				}
			})
			if get > lookup {
				t.Errorf("Reader.Get: %.0f allocations, the store lookup it wraps %.0f", get, lookup)
			}
		})
	}
}
