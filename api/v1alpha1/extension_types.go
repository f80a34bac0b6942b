package v1alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// Bounds of an Organization's extension schema declarations: an Organization stays a small
// object (a few tens of KiB at most) and every SCIM request of the org builds its schema set
// from it.
const (
	MaxExtensionSchemas       = 8
	MaxExtensionAttributes    = 32
	MaxExtensionSubAttributes = 16
)

// ExtensionResourceType is the SCIM resource type an extension schema extends.
// +kubebuilder:validation:Enum=User;Group
type ExtensionResourceType string

// The values of ExtensionSchema.ResourceType.
const (
	ExtensionForUser  ExtensionResourceType = "User"
	ExtensionForGroup ExtensionResourceType = "Group"
)

// ExtensionSchema declares a custom SCIM extension schema (RFC 7643 §3.3, §7) of an
// organization, such as the one an Okta admin maps custom attributes to
// ("urn:ietf:params:scim:schemas:extension:acme:2.0:User"). Values are stored on the OrgUser
// (OrgTeam) under spec.extensions[urn].
// +kubebuilder:validation:XValidation:rule="!(self.urn.lowerAscii() in ['urn:ietf:params:scim:schemas:core:2.0:user', 'urn:ietf:params:scim:schemas:core:2.0:group', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:user'])",message="urn is a schema Roster defines itself (core User, core Group, enterprise User): choose your own URN, e.g. urn:ietf:params:scim:schemas:extension:<company>:2.0:User"
// +kubebuilder:validation:XValidation:rule="self.attributes.all(a, self.attributes.exists_one(b, b.name.lowerAscii() == a.name.lowerAscii()))",message="attribute names must be unique, compared case-insensitively (SCIM attribute names are case-insensitive)"
type ExtensionSchema struct {
	// URN is the schema's id, the key of its object in SCIM documents and the prefix of its
	// attribute paths ("<urn>:costCenter"). It starts with "urn:" and its parts hold letters,
	// digits, '.', '_' and '-' only: filters and PATCH paths embed it unquoted, and Roster
	// tells the URN from the attribute name by the last colon (RFC 7644 §3.10).
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=8
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[uU][rR][nN]:[A-Za-z0-9][A-Za-z0-9-]{0,31}(:[A-Za-z0-9._-]+)+$`
	URN string `json:"urn"`
	// ResourceType is the resource type the schema extends: User or Group.
	// +kubebuilder:validation:Required
	ResourceType ExtensionResourceType `json:"resourceType"`
	// Name is the schema's human-readable name, served by /Schemas.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Name string `json:"name,omitempty"`
	// Description is served by /Schemas.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Description string `json:"description,omitempty"`
	// Required: every resource of the type must carry the extension (its required
	// attributes), as /ResourceTypes then says (schemaExtensions[].required).
	// +optional
	Required bool `json:"required,omitempty"`
	// Attributes of the schema.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=name
	Attributes []ExtensionAttribute `json:"attributes"`
}

// ExtensionAttributeCommon is what an attribute and a sub-attribute of an extension schema
// declare (RFC 7643 §7).
// +kubebuilder:validation:XValidation:rule="!has(self.uniqueness) || self.uniqueness == 'none'",message="uniqueness server or global is not enforced for custom attributes (two replicas cannot check it without a claim object per value); declare none and enforce uniqueness in the identity provider"
// +kubebuilder:validation:XValidation:rule="!has(self.canonicalValues) || self.type in ['string', 'reference']",message="canonicalValues are allowed for string and reference attributes only"
// +kubebuilder:validation:XValidation:rule="!has(self.referenceTypes) || self.type == 'reference'",message="referenceTypes are allowed for reference attributes only"
// +kubebuilder:validation:XValidation:rule="!has(self.mutability) || self.mutability != 'writeOnly' || (has(self.returned) && self.returned == 'never')",message="a writeOnly attribute must be returned: never (RFC 7643 §7)"
type ExtensionAttributeCommon struct {
	// Name is the attribute name (RFC 7643 §2.1: a letter, then letters, digits, '-' or '_').
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9_-]*$`
	Name string `json:"name"`
	// Type is the data type. A complex attribute has subAttributes (one level: its
	// sub-attributes are not complex, as RFC 7643 §2.3.8 requires).
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:Enum=string;boolean;integer;decimal;dateTime;reference;complex
	Type string `json:"type"`
	// MultiValued: the value is an array.
	// +optional
	MultiValued bool `json:"multiValued,omitempty"`
	// Required: a POST or PUT without a value is 400 invalidValue.
	// +optional
	Required bool `json:"required,omitempty"`
	// CaseExact: filters and sorting compare the value case-sensitively.
	// +optional
	CaseExact bool `json:"caseExact,omitempty"`
	// Mutability (RFC 7643 §7): readWrite (default); immutable (may be set while it has no
	// value; then a PUT or PATCH that changes or drops it is 400 mutability, so a PUT must
	// repeat it); readOnly (clients' values are ignored on POST/PUT, a PATCH changing it is 400
	// mutability); writeOnly (stored and carried into the identity store, never returned).
	// +kubebuilder:validation:Enum=readOnly;readWrite;immutable;writeOnly
	// +kubebuilder:default=readWrite
	// +optional
	Mutability string `json:"mutability,omitempty"`
	// Returned (RFC 7643 §7): default (returned unless excluded), always, request (only when
	// named in attributes=), never.
	// +kubebuilder:validation:Enum=always;never;default;request
	// +kubebuilder:default=default
	// +optional
	Returned string `json:"returned,omitempty"`
	// Uniqueness: only none. server and global are refused with a message: Roster does not
	// enforce uniqueness of custom attribute values.
	// +kubebuilder:validation:Enum=none;server;global
	// +kubebuilder:default=none
	// +optional
	Uniqueness string `json:"uniqueness,omitempty"`
	// Description is served by /Schemas.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Description string `json:"description,omitempty"`
	// CanonicalValues, for string and reference attributes: the only values accepted
	// (matched case-insensitively unless caseExact; stored in the declared spelling).
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=256
	// +listType=atomic
	// +optional
	CanonicalValues []string `json:"canonicalValues,omitempty"`
	// ReferenceTypes, for reference attributes (e.g. external, uri, User), served by /Schemas.
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=64
	// +listType=atomic
	// +optional
	ReferenceTypes []string `json:"referenceTypes,omitempty"`
}

// ExtensionAttribute is a top-level attribute of an extension schema.
// +kubebuilder:validation:XValidation:rule="(self.type == 'complex') == (has(self.subAttributes) && size(self.subAttributes) > 0)",message="a complex attribute needs subAttributes, and only a complex attribute may have them"
// +kubebuilder:validation:XValidation:rule="!has(self.subAttributes) || self.subAttributes.all(a, self.subAttributes.exists_one(b, b.name.lowerAscii() == a.name.lowerAscii()))",message="sub-attribute names must be unique, compared case-insensitively"
type ExtensionAttribute struct {
	ExtensionAttributeCommon `json:",inline"`
	// SubAttributes of a complex attribute.
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	// +optional
	SubAttributes []ExtensionSubAttribute `json:"subAttributes,omitempty"`
}

// ExtensionSubAttribute is a sub-attribute of a complex extension attribute; it is not
// complex itself.
// +kubebuilder:validation:XValidation:rule="self.type != 'complex'",message="a sub-attribute cannot be complex: RFC 7643 allows one level of sub-attributes"
type ExtensionSubAttribute struct {
	ExtensionAttributeCommon `json:",inline"`
}

// ExtensionValues are the values of a resource's extension attributes, by schema URN. Each
// schema's object is kept as the JSON it was in SCIM ({"costCenter": "4711", "level": 3}):
// values keep their JSON types, `kubectl get -o yaml` shows them as written, and values of
// attributes no longer declared stay stored (they are not returned through SCIM) without a
// CRD change per organization. The SCIM server checks them against the Organization's
// declaration before it writes; the CRD only bounds the number of schemas: twice the number an
// Organization may declare, so that values kept from schemas no longer declared fit too.
// +kubebuilder:validation:MaxProperties=16
type ExtensionValues map[string]apiextensionsv1.JSON
