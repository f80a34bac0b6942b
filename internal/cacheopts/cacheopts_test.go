package cacheopts

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

func TestEditKeepsOneEntryPerKind(t *testing.T) {
	meta := func(kind string) *metav1.PartialObjectMetadata {
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: kind})
		return m
	}
	by := map[client.Object]cache.ByObject{
		&rosterv1.OrgUser{}: {Namespaces: map[string]cache.Config{"a": {}}},
		&rosterv1.OrgTeam{}: {UnsafeDisableDeepCopy: new(bool)},
		meta("Role"):        {Label: nil},
		meta("RoleBinding"): {Namespaces: map[string]cache.Config{"b": {}}},
	}
	user := &rosterv1.OrgUser{}
	Edit(by, user, func(c *cache.ByObject) { c.Transform = func(o any) (any, error) { return o, nil } })
	Edit(by, meta("RoleBinding"), func(c *cache.ByObject) { c.Namespaces["c"] = cache.Config{} })
	if len(by) != 4 {
		t.Fatalf("%d entries, want 4 (one per kind)", len(by))
	}
	cfg, ok := by[user]
	if !ok || cfg.Transform == nil || len(cfg.Namespaces) != 1 {
		t.Fatalf("the OrgUser entry lost its settings or its transform: %+v", cfg)
	}
	var bindings, roles int
	for k, v := range by {
		switch k.GetObjectKind().GroupVersionKind().Kind {
		case "RoleBinding":
			bindings++
			if len(v.Namespaces) != 2 {
				t.Fatalf("RoleBinding namespaces %v, want b and c", v.Namespaces)
			}
		case "Role":
			roles++
		}
	}
	if bindings != 1 || roles != 1 {
		t.Fatalf("metadata kinds: %d RoleBinding, %d Role entries, want one each", bindings, roles)
	}
}
