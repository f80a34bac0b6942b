package schema

import "strings"

// Resolved is an attribute path resolved against a resource type: the canonical spelling of
// each part and the definitions they name.
type Resolved struct {
	// Schema is the canonical URN of the schema defining the attribute; the core schema for
	// common attributes (id, externalId, meta).
	Schema string
	// Name is the canonical name of the top-level attribute.
	Name string
	// Sub is the canonical name of the sub-attribute, "" when the path names none.
	Sub string
	// Attr is the definition of the top-level attribute.
	Attr *Attribute
	// SubAttr is the definition of the sub-attribute, nil when the path names none.
	SubAttr *Attribute
	// Extension is true when the attribute lives under its schema's URN key in a document.
	Extension bool
}

// Leaf returns the definition of the attribute the path ends at: SubAttr if set, else Attr.
func (r Resolved) Leaf() *Attribute {
	if r.SubAttr != nil {
		return r.SubAttr
	}
	return r.Attr
}

// NeverReturned reports whether the attribute or the sub-attribute the path names is returned
// "never" (password, a custom writeOnly secret): such a value must not be filtered or sorted
// on either, or a client could recover it by probing.
func (r Resolved) NeverReturned() bool {
	return r.Attr.Returned == ReturnedNever || (r.SubAttr != nil && r.SubAttr.Returned == ReturnedNever)
}

// Path returns the canonical path: "name.familyName" for core and common attributes,
// "urn:…:enterprise:2.0:User:manager.value" for extension attributes.
func (r Resolved) Path() string {
	p := r.Name
	if r.Sub != "" {
		p += "." + r.Sub
	}
	if r.Extension {
		p = r.Schema + ":" + p
	}
	return p
}

// Container returns the map that holds r's top-level attribute in doc: doc itself, or the
// extension object under r.Schema. With create, a missing extension object is added to doc;
// without, nil is returned for it.
func (r Resolved) Container(doc map[string]any, create bool) map[string]any {
	if !r.Extension {
		return doc
	}
	if m, ok := Field(doc, r.Schema).(map[string]any); ok {
		return m
	}
	if !create {
		return nil
	}
	m := map[string]any{}
	SetField(doc, r.Schema, m)
	return m
}

// Value returns the value of r's top-level attribute in doc (nil when unset). Sub is ignored:
// for multi-valued attributes the caller walks the values.
func (r Resolved) Value(doc map[string]any) any {
	return Field(r.Container(doc, false), r.Name)
}

// Field returns m[key], falling back to a case-insensitive match of the key.
func Field(m map[string]any, key string) any {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

// SetField sets m[key] = v after removing every key that equals key case-insensitively, so
// that a document never holds two spellings of one attribute.
func SetField(m map[string]any, key string, v any) {
	DeleteField(m, key)
	m[key] = v
}

// DeleteField removes every key of m that equals key case-insensitively.
func DeleteField(m map[string]any, key string) {
	for k := range m {
		if strings.EqualFold(k, key) {
			delete(m, k)
		}
	}
}

// SplitPath splits an attribute path into its optional schema URN, attribute name and
// optional sub-attribute: "urn:…:enterprise:2.0:User:manager.value" gives the enterprise URN,
// "manager" and "value". Attribute names hold no ':' so a URN ends at the last colon. It does not
// validate names; see Lookup.
func SplitPath(path string) (urn, name, sub string) {
	if len(path) >= 4 && strings.EqualFold(path[:4], "urn:") {
		i := strings.LastIndexByte(path, ':')
		urn, path = path[:i], path[i+1:]
	}
	name, sub, _ = strings.Cut(path, ".")
	return urn, name, sub
}

// Lookup resolves an attribute path such as "userName", "name.FamilyName", "emails.value",
// "urn:ietf:params:scim:schemas:core:2.0:User:userName" or
// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager" against rt. Names and
// URNs match case-insensitively. See Resolve for the rules.
func (rt ResourceType) Lookup(path string) (Resolved, bool) {
	return rt.Resolve(SplitPath(path))
}

// Resolve resolves a path given as its parts. With a URN, the attribute is searched in that
// schema only (which must be rt's core schema or one of its extensions; the common attributes
// count as core). Without one, the common attributes and the core schema are searched first,
// then each extension in order, so an unqualified "employeeNumber" still resolves. sub, when
// not empty, must name a sub-attribute of a complex attribute.
func (rt ResourceType) Resolve(urn, name, sub string) (Resolved, bool) {
	var r Resolved
	switch {
	case urn == "":
		if !rt.resolveIn(&r, rt.Schema, name) {
			found := false
			for _, ext := range rt.Extensions {
				if rt.resolveIn(&r, ext, name) {
					found = true
					break
				}
			}
			if !found {
				return Resolved{}, false
			}
		}
	default:
		canon, ok := rt.SchemaURN(urn)
		if !ok || !rt.resolveIn(&r, canon, name) {
			return Resolved{}, false
		}
	}
	if sub != "" {
		r.SubAttr = r.Attr.Sub(sub)
		if r.SubAttr == nil {
			return Resolved{}, false
		}
		r.Sub = r.SubAttr.Name
	}
	return r, true
}

// resolveIn looks name up in the schema urn (plus the common attributes for the core schema).
func (rt ResourceType) resolveIn(r *Resolved, urn, name string) bool {
	var a *Attribute
	if urn == rt.Schema {
		for i := range CommonAttributes {
			if strings.EqualFold(CommonAttributes[i].Name, name) {
				a = &CommonAttributes[i]
				break
			}
		}
	}
	if a == nil {
		s, ok := rt.schema(urn)
		if !ok {
			return false
		}
		a = s.Attribute(name)
	}
	if a == nil {
		return false
	}
	*r = Resolved{Schema: urn, Name: a.Name, Attr: a, Extension: urn != rt.Schema}
	return true
}

// Attributes returns the definitions of every top-level attribute of rt with the schema URN
// each belongs to: common attributes, then the core schema, then each extension.
func (rt ResourceType) Attributes() []Resolved {
	var out []Resolved
	for i := range CommonAttributes {
		a := &CommonAttributes[i]
		out = append(out, Resolved{Schema: rt.Schema, Name: a.Name, Attr: a})
	}
	for _, urn := range append([]string{rt.Schema}, rt.Extensions...) {
		s, ok := rt.schema(urn)
		if !ok {
			continue
		}
		for i := range s.Attributes {
			a := &s.Attributes[i]
			out = append(out, Resolved{Schema: urn, Name: a.Name, Attr: a, Extension: urn != rt.Schema})
		}
	}
	return out
}
