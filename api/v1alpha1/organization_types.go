package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// OrganizationSpec is the desired state of an Organization.
type OrganizationSpec struct {
	// Namespace holds the organization's OrgUsers and OrgTeams. One namespace
	// per organization keeps RBAC and uniqueness per org simple.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="namespace is immutable; create a new Organization instead"
	Namespace string `json:"namespace"`

	// TokenSecretName is where earlier installs kept the token hash: a Secret of this name
	// in Namespace. Deprecated: token Secrets now live in Roster's own namespace, out of the
	// tenants' reach (scim-token-<organization>); only `roster token migrate` reads this, to
	// move an old Secret there.
	// +kubebuilder:default=scim-token
	// +optional
	TokenSecretName string `json:"tokenSecretName,omitempty"`

	// DisplayName is a human-readable name of the organization.
	// +optional
	DisplayName string `json:"displayName,omitempty"`

	// SCIM switches the organization's SCIM endpoint. Enabled (the default): the identity
	// provider provisions users and teams through /scim/v2/<name>. Disabled, e.g. while the
	// identity provider integration is being removed: every request there is answered 403,
	// and Roster turns the organization's SCIM-managed teams into manual teams
	// (spec.managedBy: manual, recorded in an event on each) so they can be edited by hand.
	// OrgUsers stay read-only. Enabling SCIM again does not turn those teams back: they stay
	// manual, and the identity provider may create new teams.
	// +kubebuilder:default=Enabled
	// +optional
	SCIM SCIMState `json:"scim,omitempty"`
	// UserNameChanges says what a SCIM request that changes a user's userName gets (usernames
	// are immutable in Roster). Reject (the default): the whole request is refused with 400
	// mutability — including the other changes it carries, such as a deactivation. Ignore:
	// everything else in the request is applied and the userName is kept; a Warning event on
	// the OrgUser records it. Either way it is counted in roster_scim_username_changes_refused_total.
	// Entra sends userName changes together with active: false in one PATCH; map userName
	// "Only during object creation" (Entra) / "Create only" (Okta) so that none are sent.
	// +kubebuilder:default=Reject
	// +optional
	UserNameChanges UserNameChangePolicy `json:"userNameChanges,omitempty"`

	// Access says how the organization's teams become Kubernetes RBAC subjects in the
	// bindings rendered from TeamRoleBindings and ClusterTeamRoleBindings (docs/access.md).
	// Unset: Group subjects without a prefix, and no role may be bound.
	// +optional
	Access *AccessSpec `json:"access,omitempty"`

	// ExtensionSchemas declares the organization's custom SCIM extension schemas for users
	// and groups (docs/okta.md, docs/entra.md: "Custom attributes"). Their attributes are
	// accepted, type-checked, returned, filtered and sorted like core ones, listed in the
	// org's /Schemas and /ResourceTypes, stored on the OrgUser/OrgTeam under
	// spec.extensions[urn] and carried into the identity store. Removing an attribute (or a
	// schema) later keeps the values already stored; they are no longer returned.
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:XValidation:rule="self.all(a, self.exists_one(b, b.urn.lowerAscii() == a.urn.lowerAscii()))",message="extension schema URNs must be unique, compared case-insensitively"
	// +listType=map
	// +listMapKey=urn
	// +optional
	ExtensionSchemas []ExtensionSchema `json:"extensionSchemas,omitempty"`
}

// UserNameChangePolicy is what a request that changes a userName gets.
// +kubebuilder:validation:Enum=Reject;Ignore
type UserNameChangePolicy string

// The values of OrganizationSpec.UserNameChanges.
const (
	// UserNameChangesReject refuses the whole request with 400 mutability.
	UserNameChangesReject UserNameChangePolicy = "Reject"
	// UserNameChangesIgnore applies the rest of the request and keeps the userName.
	UserNameChangesIgnore UserNameChangePolicy = "Ignore"
)

// IgnoresUserNameChanges reports whether userName changes are dropped rather than refused
// (unset, as on an object written before the field existed, is Reject).
func (o *Organization) IgnoresUserNameChanges() bool {
	return o.Spec.UserNameChanges == UserNameChangesIgnore
}

// SubjectMode is how a team appears in the rendered bindings.
// +kubebuilder:validation:Enum=Group;User
type SubjectMode string

// The values of AccessSpec.Subjects.
const (
	// SubjectsGroup: one Group subject per team, for clusters whose authenticator puts the
	// identity provider's groups into the token (OIDC groups claim).
	SubjectsGroup SubjectMode = "Group"
	// SubjectsUser: one User subject per active member of the team.
	SubjectsUser SubjectMode = "User"
)

// UserClaim is what a User subject's name is made of.
// +kubebuilder:validation:Enum=userName;email
type UserClaim string

// The values of AccessSpec.UserClaim.
const (
	UserClaimUserName UserClaim = "userName"
	UserClaimEmail    UserClaim = "email"
)

// AccessSpec configures how the organization's teams are bound to roles.
type AccessSpec struct {
	// Subjects: Group (default) or User.
	// +kubebuilder:default=Group
	// +optional
	Subjects SubjectMode `json:"subjects,omitempty"`
	// GroupPrefix, in Group mode, goes before the team's display name to make the group's
	// name as the API server sees it (its --oidc-groups-prefix, e.g. "oidc:").
	// It may not start with "system:": those groups are Kubernetes' own.
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('system:')",message="groupPrefix may not start with system: (Kubernetes' own groups)"
	// +optional
	GroupPrefix string `json:"groupPrefix,omitempty"`
	// UserPrefix, in User mode, goes before each member's userName or email to make the
	// user's name as the API server sees it (its --oidc-username-prefix, e.g. "oidc:").
	// It may not start with "system:": those users are Kubernetes' own.
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('system:')",message="userPrefix may not start with system: (Kubernetes' own users)"
	// +optional
	UserPrefix string `json:"userPrefix,omitempty"`
	// UserClaim, in User mode: userName (default) or email (the user's primary email, else
	// its first one; users without an email are left out).
	// +kubebuilder:default=userName
	// +optional
	UserClaim UserClaim `json:"userClaim,omitempty"`
	// AllowedRoles are the roles the organization's teams may be bound to. Empty: none. A
	// TeamRoleBinding of any other role renders nothing (Ready=False, RoleNotAllowed).
	// Roster binds a role only if its install grants it the bind verb on that role too
	// (docs/access.md, "What the install grants").
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	AllowedRoles []RoleRef `json:"allowedRoles,omitempty"`
}

// Allows reports whether the access settings let a team be bound to ref.
func (a *AccessSpec) Allows(ref RoleRef) bool {
	if a == nil {
		return false
	}
	for _, r := range a.AllowedRoles {
		if r == ref {
			return true
		}
	}
	return false
}

// SCIMState is whether an organization's SCIM endpoint serves its identity provider.
// +kubebuilder:validation:Enum=Enabled;Disabled
type SCIMState string

// The values of OrganizationSpec.SCIM.
const (
	SCIMEnabled  SCIMState = "Enabled"
	SCIMDisabled SCIMState = "Disabled"
)

// SCIMDisabled reports whether the organization's SCIM endpoint is switched off. An empty
// spec.scim (an object written before the field existed) is Enabled.
func (o *Organization) SCIMDisabled() bool { return o.Spec.SCIM == SCIMDisabled }

// OrganizationStatus is the observed state of an Organization.
type OrganizationStatus struct {
	// Users is the number of OrgUsers of the organization.
	// +optional
	Users int32 `json:"users"`
	// ActiveUsers is the number of OrgUsers with active=true.
	// +optional
	ActiveUsers int32 `json:"activeUsers"`
	// Teams is the number of OrgTeams of the organization.
	// +optional
	Teams int32 `json:"teams"`
	// TokenRotatedAt is when the SCIM token was last generated.
	// +optional
	TokenRotatedAt *metav1.Time `json:"tokenRotatedAt,omitempty"`
	// LastRequestTime is when a replica last served an authenticated SCIM request of the
	// organization (reads included), recorded at most once a minute: it tells whether the
	// identity provider still calls.
	// +optional
	LastRequestTime *metav1.Time `json:"lastRequestTime,omitempty"`
	// ObservedGeneration is the generation the status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions describe the organization's state (Ready, TokenConfigured, Synced).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Organization is a tenant of Roster: one SCIM base URL /scim/v2/<name>, one token, one
// namespace of users and teams. The object name is the organization's login name.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=org;orgs,categories=roster
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=`.spec.namespace`
// +kubebuilder:printcolumn:name="SCIM",type=string,JSONPath=`.spec.scim`
// +kubebuilder:printcolumn:name="Users",type=integer,JSONPath=`.status.users`
// +kubebuilder:printcolumn:name="Teams",type=integer,JSONPath=`.status.teams`
// +kubebuilder:printcolumn:name="Token-Rotated",type=date,JSONPath=`.status.tokenRotatedAt`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63",message="organization name must be at most 63 characters"
type Organization struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   OrganizationSpec   `json:"spec"`
	Status OrganizationStatus `json:"status,omitempty"`
}

// OrganizationList is a list of Organizations.
// +kubebuilder:object:root=true
type OrganizationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Organization `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Organization{}, &OrganizationList{})
}
