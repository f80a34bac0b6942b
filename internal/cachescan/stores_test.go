package cachescan

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// TestCovers: Each refuses a namespace the cache does not hold, as the cache's List does,
// judged by the namespaces configured for the kind (its ByObject entry, else the defaults).
func TestCovers(t *testing.T) {
	shard := cache.Options{
		DefaultNamespaces: map[string]cache.Config{"acme": {}, "roster-system": {}},
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}:                {Namespaces: map[string]cache.Config{"roster-system": {}}},
			&corev1.ConfigMap{}:             {Namespaces: map[string]cache.Config{cache.AllNamespaces: {}}},
			&metav1.PartialObjectMetadata{}: {Namespaces: map[string]cache.Config{"ignored": {}}},
			&rosterv1.OrgTeamMemberSlice{}:  {}, // no namespaces of its own: the defaults
		},
	}
	for _, tc := range []struct {
		name      string
		opts      cache.Options
		obj       client.Object
		namespace string
		want      bool
	}{
		{"every namespace", cache.Options{}, &rosterv1.OrgUser{}, "anywhere", true},
		{"a shard's namespace", shard, &rosterv1.OrgUser{}, "acme", true},
		{"another shard's namespace", shard, &rosterv1.OrgUser{}, "globex", false},
		{"all of a shard's namespaces", shard, &rosterv1.OrgUser{}, "", true},
		{"a kind's own namespaces", shard, &corev1.Secret{}, "roster-system", true},
		{"outside a kind's own namespaces", shard, &corev1.Secret{}, "acme", false},
		{"a kind cached everywhere", shard, &corev1.ConfigMap{}, "globex", true},
		{"a ByObject entry without namespaces", shard, &rosterv1.OrgTeamMemberSlice{}, "globex", false},
	} {
		if got := newStores(tc.opts).covers(tc.obj, tc.namespace); got != tc.want {
			t.Errorf("%s: covers(%T, %q) = %t, want %t", tc.name, tc.obj, tc.namespace, got, tc.want)
		}
	}
}

// TestSyncedNeedsEveryNamespace: the stores are walked without asking the cache only once
// there is one synced informer per namespace the kind is cached in; RemoveInformer's forget
// drops the removed informers only.
func TestSyncedNeedsEveryNamespace(t *testing.T) {
	s := newStores(cache.Options{DefaultNamespaces: map[string]cache.Config{"acme": {}, "globex": {}}})
	obj := &rosterv1.OrgUser{}
	newInformer := func() toolscache.SharedIndexInformer {
		return toolscache.NewSharedIndexInformer(&toolscache.ListWatch{}, obj, 0, toolscache.Indexers{})
	}
	first, second := newInformer(), newInformer()
	s.add(obj, first)
	if got := s.synced(obj); got != nil {
		t.Fatalf("one informer of two namespaces: synced returned %d informers, want none", len(got))
	}
	s.add(obj, second)
	if got := s.synced(obj); got != nil {
		t.Fatalf("informers that never ran: synced returned %d informers, want none", len(got))
	}
	if got := s.of(obj); len(got) != 2 {
		t.Fatalf("of returned %d informers, want 2", len(got))
	}
	s.add(&metav1.PartialObjectMetadata{}, newInformer())
	if len(s.byType) != 1 {
		t.Fatalf("a metadata-only informer was recorded (%d kinds): its Go type does not name its kind", len(s.byType))
	}
	third := newInformer()
	s.forget(obj, []toolscache.SharedIndexInformer{first})
	s.add(obj, third)
	if got := s.of(obj); len(got) != 2 || got[0] != second || got[1] != third {
		t.Fatalf("after forgetting the first informer, of returned %v, want the second and third", got)
	}
}
