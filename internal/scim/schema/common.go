package schema

// CommonAttributes are the attributes every resource carries (RFC 7643 §3.1). They belong to no
// schema URN of their own; lookups treat them as part of the resource type's core schema.
var CommonAttributes = []Attribute{
	str("id", "Unique identifier for the SCIM resource as defined by the service provider.").
		exact().mut(ReadOnly).ret(ReturnedAlways).uniq(UniqueServer),
	str("externalId", "A string that is an identifier for the resource as defined by the provisioning client.").
		exact(),
	complexAttr("meta", "A complex attribute containing resource metadata.",
		str("resourceType", "The name of the resource type of the resource.").exact(),
		dateTime("created", "The DateTime that the resource was added to the service provider."),
		dateTime("lastModified", "The most recent DateTime that the details of this resource were updated at the service provider."),
		ref("location", "The URI of the resource being returned.", "uri").exact(),
		str("version", "The version of the resource being returned.").exact(),
	).readOnlyAll(),
}
