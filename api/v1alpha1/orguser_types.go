package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The spec field names are the SCIM attribute names (RFC 7643 §4.1), so a SCIM User and an
// OrgUserSpec convert into each other by JSON alone; the enterprise extension lives under
// `enterprise` instead of its URN.

// Name is the components of a user's name (RFC 7643 §4.1.1).
type Name struct {
	// +optional
	Formatted string `json:"formatted,omitempty"`
	// +optional
	FamilyName string `json:"familyName,omitempty"`
	// +optional
	GivenName string `json:"givenName,omitempty"`
	// +optional
	MiddleName string `json:"middleName,omitempty"`
	// +optional
	HonorificPrefix string `json:"honorificPrefix,omitempty"`
	// +optional
	HonorificSuffix string `json:"honorificSuffix,omitempty"`
}

// MultiValued is one value of a multi-valued attribute such as emails or phoneNumbers.
type MultiValued struct {
	// +optional
	Value string `json:"value,omitempty"`
	// +optional
	Display string `json:"display,omitempty"`
	// +optional
	Type string `json:"type,omitempty"`
	// A pointer: a bool with omitempty would store primary: false as absent, and SCIM returns
	// exactly what it stored.

	// Primary is true, false or absent, each kept as sent.
	// +optional
	Primary *bool `json:"primary,omitempty"`
}

// IsPrimary reports whether the value is marked primary.
func (m MultiValued) IsPrimary() bool { return m.Primary != nil && *m.Primary }

// Address is a physical mailing address (RFC 7643 §4.1.2).
type Address struct {
	// +optional
	Formatted string `json:"formatted,omitempty"`
	// +optional
	StreetAddress string `json:"streetAddress,omitempty"`
	// +optional
	Locality string `json:"locality,omitempty"`
	// +optional
	Region string `json:"region,omitempty"`
	// +optional
	PostalCode string `json:"postalCode,omitempty"`
	// +optional
	Country string `json:"country,omitempty"`
	// +optional
	Type string `json:"type,omitempty"`
	// Primary is true, false or absent, each kept as sent.
	// +optional
	Primary *bool `json:"primary,omitempty"`
}

// Manager references a user's manager (enterprise extension).
type Manager struct {
	// Value is the SCIM id of the manager.
	// +optional
	Value string `json:"value,omitempty"`
	// +optional
	Ref string `json:"$ref,omitempty"`
	// +optional
	DisplayName string `json:"displayName,omitempty"`
}

// EnterpriseUser is the enterprise user extension (RFC 7643 §4.3).
type EnterpriseUser struct {
	// +optional
	EmployeeNumber string `json:"employeeNumber,omitempty"`
	// +optional
	CostCenter string `json:"costCenter,omitempty"`
	// +optional
	Organization string `json:"organization,omitempty"`
	// +optional
	Division string `json:"division,omitempty"`
	// +optional
	Department string `json:"department,omitempty"`
	// +optional
	Manager *Manager `json:"manager,omitempty"`
}

// OrgUserSpec is a SCIM User. It never holds a password: the one Okta sends is dropped.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.userName) || self.userName == oldSelf.userName",message="userName is immutable: usernames cannot change once a user exists"
type OrgUserSpec struct {
	// UserName is the unique identifier of the user in the organization (case-insensitive).
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	UserName string `json:"userName"`
	// ExternalID is the identity provider's id of the user.
	// +optional
	ExternalID string `json:"externalId,omitempty"`
	// Active is false for a deactivated user; deactivated users are kept and stay readable.
	// Absent means active. It has no default, so that a SCIM PATCH removing it leaves it
	// absent (SCIM returns what it stored); a SCIM POST without it stores true.
	// +optional
	Active *bool `json:"active,omitempty"`
	// +optional
	Name *Name `json:"name,omitempty"`
	// +optional
	DisplayName string `json:"displayName,omitempty"`
	// +optional
	NickName string `json:"nickName,omitempty"`
	// +optional
	ProfileURL string `json:"profileUrl,omitempty"`
	// +optional
	Title string `json:"title,omitempty"`
	// +optional
	UserType string `json:"userType,omitempty"`
	// +optional
	PreferredLanguage string `json:"preferredLanguage,omitempty"`
	// +optional
	Locale string `json:"locale,omitempty"`
	// +optional
	Timezone string `json:"timezone,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxItems=100
	Emails []MultiValued `json:"emails,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxItems=100
	PhoneNumbers []MultiValued `json:"phoneNumbers,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxItems=100
	Ims []MultiValued `json:"ims,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxItems=100
	Photos []MultiValued `json:"photos,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxItems=100
	Addresses []Address `json:"addresses,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxItems=1000
	Entitlements []MultiValued `json:"entitlements,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxItems=1000
	Roles []MultiValued `json:"roles,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxItems=100
	X509Certificates []MultiValued `json:"x509Certificates,omitempty"`
	// Enterprise holds the attributes of the enterprise user extension.
	// +optional
	Enterprise *EnterpriseUser `json:"enterprise,omitempty"`
	// Extensions holds the values of the organization's custom extension schemas
	// (Organization spec.extensionSchemas), by schema URN.
	// +optional
	Extensions ExtensionValues `json:"extensions,omitempty"`
}

// IsActive reports whether the user is active (the default when unset).
func (s *OrgUserSpec) IsActive() bool { return s.Active == nil || *s.Active }

// PrimaryEmail is the email marked primary, else the first non-empty one, else "". The
// identity store's email column and User-mode role binding subjects both use it.
func (s *OrgUserSpec) PrimaryEmail() string {
	for _, e := range s.Emails {
		if e.IsPrimary() && e.Value != "" {
			return e.Value
		}
	}
	for _, e := range s.Emails {
		if e.Value != "" {
			return e.Value
		}
	}
	return ""
}

// OrgUserStatus is the observed state of an OrgUser.
type OrgUserStatus struct {
	// ObservedGeneration is the generation last written to the identity store.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Synced (in the identity store) and Ready.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// OrgUser is a user of an organization, provisioned by SCIM. Its object name is its SCIM id:
// "u-" and a hash of the lower-cased userName (see internal/naming).
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ou;ousers,categories=roster
// +kubebuilder:printcolumn:name="UserName",type=string,JSONPath=`.spec.userName`
// +kubebuilder:printcolumn:name="Display-Name",type=string,JSONPath=`.spec.displayName`,priority=1
// +kubebuilder:printcolumn:name="Active",type=boolean,JSONPath=`.spec.active`
// +kubebuilder:printcolumn:name="Org",type=string,JSONPath=`.metadata.labels.scim\.roster\.dev/org`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type OrgUser struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   OrgUserSpec   `json:"spec"`
	Status OrgUserStatus `json:"status,omitempty"`
}

// OrgUserList is a list of OrgUsers.
// +kubebuilder:object:root=true
type OrgUserList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []OrgUser `json:"items"`
}

func init() {
	SchemeBuilder.Register(&OrgUser{}, &OrgUserList{})
}
