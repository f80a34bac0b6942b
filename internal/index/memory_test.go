package index

import (
	"fmt"
	"runtime"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// TestMemberIndexMemory measures what the member index costs in an informer's indexer, the
// way controller-runtime declares it (every value under its namespace and again under "all
// namespaces") and namespaced only. It reports the figures (docs/benchmarks.md, "Memory")
// and fails if the namespaced-only index is not the smaller one.
func TestMemberIndexMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates tens of MiB")
	}
	const slices, members = 100, 1000 // 100,000 memberships
	build := func(allNamespaces bool) uint64 {
		var objs []*rosterv1.OrgTeamMemberSlice
		for i := range slices {
			s := &rosterv1.OrgTeamMemberSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "org", Name: fmt.Sprintf("slice-%03d", i)}}
			for j := range members {
				s.Spec.Members = append(s.Spec.Members, fmt.Sprintf("u-%032x", i*members+j))
			}
			objs = append(objs, s)
		}
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{"field:" + SliceMember: func(o any) ([]string, error) {
			s := o.(*rosterv1.OrgTeamMemberSlice)
			var out []string
			for _, v := range SliceMembersOf(s) {
				out = append(out, s.Namespace+"/"+v) // controller-runtime's KeyToNamespacedKey
				if allNamespaces {
					out = append(out, "__all_namespaces/"+v)
				}
			}
			return out, nil
		}})
		for _, s := range objs {
			if err := idx.Add(s); err != nil {
				t.Fatal(err)
			}
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(idx)
		runtime.KeepAlive(objs)
		return after.HeapAlloc - before.HeapAlloc
	}
	both, nsOnly := build(true), build(false)
	t.Logf("member index for %d memberships: %.1f MiB as controller-runtime keeps it, %.1f MiB namespaced only (%.0f / %.0f bytes each)",
		slices*members, float64(both)/(1<<20), float64(nsOnly)/(1<<20), float64(both)/(slices*members), float64(nsOnly)/(slices*members))
	if nsOnly >= both {
		t.Errorf("namespaced-only index %d bytes, not less than both keys' %d", nsOnly, both)
	}
}
