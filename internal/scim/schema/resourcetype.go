package schema

import (
	"encoding/json"
	"slices"
	"strings"
)

// ResourceType is a SCIM resource type (RFC 7643 §6): its core schema and the extension
// schemas it accepts. Schema URNs are resolved against Custom, then the schemas of this
// package. User and Group are Roster's own; an organization's adds its declared extensions
// (WithCustom, built by package orgschema).
type ResourceType struct {
	Name        string
	Endpoint    string
	Description string
	// Schema is the URN of the core schema.
	Schema string
	// Extensions are the URNs of the extension schemas.
	Extensions []string
	// Custom holds the definitions of extension schemas declared by an organization
	// (WithCustom); the URNs of Extensions that are not among them are Roster's own schemas.
	Custom []*Schema
	// Required lists the URNs of extensions every resource must carry
	// (schemaExtensions[].required in /ResourceTypes).
	Required []string
}

// WithCustom returns a copy of rt that also accepts the custom extension schemas, required
// lists those of them that every resource must carry. Their URNs must differ from rt's own.
func (rt ResourceType) WithCustom(custom []*Schema, required []string) ResourceType {
	if len(custom) == 0 {
		return rt
	}
	out := rt
	out.Extensions = slices.Clone(rt.Extensions)
	out.Custom = slices.Clone(rt.Custom)
	out.Required = append(slices.Clone(rt.Required), required...)
	for _, s := range custom {
		out.Extensions = append(out.Extensions, s.ID)
		out.Custom = append(out.Custom, s)
	}
	return out
}

// IsCustom reports whether urn (canonical spelling) is a custom extension schema of rt.
func (rt ResourceType) IsCustom(urn string) bool {
	_, ok := rt.customSchema(urn)
	return ok
}

func (rt ResourceType) customSchema(urn string) (*Schema, bool) {
	for _, s := range rt.Custom {
		if strings.EqualFold(s.ID, urn) {
			return s, true
		}
	}
	return nil, false
}

// schema returns the definition of the schema urn: one of rt's custom schemas, or Roster's.
func (rt ResourceType) schema(urn string) (*Schema, bool) {
	if s, ok := rt.customSchema(urn); ok {
		return s, true
	}
	return SchemaByURN(urn)
}

// Schemas returns the definitions of rt's core schema and every extension schema.
func (rt ResourceType) Schemas() []*Schema {
	var out []*Schema
	for _, urn := range append([]string{rt.Schema}, rt.Extensions...) {
		if s, ok := rt.schema(urn); ok {
			out = append(out, s)
		}
	}
	return out
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
		out.SchemaExtensions = append(out.SchemaExtensions, schemaExtension{Schema: ext, Required: slices.Contains(rt.Required, ext)})
	}
	return json.Marshal(out)
}
