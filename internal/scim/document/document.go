// Package document converts between SCIM documents (RFC 7643, as generic JSON maps) and
// Roster's Go values: OrgUser specs, team fields, meta and entity tags. Pure functions: no
// HTTP, no Kubernetes client.
package document

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// enterpriseKey is the OrgUserSpec field that holds the enterprise extension.
const enterpriseKey = "enterprise"

// extensionsKey is the OrgUserSpec and OrgTeamSpec field that holds custom extension values.
const extensionsKey = "extensions"

// addExtensions moves the stored custom extension objects of a spec rendered by ToMap to their
// URN keys of the SCIM document, and their URNs into schemas. Every stored schema is added:
// schema.Project returns only what the organization still declares.
func addExtensions(doc map[string]any, schemas []any) []any {
	ext, _ := doc[extensionsKey].(map[string]any)
	delete(doc, extensionsKey)
	for _, urn := range slices.Sorted(maps.Keys(ext)) {
		if m, ok := ext[urn].(map[string]any); ok && len(m) > 0 {
			doc[urn] = m
			schemas = append(schemas, urn)
		}
	}
	return schemas
}

// takeExtensions returns the custom extension objects of a normalized document: every key that
// is a URN other than the core and enterprise ones (Normalize keeps only the extensions the
// organization declares).
func takeExtensions(doc map[string]any) map[string]any {
	var ext map[string]any
	for k, v := range doc {
		if !strings.HasPrefix(strings.ToLower(k), "urn:") || k == schema.EnterpriseUserSchema || k == schema.UserSchema || k == schema.GroupSchema {
			continue
		}
		if ext == nil {
			ext = map[string]any{}
		}
		ext[k] = v
	}
	return ext
}

// Decode parses a JSON object body. Bad JSON is 400 invalidSyntax.
func Decode(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "the body is not a valid JSON object: %v", err)
	}
	if dec.More() {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "the body has data after the JSON object")
	}
	if doc == nil {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "the body must be a JSON object")
	}
	return doc, nil
}

// ToMap round-trips v through JSON into a generic document.
func ToMap(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", v, err)) // API types always marshal.
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if m == nil {
		m = map[string]any{}
	}
	return m
}

// Meta is the SCIM meta attribute of a resource.
type Meta struct {
	ResourceType string
	Location     string
	Version      string
	Created      time.Time
	LastModified time.Time
}

// Map renders the meta attribute; version is the resource's entity tag.
func (m Meta) Map() map[string]any {
	return map[string]any{
		"resourceType": m.ResourceType,
		"created":      m.Created.UTC().Format(time.RFC3339),
		"lastModified": m.LastModified.UTC().Format(time.RFC3339Nano),
		"location":     m.Location,
		"version":      ETag(m.Version),
	}
}

// ETag is the weak entity tag of a version.
func ETag(version string) string { return `W/"` + version + `"` }

// ParseETags reads an If-Match or If-None-Match header into versions: weak and strong tags
// compare alike (RFC 7232 §2.3.2, weak comparison), and "*" stays "*".
func ParseETags(header string) []string {
	var out []string
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if t != "*" {
			t = strings.Trim(strings.TrimPrefix(t, "W/"), `"`)
		}
		out = append(out, t)
	}
	return out
}

// User is the SCIM representation of an OrgUser, without its groups. Every attribute is
// rendered as stored: an absent active stays absent, a primary: false stays false.
func User(u *rosterv1.OrgUser, meta Meta) map[string]any {
	doc := structMap(&u.Spec)
	schemas := []any{schema.UserSchema}
	if ext, ok := doc[enterpriseKey]; ok {
		delete(doc, enterpriseKey)
		doc[schema.EnterpriseUserSchema] = ext
		schemas = append(schemas, schema.EnterpriseUserSchema)
	}
	doc["schemas"] = addExtensions(doc, schemas)
	doc["id"] = u.Name
	doc["meta"] = meta.Map()
	return doc
}

// UserSpec turns a normalized SCIM User document into an OrgUserSpec. An absent active stays
// absent (it means active); a create gives it its value (NewUserSpec).
func UserSpec(doc map[string]any) (rosterv1.OrgUserSpec, error) {
	d := make(map[string]any, len(doc))
	for k, v := range doc {
		switch k {
		case "id", "meta", "schemas", "groups", "password":
		case schema.EnterpriseUserSchema:
			d[enterpriseKey] = v
		default:
			if !strings.HasPrefix(strings.ToLower(k), "urn:") {
				d[k] = v
			}
		}
	}
	if ext := takeExtensions(doc); ext != nil {
		d[extensionsKey] = ext
	}
	var spec rosterv1.OrgUserSpec
	b, _ := json.Marshal(d)
	if err := json.Unmarshal(b, &spec); err != nil {
		return spec, scimerror.BadRequest(scimerror.InvalidValue, "invalid User: %v", err)
	}
	if strings.TrimSpace(spec.UserName) == "" {
		return spec, scimerror.BadRequest(scimerror.InvalidValue, "userName is required")
	}
	return spec, nil
}

// Group is the SCIM representation of a team, without its members.
func Group(t *rosterv1.OrgTeam, meta Meta) map[string]any {
	doc := map[string]any{
		"schemas":     []any{schema.GroupSchema},
		"id":          t.Name,
		"displayName": t.Spec.DisplayName,
		"meta":        meta.Map(),
	}
	if t.Spec.ExternalID != "" {
		doc["externalId"] = t.Spec.ExternalID
	}
	AddGroupExtensions(doc, t.Spec.Extensions)
	return doc
}

// GroupFields extracts the fields Roster stores of a group, members aside, from a normalized
// Group document.
func GroupFields(doc map[string]any) (displayName, externalID string, err error) {
	displayName, _ = doc["displayName"].(string)
	externalID, _ = doc["externalId"].(string)
	if strings.TrimSpace(displayName) == "" {
		return "", "", scimerror.BadRequest(scimerror.InvalidValue, "displayName is required")
	}
	return displayName, externalID, nil
}

// GroupSpec applies group fields to a team spec.
func GroupSpec(spec rosterv1.OrgTeamSpec, displayName, externalID string) rosterv1.OrgTeamSpec {
	spec.DisplayName, spec.ExternalID = displayName, externalID
	return spec
}

// AddGroupExtensions adds a team's stored extension values to its Group document, each
// schema's object under its URN, the URN in schemas.
func AddGroupExtensions(doc map[string]any, values rosterv1.ExtensionValues) {
	if len(values) == 0 {
		return
	}
	doc[extensionsKey] = ToMap(&rosterv1.OrgTeamSpec{Extensions: values})[extensionsKey]
	schemas, _ := doc["schemas"].([]any)
	doc["schemas"] = addExtensions(doc, schemas)
}

// GroupExtensions returns the custom extension values of a normalized Group document, as
// OrgTeamSpec.Extensions stores them (nil when there are none).
func GroupExtensions(doc map[string]any) rosterv1.ExtensionValues {
	ext := takeExtensions(doc)
	if ext == nil {
		return nil
	}
	var spec rosterv1.OrgTeamSpec
	b, _ := json.Marshal(map[string]any{extensionsKey: ext})
	_ = json.Unmarshal(b, &spec) // decoded JSON objects always fit ExtensionValues
	return spec.Extensions
}

// NewUserSpec is UserSpec for a user being created: without active, the user is created
// active, and says so.
func NewUserSpec(doc map[string]any) (rosterv1.OrgUserSpec, error) {
	spec, err := UserSpec(doc)
	if err == nil && spec.Active == nil {
		t := true
		spec.Active = &t
	}
	return spec, err
}
