package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TeamLabel names the OrgTeam an OrgTeamMemberSlice belongs to.
const TeamLabel = "scim.roster.dev/team"

// SnapshotOfLabel, instead of TeamLabel, marks an OrgTeamMemberSlice that holds no members:
// it is part of Roster's snapshot of the named team's members, taken when a break-glass edit
// began, which the identity provider's next write restores. SnapshotLabel names the snapshot.
// Only Roster writes them; no member listing, index or count includes them.
const (
	SnapshotOfLabel = "scim.roster.dev/snapshot-of"
	SnapshotLabel   = "scim.roster.dev/snapshot"
)

// IsMemberSnapshot reports whether an OrgTeamMemberSlice is part of a break-glass snapshot
// (SnapshotOfLabel) rather than of its team's members.
func IsMemberSnapshot(o metav1.Object) bool {
	_, ok := o.GetLabels()[SnapshotOfLabel]
	return ok
}

// BreakGlassSliceName is the name of the member slice that Roster creates, empty, when a
// break-glass edit of a team begins: hand edits change existing slices only, and members
// added by hand go here (or into any slice with room).
func BreakGlassSliceName(team string) string { return team + "-break-glass" }

// MaxUnresolvedMembers bounds OrgTeamStatus.UnresolvedMembers so a team's status stays small
// whatever the identity provider sends.
const MaxUnresolvedMembers = 100

// OrgTeamSpec is a SCIM Group. Members are not here: a team can have 100,000 members, and
// etcd rejects objects over ~1.5 MiB, so they live in OrgTeamMemberSlices of bounded size.
type OrgTeamSpec struct {
	// DisplayName is the team's name, unique in the organization (case-insensitive).
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	DisplayName string `json:"displayName"`
	// ExternalID is the identity provider's id of the group.
	// +optional
	ExternalID string `json:"externalId,omitempty"`
	// ManagedBy says who owns the team's memberships: "scim" teams mirror the identity
	// provider's groups and can only be changed through SCIM; "manual" teams are edited by hand.
	// It never changes, with one exception: when SCIM is disabled for the organization
	// (Organization spec.scim: Disabled), Roster turns its SCIM teams manual. The admission
	// webhook lets only Roster make that change, and only while SCIM is disabled.
	// +kubebuilder:validation:Enum=scim;manual
	// +kubebuilder:default=manual
	// +kubebuilder:validation:XValidation:rule="self == oldSelf || (oldSelf == 'scim' && self == 'manual')",message="managedBy is immutable (only Roster turns scim into manual, when SCIM is disabled for the organization)"
	// +optional
	ManagedBy string `json:"managedBy,omitempty"`
	// Extensions holds the values of the organization's custom Group extension schemas
	// (Organization spec.extensionSchemas), by schema URN.
	// +optional
	Extensions ExtensionValues `json:"extensions,omitempty"`
}

// OrgTeamStatus is the observed state of an OrgTeam.
type OrgTeamStatus struct {
	// MemberCount is the number of members across the team's OrgTeamMemberSlices.
	// +optional
	MemberCount int32 `json:"memberCount"`
	// UnresolvedMembers lists the member ids of the last membership change that are not users
	// of the organization, in the order sent (the last 100 at most); they were not added.
	// +optional
	// +kubebuilder:validation:MaxItems=100
	UnresolvedMembers []string `json:"unresolvedMembers,omitempty"`
	// UnresolvedMemberCount counts the unresolved member ids of the last membership change.
	// +optional
	UnresolvedMemberCount int32 `json:"unresolvedMemberCount,omitempty"`
	// ObservedGeneration is the generation last written to the identity store.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// MembersDigest identifies the member set last written to the identity store (SHA-256 of
	// the sorted ids). It tells the controller a membership change made in Kubernetes from one
	// made directly in the store, which it reverts for SCIM-managed teams only.
	// +optional
	MembersDigest string `json:"membersDigest,omitempty"`
	// Conditions: Synced (in the identity store) and Ready.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// OrgTeam is a team of an organization: a SCIM Group (managedBy=scim) or a team created by
// hand (managedBy=manual). Its object name is its SCIM id.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ot;oteams,categories=roster
// +kubebuilder:printcolumn:name="Display-Name",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Members",type=integer,JSONPath=`.status.memberCount`
// +kubebuilder:printcolumn:name="Managed-By",type=string,JSONPath=`.spec.managedBy`
// +kubebuilder:printcolumn:name="Org",type=string,JSONPath=`.metadata.labels.scim\.roster\.dev/org`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type OrgTeam struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   OrgTeamSpec   `json:"spec"`
	Status OrgTeamStatus `json:"status,omitempty"`
}

// OrgTeamList is a list of OrgTeams.
// +kubebuilder:object:root=true
type OrgTeamList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []OrgTeam `json:"items"`
}

// MaxMembersPerSlice bounds an OrgTeamMemberSlice: 2,000 SCIM ids of 36 characters keep a
// slice near 80 KiB, far below etcd's object limit, while a 100,000-member team needs only 50.
const MaxMembersPerSlice = 2000

// OrgTeamMemberSliceSpec holds a bounded piece of a team's members.
type OrgTeamMemberSliceSpec struct {
	// Team is the name of the OrgTeam the members belong to.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="team is immutable"
	Team string `json:"team"`
	// Members are SCIM ids, i.e. object names, of OrgUsers, each listed once: a list of at most
	// 2,000 strings. Roster's admission webhook checks that form, not this schema: checking a
	// typed list item by item was half the apiserver's work on every slice write. Server-side
	// apply treats the list as atomic (per-member field ownership would double every slice's
	// size and the apiserver's work on each write).
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Members MemberList `json:"members,omitempty"`
}

// OrgTeamMemberSlice is a bounded piece of an OrgTeam's membership, as EndpointSlices are of
// a Service's endpoints. A member is in at most one slice of its team.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=otms,categories=roster
// +kubebuilder:printcolumn:name="Team",type=string,JSONPath=`.spec.team`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type OrgTeamMemberSlice struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec OrgTeamMemberSliceSpec `json:"spec"`
}

// OrgTeamMemberSliceList is a list of OrgTeamMemberSlices.
// +kubebuilder:object:root=true
type OrgTeamMemberSliceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []OrgTeamMemberSlice `json:"items"`
}

func init() {
	SchemeBuilder.Register(&OrgTeam{}, &OrgTeamList{}, &OrgTeamMemberSlice{}, &OrgTeamMemberSliceList{})
}
