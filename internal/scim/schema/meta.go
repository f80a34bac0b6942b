package schema

// The schemas of the discovery resources themselves (RFC 7643 §8.7.2), served by /Schemas
// beside the resource schemas so that a schema-driven client can validate
// /ServiceProviderConfig, /ResourceTypes and /Schemas like any other resource. Every
// attribute is readOnly: discovery is served, never written.

// supported is the "supported" sub-attribute every ServiceProviderConfig capability has.
func supported() Attribute {
	return boolean("supported", "A Boolean value specifying whether or not the operation is supported.").req()
}

func integer(name, desc string) Attribute { return newAttr(name, TypeInteger, desc) }

// ServiceProviderConfigDefinition is the urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig
// schema.
var ServiceProviderConfigDefinition = readOnlySchema(Schema{
	ID:          ServiceProviderConfigSchema,
	Name:        "Service Provider Configuration",
	Description: "Schema for representing the service provider's configuration",
	Attributes: []Attribute{
		ref("documentationUri", "An HTTP-addressable URL pointing to the service provider's human-consumable help documentation.", "external"),
		complexAttr("patch", "A complex type that specifies PATCH configuration options.", supported()).req(),
		complexAttr("bulk", "A complex type that specifies bulk configuration options.", supported(),
			integer("maxOperations", "An integer value specifying the maximum number of operations.").req(),
			integer("maxPayloadSize", "An integer value specifying the maximum payload size in bytes.").req()).req(),
		complexAttr("filter", "A complex type that specifies FILTER options.", supported(),
			integer("maxResults", "An integer value specifying the maximum number of resources returned in a response.").req()).req(),
		complexAttr("changePassword", "A complex type that specifies configuration options related to changing a password.", supported()).req(),
		complexAttr("sort", "A complex type that specifies sort result options.", supported()).req(),
		complexAttr("etag", "A complex type that specifies ETag configuration options.", supported()).req(),
		complexAttr("pagination", "Pagination options (RFC 9865).",
			boolean("cursor", "Whether cursor-based pagination is supported."),
			boolean("index", "Whether index-based pagination is supported."),
			str("defaultPaginationMethod", "The pagination method used when a request names none.").canon("cursor", "index"),
			integer("defaultPageSize", "The page size used when a request gives no count."),
			integer("maxPageSize", "The largest page size served."),
			integer("cursorTimeout", "Seconds a cursor stays valid.")),
		complexAttr("authenticationSchemes", "A complex type that specifies supported authentication scheme properties.",
			str("type", "The authentication scheme.").req().canon("oauth", "oauth2", "oauthbearertoken", "httpbasic", "httpdigest"),
			str("name", "The common authentication scheme name, e.g., HTTP Basic.").req(),
			str("description", "A description of the authentication scheme.").req(),
			ref("specUri", "An HTTP-addressable URL pointing to the authentication scheme's specification.", "external"),
			ref("documentationUri", "An HTTP-addressable URL pointing to the authentication scheme's usage documentation.", "external"),
			boolean("primary", "A Boolean value indicating the preferred authentication scheme."),
		).multi().req(),
	},
})

// ResourceTypeDefinition is the urn:ietf:params:scim:schemas:core:2.0:ResourceType schema.
var ResourceTypeDefinition = readOnlySchema(Schema{
	ID:          ResourceTypeSchema,
	Name:        "ResourceType",
	Description: "Specifies the schema that describes a SCIM resource type",
	Attributes: []Attribute{
		str("id", "The resource type's server unique id. May be the same as the 'name' attribute."),
		str("name", "The resource type name.").req(),
		str("description", "The resource type's human-readable description."),
		ref("endpoint", "The resource type's HTTP-addressable endpoint relative to the Base URL, e.g., '/Users'.", "uri").req(),
		ref("schema", "The resource type's primary/base schema URI.", "uri").req().exact(),
		complexAttr("schemaExtensions", "A list of URIs of the resource type's schema extensions.",
			ref("schema", "The URI of a schema extension.", "uri").req().exact(),
			boolean("required", "A Boolean value that specifies whether or not the schema extension is required for the resource type.").req(),
		).multi(),
	},
})

// SchemaDefinition is the urn:ietf:params:scim:schemas:core:2.0:Schema schema.
var SchemaDefinition = readOnlySchema(Schema{
	ID:          SchemaSchema,
	Name:        "Schema",
	Description: "Specifies the schema attribute",
	Attributes: []Attribute{
		str("id", "The unique URI of the schema.").req().exact(),
		str("name", "The schema's human-readable name."),
		str("description", "The schema's human-readable description."),
		complexAttr("attributes", "A complex attribute that includes the attributes of a schema.",
			append(attributeDefinition(), complexAttr("subAttributes", "Used to define the sub-attributes of a complex attribute.",
				attributeDefinition()...).multi())...,
		).multi().req(),
	},
})

// attributeDefinition is the shape of one attribute definition (RFC 7643 §7).
func attributeDefinition() []Attribute {
	return []Attribute{
		str("name", "The attribute's name.").req().exact(),
		str("type", "The attribute's data type.").req().canon("string", "complex", "boolean", "decimal", "integer", "dateTime", "reference", "binary"),
		boolean("multiValued", "A Boolean value indicating an attribute's plurality.").req(),
		str("description", "A human-readable description of the attribute."),
		boolean("required", "A boolean value indicating whether or not the attribute is required."),
		str("canonicalValues", "A collection of canonical values.").multi(),
		boolean("caseExact", "A Boolean value indicating whether or not a string attribute is case sensitive."),
		str("mutability", "Indicates whether or not an attribute is modifiable.").canon("readOnly", "readWrite", "immutable", "writeOnly"),
		str("returned", "Indicates when an attribute is returned in a response.").canon("always", "never", "default", "request"),
		str("uniqueness", "Indicates how unique a value must be.").canon("none", "server", "global"),
		str("referenceTypes", "Used only with an attribute of type 'reference'.").multi(),
	}
}

// readOnlySchema marks every attribute of s readOnly.
func readOnlySchema(s Schema) Schema {
	for i, a := range s.Attributes {
		s.Attributes[i] = a.readOnlyAll()
		for j, sub := range s.Attributes[i].SubAttributes {
			if sub.Type == TypeComplex {
				s.Attributes[i].SubAttributes[j] = sub.readOnlyAll()
			}
		}
	}
	return s
}

// DiscoverySchemas lists what /Schemas serves: the resource schemas, then the schemas of the
// discovery resources.
var DiscoverySchemas = append(append([]*Schema{}, Schemas...), &ServiceProviderConfigDefinition, &ResourceTypeDefinition, &SchemaDefinition)
