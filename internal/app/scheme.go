// Package app assembles Roster's controller-runtime manager: scheme, cache, indexes, the SCIM
// server and the controllers. `roster manager` and `roster dev` both build it here.
package app

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// NewScheme returns a scheme with the Kubernetes built-in types and Roster's API.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := rosterv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}
