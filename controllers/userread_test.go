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
	for _, shape := range cacheShapes(org.Namespace, other.Namespace) {
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

// TestCachedUsersReadTogether: slimuser.Reader.GetEach, which membership.Store.Users calls
// once for every member of a PUT, finds each cached user and no other, in a cache of every
// namespace and in a shard's, and falls back to a reader without stores (a plain client)
// with the same answers. A namespace a shard does not cache is an error, not "no users".
func TestCachedUsersReadTogether(t *testing.T) {
	ctx := context.Background()
	org, other, elsewhere := env.NewOrg(t, "ureach"), env.NewOrg(t, "ureachother"), env.NewOrg(t, "ureachelse")
	createUsers(t, org.Namespace, 0, 3)
	createUsers(t, other.Namespace, 10, 11)
	names := []string{
		naming.UserObjectName("count0@example.com"),
		naming.UserObjectName("count10@example.com"), // in the other org's namespace only
		naming.UserObjectName("count2@example.com"),
		naming.UserObjectName("nobody@example.com"),
		naming.UserObjectName("count1@example.com"),
	}
	want := []string{"count0@example.com", "", "count2@example.com", "", "count1@example.com"}
	read := func(t *testing.T, r client.Reader, namespace string) ([]string, error) {
		got := make([]string, len(names))
		calls := 0
		err := slimuser.Reader{Cache: r}.GetEach(ctx, namespace, names, func(i int, u *slimuser.User) {
			calls++
			if u != nil {
				got[i] = u.UserName()
			}
		})
		if err == nil && calls != len(names) {
			t.Errorf("GetEach called back %d times for %d names", calls, len(names))
		}
		return got, err
	}
	for _, shape := range cacheShapes(org.Namespace, other.Namespace) {
		t.Run(shape.name, func(t *testing.T) {
			c, _ := countCache(t, shape.opts)
			eventually(t, 60*time.Second, func() (bool, string) {
				got, err := read(t, c, org.Namespace)
				return err == nil && fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprintf("GetEach: %q, %v; want %q", got, err, want)
			})
			if shape.name == "shard" {
				if _, err := read(t, c, elsewhere.Namespace); err == nil {
					t.Errorf("GetEach in namespace %s, which the shard does not cache: no error", elsewhere.Namespace)
				}
			}
		})
	}
	t.Run("plain-client", func(t *testing.T) {
		got, err := read(t, env.Client, org.Namespace)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("GetEach through a client: %q, %v; want %q", got, err, want)
		}
	})
}

// cacheShape is a way the manager's cache can be built, for reads tested in each.
type cacheShape struct {
	name string
	opts cache.Options
}

// cacheShapes are a cache of every namespace and a shard's cache of namespaces a and b only.
func cacheShapes(a, b string) []cacheShape {
	return []cacheShape{
		{"every-namespace", cache.Options{}},
		{"shard", cache.Options{DefaultNamespaces: map[string]cache.Config{a: {}, b: {}}}},
	}
}
