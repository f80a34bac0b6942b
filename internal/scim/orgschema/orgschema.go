// Package orgschema builds an organization's SCIM schema set: Roster's User and Group resource
// types plus the custom extension schemas the Organization declares (spec.extensionSchemas),
// and moves extension values between SCIM documents and the spec.extensions of OrgUsers and
// OrgTeams. Pure functions: no HTTP, no Kubernetes client.
package orgschema

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/scim/patch"
	"github.com/rosterhq/roster/internal/scim/schema"
)

// Set is an organization's resource types with their custom extensions.
type Set struct {
	User  schema.ResourceType
	Group schema.ResourceType
}

// For returns the schema set of org (Roster's own when org is nil or declares nothing).
// Declarations the CRD's validation lets through but Roster cannot serve (a URN of Roster's
// own schemas, one declared twice) are skipped, so one bad entry never breaks the org's SCIM.
func For(org *rosterv1.Organization) Set {
	set := Set{User: schema.User, Group: schema.Group}
	if org == nil {
		return set
	}
	var users, groups []*schema.Schema
	var reqUsers, reqGroups []string
	seen := map[string]bool{}
	for i := range org.Spec.ExtensionSchemas {
		d := &org.Spec.ExtensionSchemas[i]
		key := strings.ToLower(d.URN)
		if _, builtin := schema.SchemaByURN(d.URN); builtin || seen[key] {
			continue
		}
		seen[key] = true
		s := Convert(d)
		switch d.ResourceType {
		case rosterv1.ExtensionForUser:
			users = append(users, s)
			if d.Required {
				reqUsers = append(reqUsers, s.ID)
			}
		case rosterv1.ExtensionForGroup:
			groups = append(groups, s)
			if d.Required {
				reqGroups = append(reqGroups, s.ID)
			}
		}
	}
	set.User = set.User.WithCustom(users, reqUsers)
	set.Group = set.Group.WithCustom(groups, reqGroups)
	return set
}

// Schemas lists every schema the set serves, in /Schemas order: Roster's (resource and
// discovery schemas), then the custom User extensions, then the custom Group extensions.
func (s Set) Schemas() []*schema.Schema {
	return append(slices.Clone(schema.DiscoverySchemas), append(slices.Clone(s.User.Custom), s.Group.Custom...)...)
}

// ResourceTypes lists the set's resource types, in /ResourceTypes order.
func (s Set) ResourceTypes() []schema.ResourceType { return []schema.ResourceType{s.User, s.Group} }

// Convert turns a declaration into a schema definition.
func Convert(d *rosterv1.ExtensionSchema) *schema.Schema {
	s := &schema.Schema{ID: d.URN, Name: d.Name, Description: d.Description}
	if s.Name == "" {
		s.Name = d.URN[strings.LastIndexByte(d.URN, ':')+1:]
	}
	for _, a := range d.Attributes {
		attr := convertAttr(a.ExtensionAttributeCommon)
		for _, sub := range a.SubAttributes {
			attr.SubAttributes = append(attr.SubAttributes, convertAttr(sub.ExtensionAttributeCommon))
		}
		s.Attributes = append(s.Attributes, attr)
	}
	return s
}

func convertAttr(c rosterv1.ExtensionAttributeCommon) schema.Attribute {
	a := schema.Attribute{
		Name: c.Name, Type: schema.DataType(c.Type), MultiValued: c.MultiValued,
		Description: c.Description, Required: c.Required, CaseExact: c.CaseExact,
		Mutability: schema.Mutability(c.Mutability), Returned: schema.Returned(c.Returned),
		Uniqueness:      schema.UniqueNone, // the only value the CRD accepts
		CanonicalValues: slices.Clone(c.CanonicalValues), ReferenceTypes: slices.Clone(c.ReferenceTypes),
		StrictCanonical: true,
	}
	// Defaults for objects written without the CRD's defaulting (e.g. in unit tests).
	if a.Mutability == "" {
		a.Mutability = schema.ReadWrite
	}
	if a.Returned == "" {
		a.Returned = schema.ReturnedDefault
	}
	return a
}

// KeepUndeclared returns next with the stored values that rt no longer declares carried over
// from stored: attributes (or whole schemas) removed from the Organization's declaration keep
// their values until they are declared again and cleared through SCIM. A PUT or PATCH cannot
// clear what the client cannot see (RFC 7644 §3.5.1 replaces the attributes of the resource's
// schemas; an undeclared attribute is in none), and Okta updates custom apps with PUT, so
// clearing them would wipe the values on the first update after a declaration change.
func KeepUndeclared(rt schema.ResourceType, stored, next rosterv1.ExtensionValues) rosterv1.ExtensionValues {
	for urn, raw := range stored {
		var old map[string]any
		if json.Unmarshal(raw.Raw, &old) != nil {
			continue
		}
		keep := map[string]any{}
		for k, v := range old {
			if _, declared := rt.Resolve(urn, k, ""); !declared || !rt.IsCustom(urn) {
				keep[k] = v
			}
		}
		if len(keep) == 0 {
			continue
		}
		merged := keep
		if cur, ok := next[urn]; ok {
			var m map[string]any
			if json.Unmarshal(cur.Raw, &m) == nil {
				for k, v := range m {
					merged[k] = v
				}
			}
		}
		b, err := json.Marshal(merged)
		if err != nil {
			continue
		}
		if next == nil {
			next = rosterv1.ExtensionValues{}
		}
		next[urn] = apiextensionsv1.JSON{Raw: b}
	}
	return next
}

// Update finishes the extension values of an update planned against the stored resource:
// before is the stored resource's document, after the one the update produces (normalized),
// stored the extension values on the object and next those taken from after. An immutable
// attribute that is set and would change is 400 mutability; values of attributes rt no longer
// declares are kept (KeepUndeclared), and so are those of readOnly custom attributes
// (KeepReadOnly).
func Update(rt schema.ResourceType, before, after map[string]any, stored rosterv1.ExtensionValues, next *rosterv1.ExtensionValues) error {
	if err := schema.CheckImmutable(rt, before, after); err != nil {
		return err
	}
	*next = KeepReadOnly(rt, stored, KeepUndeclared(rt, stored, *next))
	return nil
}

// KeepReadOnly returns next with the values of rt's readOnly custom attributes taken from
// stored, as patch.Apply does for a PATCH: they are written by an administrator (kubectl),
// never by the client, and Normalize drops them from a PUT body, so without this Okta's PUT
// would erase them. A readOnly value next holds that stored lacks is dropped.
func KeepReadOnly(rt schema.ResourceType, stored, next rosterv1.ExtensionValues) rosterv1.ExtensionValues {
	for _, r := range rt.Attributes() {
		if !r.Extension || !rt.IsCustom(r.Schema) || r.Attr.Mutability != schema.ReadOnly {
			continue
		}
		old := schema.Field(decodeExt(stored, r.Schema), r.Name)
		cur := decodeExt(next, r.Schema)
		if old == nil && schema.Field(cur, r.Name) == nil {
			continue
		}
		if cur == nil {
			cur = map[string]any{}
		}
		if old == nil {
			schema.DeleteField(cur, r.Name)
		} else {
			schema.SetField(cur, r.Name, old)
		}
		next = encodeExt(next, r.Schema, cur)
	}
	return next
}

// decodeExt returns the object of vals under urn (matched case-insensitively), nil when
// there is none or it does not decode.
func decodeExt(vals rosterv1.ExtensionValues, urn string) map[string]any {
	for k, raw := range vals {
		if !strings.EqualFold(k, urn) {
			continue
		}
		// UseNumber: a stored 12345678901234567890 must not come back rounded.
		dec := json.NewDecoder(bytes.NewReader(raw.Raw))
		dec.UseNumber()
		var m map[string]any
		if dec.Decode(&m) == nil {
			return m
		}
	}
	return nil
}

// encodeExt stores m as vals' object under urn (replacing any other spelling of the key), or
// removes the key when m is empty.
func encodeExt(vals rosterv1.ExtensionValues, urn string, m map[string]any) rosterv1.ExtensionValues {
	for k := range vals {
		if strings.EqualFold(k, urn) {
			delete(vals, k)
		}
	}
	if len(m) == 0 {
		return vals
	}
	b, err := json.Marshal(m)
	if err != nil {
		return vals
	}
	if vals == nil {
		vals = rosterv1.ExtensionValues{}
	}
	vals[urn] = apiextensionsv1.JSON{Raw: b}
	return vals
}

// UnknownURNs returns the schema URNs of a request body (POST or PUT, decoded but not yet
// normalized) that rt does not know and whose values Normalize therefore drops: keys holding
// an extension object, and the URN part of URN-qualified attribute keys. The "schemas" list
// itself is not looked at: only values that are lost count.
func UnknownURNs(rt schema.ResourceType, body map[string]any) []string {
	var out []string
	for k, v := range body {
		if u := unknownKey(rt, k, v); u != "" && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	slices.Sort(out)
	return out
}

// UnknownPatchURNs is UnknownURNs for the operations of a PATCH: paths that start with an
// unknown URN and the keys of path-less values.
func UnknownPatchURNs(rt schema.ResourceType, ops []patch.Operation) []string {
	var out []string
	add := func(u string) {
		if u != "" && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	for _, op := range ops {
		switch {
		case op.Path != nil && op.Path.URN != "":
			whole := op.Path.URN + ":" + op.Path.Attr
			if _, ok := rt.SchemaURN(whole); ok {
				continue
			}
			if _, ok := rt.SchemaURN(op.Path.URN); ok {
				continue
			}
			if _, isObj := op.Value.(map[string]any); isObj && op.Path.SubAttr == "" && op.Path.Filter == nil {
				add(whole) // "path": "urn:…:User", "value": {…} (Entra's form)
			} else {
				add(op.Path.URN)
			}
		case op.Path == nil:
			if m, ok := op.Value.(map[string]any); ok {
				for _, u := range UnknownURNs(rt, m) {
					add(u)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// unknownKey returns the unknown URN a body key stands for, or "".
func unknownKey(rt schema.ResourceType, k string, v any) string {
	if len(k) < 4 || !strings.EqualFold(k[:4], "urn:") {
		return ""
	}
	if _, ok := rt.SchemaURN(k); ok {
		return ""
	}
	if _, isObj := v.(map[string]any); isObj {
		return k // an extension object under its URN
	}
	urn, _, _ := schema.SplitPath(k)
	if _, ok := rt.SchemaURN(urn); ok {
		return "" // a known schema's (perhaps unknown) attribute
	}
	return urn
}
