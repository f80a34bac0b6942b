// Package v1alpha1 contains the API types of Roster: Organization, OrgUser and OrgTeam.
// +kubebuilder:object:generate=true
// +groupName=scim.roster.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of Roster's API.
	GroupVersion = schema.GroupVersion{Group: "scim.roster.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the API types with a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the API types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
