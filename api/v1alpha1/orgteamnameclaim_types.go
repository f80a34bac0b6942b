package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// OrgTeamNameClaimSpec says which team holds a display name.
type OrgTeamNameClaimSpec struct {
	// Team is the name of the OrgTeam that holds the display name. It may not exist yet (a
	// create in flight) or any more (a claim left behind, taken over once stale).
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Team string `json:"team"`
	// DisplayName is the display name as the identity provider sent it when the team took the
	// claim. The object's name is derived from it folded to lower case, so one claim covers
	// every spelling that differs only in case.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	DisplayName string `json:"displayName"`
	// AcquireTime is when Team took the claim. A claim whose team no longer holds the name is
	// taken over only once it is older than a grace period (30 s), so a create or rename in
	// flight on another replica is never stolen.
	// +kubebuilder:validation:Required
	AcquireTime metav1.MicroTime `json:"acquireTime"`
}

// OrgTeamNameClaim reserves a display name for one SCIM-managed team of an organization: the
// apiserver lets only one object of a name exist, so two replicas creating or renaming teams
// at once cannot both take a name. Its object name is "team-name-" followed by 128 bits of
// SHA-256 of the lower-cased display name. Only Roster's SCIM server writes claims (the
// admission webhook refuses everyone else); they carry the org and team labels.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=otnc,categories=roster
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^team-name-[0-9a-f]{32}$')",message="the name of a claim is team-name- and 32 lower-case hex digits, derived from the display name; claims are written by Roster's SCIM server"
// +kubebuilder:printcolumn:name="Display-Name",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Team",type=string,JSONPath=`.spec.team`
// +kubebuilder:printcolumn:name="Org",type=string,JSONPath=`.metadata.labels.scim\.roster\.dev/org`
// +kubebuilder:printcolumn:name="Acquired",type=date,JSONPath=`.spec.acquireTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`,priority=1
type OrgTeamNameClaim struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec OrgTeamNameClaimSpec `json:"spec"`
}

// OrgTeamNameClaimList is a list of OrgTeamNameClaims.
// +kubebuilder:object:root=true
type OrgTeamNameClaimList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []OrgTeamNameClaim `json:"items"`
}

func init() {
	SchemeBuilder.Register(&OrgTeamNameClaim{}, &OrgTeamNameClaimList{})
}
