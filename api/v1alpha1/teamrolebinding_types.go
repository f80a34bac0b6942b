package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels on the RoleBindings and ClusterRoleBindings that Roster renders from
// TeamRoleBindings and ClusterTeamRoleBindings (beside OrgLabel and TeamLabel). The admission
// webhook keeps every object carrying BindingKindLabel writable by Roster only.
const (
	// BindingLabel names the TeamRoleBinding or ClusterTeamRoleBinding a rendered binding
	// comes from; BindingKindLabel says which of the two kinds.
	BindingLabel     = "scim.roster.dev/binding"
	BindingKindLabel = "scim.roster.dev/binding-kind"
	// BindingUIDLabel is the UID of the TeamRoleBinding or ClusterTeamRoleBinding a rendered
	// binding comes from: the one label that names it uniquely (bindings of the same name
	// in two organizations' namespaces, or one deleted and created again, differ here), so
	// the controller finds what it rendered without its organization, which may be gone.
	BindingUIDLabel = "scim.roster.dev/binding-uid"
	// ManagedByLabel is the well-known app.kubernetes.io label; rendered bindings carry
	// ManagedByRoster.
	ManagedByLabel  = "app.kubernetes.io/managed-by"
	ManagedByRoster = "roster"
)

// The kinds a rendered binding's BindingKindLabel names.
const (
	KindTeamRoleBinding        = "TeamRoleBinding"
	KindClusterTeamRoleBinding = "ClusterTeamRoleBinding"
)

// MaxSubjectsPerBinding bounds the subjects of one rendered binding: a team of 100,000 active
// members in User mode is split over 100 RoleBindings of ~60 KiB each, not one of 6 MiB that
// etcd would refuse.
const MaxSubjectsPerBinding = 1000

// TeamRef names an OrgTeam of the organization, by display name or by id (one of the two).
// +kubebuilder:validation:XValidation:rule="has(self.displayName) != has(self.id)",message="name the team by exactly one of displayName and id"
type TeamRef struct {
	// DisplayName is the team's display name (compared case-insensitively, as SCIM does).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +optional
	DisplayName string `json:"displayName,omitempty"`
	// ID is the team's SCIM id, i.e. its OrgTeam object name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ID string `json:"id,omitempty"`
}

// RoleRef names the Role or ClusterRole the team is bound to. The organization's
// spec.access.allowedRoles must list it.
type RoleRef struct {
	// Kind is Role (a Role of that name in each target namespace) or ClusterRole.
	// +kubebuilder:validation:Enum=Role;ClusterRole
	Kind string `json:"kind"`
	// Name of the Role or ClusterRole.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// NamespaceSelection picks the namespaces a binding applies to: a list of names or a label
// selector (one of the two). A namespace that gains the selector's labels gets the binding,
// one that loses them loses it.
// +kubebuilder:validation:XValidation:rule="has(self.names) != has(self.selector)",message="give exactly one of names and selector"
type NamespaceSelection struct {
	// Names of namespaces. Namespaces that do not exist (yet) are skipped, and bound when
	// they are created.
	// +kubebuilder:validation:MaxItems=256
	// +listType=set
	// +optional
	Names []string `json:"names,omitempty"`
	// Selector selects namespaces by label.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// TeamRoleBindingSpec binds an OrgTeam's people to a Role or ClusterRole.
type TeamRoleBindingSpec struct {
	// Team is the OrgTeam whose people are bound.
	Team TeamRef `json:"team"`
	// RoleRef is the Role or ClusterRole they are bound to.
	RoleRef RoleRef `json:"roleRef"`
	// Namespaces the RoleBindings are rendered in. Empty: the TeamRoleBinding's own namespace
	// (for a ClusterTeamRoleBinding of a ClusterRole: one ClusterRoleBinding instead).
	// +optional
	Namespaces *NamespaceSelection `json:"namespaces,omitempty"`
}

// RenderedObject names a RoleBinding or ClusterRoleBinding that Roster rendered.
type RenderedObject struct {
	// Kind is RoleBinding or ClusterRoleBinding.
	Kind string `json:"kind"`
	// Namespace of a RoleBinding (empty for a ClusterRoleBinding).
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Name of the object.
	Name string `json:"name"`
}

// MaxRenderedInStatus bounds status.rendered; status.renderedCount counts them all.
const MaxRenderedInStatus = 200

// TeamRoleBindingStatus is the observed state of a TeamRoleBinding or
// ClusterTeamRoleBinding.
type TeamRoleBindingStatus struct {
	// ObservedGeneration is the generation last rendered successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready says whether the rendered bindings match the team now; its reason
	// says why not (TeamNotFound, RoleNotFound, RoleNotAllowed, RoleNotBindable,
	// OrganizationNotFound, APIError).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Team is the display name of the team the binding resolved to.
	// +optional
	Team string `json:"team,omitempty"`
	// Namespaces says where the bindings are, for kubectl get: the namespace names, their
	// count, or "(cluster)" for a ClusterRoleBinding.
	// +optional
	Namespaces string `json:"namespaces,omitempty"`
	// Subjects is the number of subjects bound: 1 in Group mode, the team's active members
	// in User mode.
	// +optional
	Subjects int32 `json:"subjects"`
	// Rendered lists the RoleBindings and ClusterRoleBindings Roster keeps for this binding
	// (the first 200; RenderedCount counts them all).
	// +kubebuilder:validation:MaxItems=200
	// +optional
	Rendered []RenderedObject `json:"rendered,omitempty"`
	// RenderedCount is the number of rendered objects.
	// +optional
	RenderedCount int32 `json:"renderedCount,omitempty"`
}

// TeamRoleBinding grants the people of an OrgTeam a Role or ClusterRole in namespaces: Roster
// renders RoleBindings (owned by it, labelled scim.roster.dev/binding=<name>) and keeps them
// exact as the team's members change. It lives in its organization's namespace.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=trb;trbs,categories=roster
// +kubebuilder:printcolumn:name="Team",type=string,JSONPath=`.status.team`
// +kubebuilder:printcolumn:name="Role",type=string,JSONPath=`.spec.roleRef.name`
// +kubebuilder:printcolumn:name="Namespaces",type=string,JSONPath=`.status.namespaces`
// +kubebuilder:printcolumn:name="Subjects",type=integer,JSONPath=`.status.subjects`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TeamRoleBinding struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   TeamRoleBindingSpec   `json:"spec"`
	Status TeamRoleBindingStatus `json:"status,omitempty"`
}

// TeamRoleBindingList is a list of TeamRoleBindings.
// +kubebuilder:object:root=true
type TeamRoleBindingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TeamRoleBinding `json:"items"`
}

// ClusterTeamRoleBindingSpec is a TeamRoleBindingSpec that names its organization.
// +kubebuilder:validation:XValidation:rule="self.roleRef.kind == 'ClusterRole' || has(self.namespaces)",message="a Role exists in namespaces only: give namespaces, or bind a ClusterRole"
type ClusterTeamRoleBindingSpec struct {
	// Organization the team belongs to.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="organization is immutable"
	Organization string `json:"organization"`
	// Team is the OrgTeam, in the organization's namespace, whose people are bound.
	Team TeamRef `json:"team"`
	// RoleRef is the Role or ClusterRole they are bound to.
	RoleRef RoleRef `json:"roleRef"`
	// Namespaces the RoleBindings are rendered in. Empty, with a ClusterRole: one
	// ClusterRoleBinding, i.e. the role in every namespace.
	// +optional
	Namespaces *NamespaceSelection `json:"namespaces,omitempty"`
}

// ClusterTeamRoleBinding is the cluster-scoped TeamRoleBinding: it binds a team of a named
// organization in namespaces outside the organization's own, or cluster-wide through a
// ClusterRoleBinding.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=ctrb;ctrbs,categories=roster
// +kubebuilder:printcolumn:name="Org",type=string,JSONPath=`.spec.organization`
// +kubebuilder:printcolumn:name="Team",type=string,JSONPath=`.status.team`
// +kubebuilder:printcolumn:name="Role",type=string,JSONPath=`.spec.roleRef.name`
// +kubebuilder:printcolumn:name="Namespaces",type=string,JSONPath=`.status.namespaces`
// +kubebuilder:printcolumn:name="Subjects",type=integer,JSONPath=`.status.subjects`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterTeamRoleBinding struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ClusterTeamRoleBindingSpec `json:"spec"`
	Status TeamRoleBindingStatus      `json:"status,omitempty"`
}

// ClusterTeamRoleBindingList is a list of ClusterTeamRoleBindings.
// +kubebuilder:object:root=true
type ClusterTeamRoleBindingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterTeamRoleBinding `json:"items"`
}

func init() {
	SchemeBuilder.Register(&TeamRoleBinding{}, &TeamRoleBindingList{}, &ClusterTeamRoleBinding{}, &ClusterTeamRoleBindingList{})
}
