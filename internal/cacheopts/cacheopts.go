// Package cacheopts edits controller-runtime cache options by kind. Why: cache.Options.ByObject
// is keyed by pointer, so a second entry for a kind does not replace the first, and cache.New
// takes one of the two in random map order (the shard's RoleBinding entry, without its org
// filter and namespaces, once lost about one start in three). Every edit of an entry goes
// through Edit, which keeps one entry per kind.
package cacheopts

import (
	"reflect"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Edit replaces the entries of obj's kind in byObject by one, keyed by obj: the existing
// entry (the last one found, if several) changed by edit.
func Edit(byObject map[client.Object]cache.ByObject, obj client.Object, edit func(*cache.ByObject)) {
	var cfg cache.ByObject
	for k, v := range byObject {
		if sameKind(k, obj) {
			cfg = v
			delete(byObject, k)
		}
	}
	edit(&cfg)
	byObject[obj] = cfg
}

// sameKind reports whether a and b are of one kind: one Go type, and for metadata-only objects
// one GroupVersionKind.
func sameKind(a, b client.Object) bool {
	if reflect.TypeOf(a) != reflect.TypeOf(b) {
		return false
	}
	if _, ok := a.(*metav1.PartialObjectMetadata); ok {
		return a.GetObjectKind().GroupVersionKind() == b.GetObjectKind().GroupVersionKind()
	}
	return true
}
