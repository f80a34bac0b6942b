package shard_test

import (
	"fmt"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/shard"
)

// TestRestrictKeepsOneEntryPerKind: the manager already narrows RoleBindings and
// ClusterRoleBindings to the rendered ones; Restrict must replace those entries, not add a
// second one per kind (ByObject is keyed by pointer, and the cache would pick one of two at
// random: RoleBindings outside the shard's namespaces would then be invisible to it).
func TestRestrictKeepsOneEntryPerKind(t *testing.T) {
	rendered := labels.SelectorFromSet(labels.Set{rosterv1.BindingKindLabel: "x"})
	sel := labels.SelectorFromSet(labels.Set{"roster.dev/shard": "a"})
	opts := cache.Options{ByObject: map[client.Object]cache.ByObject{
		&corev1.Secret{}:             {Label: labels.Everything(), Namespaces: map[string]cache.Config{"roster": {}}},
		&rbacv1.RoleBinding{}:        {Label: rendered},
		&rbacv1.ClusterRoleBinding{}: {Label: rendered},
	}}
	shard.New(sel, map[string]string{"acme": "acme-ns"}).Restrict(&opts, "roster", rendered)

	kinds := map[string]cache.ByObject{}
	for obj, cfg := range opts.ByObject {
		kind := reflect.TypeOf(obj).String() + fmt.Sprint(obj.GetObjectKind().GroupVersionKind())
		if _, dup := kinds[kind]; dup {
			t.Errorf("two cache entries for %s", kind)
		}
		kinds[kind] = cfg
	}
	if len(kinds) != 5 { // Secret, RoleBinding, ClusterRoleBinding, Organization, Role metadata
		t.Errorf("%d kinds in ByObject, want 5: %v", len(kinds), kinds)
	}
	rb, ok := kinds[reflect.TypeOf(&rbacv1.RoleBinding{}).String()+fmt.Sprint((&rbacv1.RoleBinding{}).GroupVersionKind())]
	if !ok {
		t.Fatal("no RoleBinding entry")
	}
	if _, everywhere := rb.Namespaces[cache.AllNamespaces]; !everywhere {
		t.Errorf("RoleBindings cached in %v, want every namespace", rb.Namespaces)
	}
	if rb.Label == nil || !rb.Label.Matches(labels.Set{rosterv1.BindingKindLabel: "x", rosterv1.OrgLabel: "acme"}) ||
		rb.Label.Matches(labels.Set{rosterv1.BindingKindLabel: "x", rosterv1.OrgLabel: "other"}) {
		t.Errorf("RoleBindings selected by %v, want the rendered ones of acme only", rb.Label)
	}
}
