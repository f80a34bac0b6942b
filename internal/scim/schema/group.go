package schema

// CoreGroup is the core Group schema (RFC 7643 §4.2, §8.7.1).
var CoreGroup = Schema{
	ID:          GroupSchema,
	Name:        "Group",
	Description: "Group",
	Attributes: []Attribute{
		str("displayName", "A human-readable name for the Group.").req(),
		complexAttr("members", "A list of members of the Group.",
			str("value", "Identifier of the member of this Group.").req().mut(Immutable),
			ref("$ref", "The URI corresponding to a SCIM resource that is a member of this Group.", "User", "Group").mut(Immutable),
			str("display", "A human-readable name, primarily used for display purposes."),
			str("type", "A label indicating the type of resource, e.g., 'User' or 'Group'.").canon("User", "Group").mut(Immutable),
		).multi(),
	},
}
