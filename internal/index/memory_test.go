package index

import (
	"fmt"
	"runtime"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/order"
	"github.com/rosterhq/roster/internal/slimuser"
)

// heapOf returns the live heap that build's result holds: measured after a GC, before and
// after build, with the result kept alive until the second measurement.
func heapOf(build func() any) int64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	keep := build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	return int64(after.HeapAlloc) - int64(before.HeapAlloc)
}

// bothKeys is how controller-runtime's IndexField keys a namespaced object's values: under its
// namespace and again under "all namespaces". Kept here to measure what Namespaced saves.
func bothKeys(extract client.IndexerFunc) cache.IndexFunc {
	return func(o any) ([]string, error) {
		obj := o.(client.Object)
		var out []string
		for _, v := range extract(obj) {
			out = append(out, obj.GetNamespace()+"/"+v, "__all_namespaces/"+v)
		}
		return out, nil
	}
}

// indexed returns an indexer holding objs with the given indexes.
func indexed[T client.Object](t testing.TB, objs []T, indexers cache.Indexers) cache.Indexer {
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, indexers)
	for _, o := range objs {
		if err := idx.Add(o); err != nil {
			t.Fatal(err)
		}
	}
	return idx
}

// TestMemberIndexMemory measures what the member index costs in an informer's indexer, the
// way controller-runtime declares it (every value under its namespace and again under "all
// namespaces") and as Register declares it (Namespaced). It reports the figures
// (docs/benchmarks.md, "Memory") and fails if the namespaced-only index is not the smaller one.
func TestMemberIndexMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates tens of MiB")
	}
	const slices, members = 100, 1000 // 100,000 memberships
	var objs []*rosterv1.OrgTeamMemberSlice
	for i := range slices {
		s := &rosterv1.OrgTeamMemberSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "org", Name: fmt.Sprintf("slice-%03d", i)}}
		for j := range members {
			s.Spec.Members = append(s.Spec.Members, fmt.Sprintf("u-%032x", i*members+j))
		}
		objs = append(objs, s)
	}
	bare := heapOf(func() any { return indexed(t, objs, cache.Indexers{}) })
	both := heapOf(func() any {
		return indexed(t, objs, cache.Indexers{IndexName(SliceMember): bothKeys(SliceMembersOf)})
	}) - bare
	nsOnly := heapOf(func() any {
		return indexed(t, objs, cache.Indexers{IndexName(SliceMember): Namespaced(SliceMembersOf)})
	}) - bare
	t.Logf("member index for %d memberships: %.1f MiB as controller-runtime keeps it, %.1f MiB namespaced only (%.0f / %.0f bytes each)",
		slices*members, float64(both)/(1<<20), float64(nsOnly)/(1<<20), float64(both)/(slices*members), float64(nsOnly)/(slices*members))
	if nsOnly >= both*3/4 {
		t.Errorf("namespaced-only index %d bytes, not a clear saving on both keys' %d", nsOnly, both)
	}
}

// TestUserIndexMemory measures what finding users by userName, externalId and email costs per
// user: before, three cache indexes as controller-runtime keeps them (the extractors Roster
// registered then); now, the ordered index's email map (userName and externalId are ranges of
// orders it keeps anyway). It reports both (docs/benchmarks.md, "Memory") and fails unless the
// email map costs less than a tenth of the indexes it replaces.
func TestUserIndexMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates tens of MiB")
	}
	const n = 20000
	users := make([]*rosterv1.OrgUser, n)
	bare := make([]*rosterv1.OrgUser, n) // the same users without emails
	for i := range users {
		u := &rosterv1.OrgUser{ObjectMeta: metav1.ObjectMeta{Namespace: "org", Name: fmt.Sprintf("u-%032x", i)}}
		u.Spec.UserName = fmt.Sprintf("User%06d@Example.com", i)
		u.Spec.ExternalID = fmt.Sprintf("00u%017d", i)
		u.Spec.Emails = []rosterv1.MultiValued{{Value: u.Spec.UserName, Type: "work"}}
		users[i] = u
		b := u.DeepCopy()
		b.Spec.Emails = nil
		bare[i] = b
	}
	userName := func(o client.Object) []string { return []string{naming.Fold(o.(*rosterv1.OrgUser).Spec.UserName)} }
	externalID := func(o client.Object) []string { return nonEmpty(o.(*rosterv1.OrgUser).Spec.ExternalID) }
	email := func(o client.Object) []string {
		var out []string
		for _, e := range o.(*rosterv1.OrgUser).Spec.Emails {
			out = append(out, naming.Fold(e.Value))
		}
		return out
	}
	store := heapOf(func() any { return indexed(t, users, cache.Indexers{}) })
	before := heapOf(func() any {
		return indexed(t, users, cache.Indexers{
			"field:scim.userName": bothKeys(userName), "field:scim.externalId": bothKeys(externalID), "field:scim.emailValue": bothKeys(email),
		})
	}) - store
	list := func(us []*rosterv1.OrgUser) func() any {
		return func() any {
			l := order.NewList(order.UserName, order.DisplayName, order.ExternalID)
			for _, u := range us {
				l.Put(order.UserEntry(slimuser.New(u)))
			}
			return l
		}
	}
	now := heapOf(list(users)) - heapOf(list(bare))
	t.Logf("user lookups for %d users (userName, externalId, one email): %.0f bytes per user in three cache indexes, %.0f bytes per user in the ordered index's email map",
		n, float64(before)/n, float64(now)/n)
	if now*10 >= before {
		t.Errorf("email map %d bytes, not a tenth of the cache indexes' %d", now, before)
	}
}
