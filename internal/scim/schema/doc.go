// Package schema holds the SCIM 2.0 schema definitions Roster serves and enforces (RFC 7643):
// the core User and Group schemas, the Enterprise User extension and the common attributes,
// as plain Go data that the /Schemas and /ResourceTypes endpoints serialise as-is.
//
// On top of the definitions it offers the schema-driven operations every other SCIM package
// needs: case-insensitive attribute lookup (Lookup, Resolve), canonicalisation of request
// bodies (Normalize), response projection (Project) and sort ordering (Compare).
//
// A "canonical document" is a map as produced by Normalize: attribute names spelled as in the
// schema, booleans as bool, extension attributes under their schema URN key, no null values and
// no empty objects or arrays. The server adds id, externalId and meta to it before storing.
package schema
