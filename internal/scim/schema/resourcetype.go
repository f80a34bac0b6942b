package schema

import (
	"encoding/json"
	"strings"
)

// ResourceType is a SCIM resource type (RFC 7643 §6): its core schema and the extension
// schemas it accepts. Schema URNs are resolved against the schemas of this package.
type ResourceType struct {
	Name        string
	Endpoint    string
	Description string
	// Schema is the URN of the core schema.
	Schema string
	// Extensions are the URNs of the extension schemas; none is required.
	Extensions []string
}

// User is the User resource type, with the Enterprise User extension.
var User = ResourceType{
	Name:        "User",
	Endpoint:    "/Users",
	Description: "User Account",
	Schema:      UserSchema,
	Extensions:  []string{EnterpriseUserSchema},
}

// Group is the Group resource type.
var Group = ResourceType{
	Name:        "Group",
	Endpoint:    "/Groups",
	Description: "Group",
	Schema:      GroupSchema,
}

// ResourceTypes lists the resource types Roster serves, in /ResourceTypes order.
var ResourceTypes = []ResourceType{User, Group}

// Schemas lists the schemas Roster serves, in /Schemas order.
var Schemas = []*Schema{&CoreUser, &EnterpriseUser, &CoreGroup}

// SchemaByURN returns the schema with the given URN (matched case-insensitively).
func SchemaByURN(urn string) (*Schema, bool) {
	for _, s := range Schemas {
		if strings.EqualFold(s.ID, urn) {
			return s, true
		}
	}
	return nil, false
}

// SchemaURN returns the canonical spelling of urn if it is the core schema or one of the
// extension schemas of rt (matched case-insensitively).
func (rt ResourceType) SchemaURN(urn string) (string, bool) {
	if strings.EqualFold(urn, rt.Schema) {
		return rt.Schema, true
	}
	return rt.extension(urn)
}

func (rt ResourceType) extension(urn string) (string, bool) {
	for _, ext := range rt.Extensions {
		if strings.EqualFold(urn, ext) {
			return ext, true
		}
	}
	return "", false
}

// IsExtension reports whether urn is one of rt's extension schemas (matched case-insensitively).
func (rt ResourceType) IsExtension(urn string) bool {
	_, ok := rt.extension(urn)
	return ok
}

type schemaExtension struct {
	Schema   string `json:"schema"`
	Required bool   `json:"required"`
}

type resourceTypeJSON struct {
	Schemas          []string          `json:"schemas"`
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	Endpoint         string            `json:"endpoint"`
	Description      string            `json:"description,omitempty"`
	Schema           string            `json:"schema"`
	SchemaExtensions []schemaExtension `json:"schemaExtensions,omitempty"`
}

// MarshalJSON renders rt as an RFC 7643 §6 ResourceType resource (without meta, which needs the
// server's base URL).
func (rt ResourceType) MarshalJSON() ([]byte, error) {
	out := resourceTypeJSON{
		Schemas:     []string{ResourceTypeSchema},
		ID:          rt.Name,
		Name:        rt.Name,
		Endpoint:    rt.Endpoint,
		Description: rt.Description,
		Schema:      rt.Schema,
	}
	for _, ext := range rt.Extensions {
		out.SchemaExtensions = append(out.SchemaExtensions, schemaExtension{Schema: ext})
	}
	return json.Marshal(out)
}
