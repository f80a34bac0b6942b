package schema

import "strings"

// ParseAttributeList splits the comma-separated value of the "attributes" or
// "excludedAttributes" query parameter into attribute paths, trimming blanks and dropping empty
// entries.
func ParseAttributeList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Project returns a copy of the canonical document doc holding only the attributes a response
// may carry, per RFC 7644 §3.9 and §3.4.2.5. Paths in attributes and excludedAttributes are
// matched case-insensitively and may name an attribute ("name"), a sub-attribute
// ("name.givenName", "emails.value"), a URN-qualified attribute, or a whole schema by its URN.
// Unknown paths are ignored.
//
// With attributes, only those are returned, plus "schemas", every returned:"always" attribute
// (id) and meta. excludedAttributes then removes attributes, except returned:"always" ones and
// "schemas"; meta can be excluded. returned:"never" attributes are never returned, and
// returned:"request" ones only when named in attributes. Keys of doc that are not attributes
// of rt are dropped. The result shares no maps or slices with doc.
func Project(rt ResourceType, doc map[string]any, attributes, excludedAttributes []string) map[string]any {
	return NewProjection(rt, attributes, excludedAttributes).Apply(doc)
}

// Projection is an attributes/excludedAttributes pair resolved for a resource type once: which
// attributes a response carries, and which of them are cut to some sub-attributes, decided
// without a document (only whether a value is present depends on one). A list resolves it once
// per request instead of once per resource.
type Projection struct {
	rt   ResourceType
	kept []projected
}

// projected is an attribute a Projection returns when the document has it.
type projected struct {
	r Resolved
	// keep and drop cut the value to sub-attributes (nil: the whole value).
	keep, drop map[string]bool
}

// NewProjection resolves attributes and excludedAttributes for rt, as Project applies them.
func NewProjection(rt ResourceType, attributes, excludedAttributes []string) Projection {
	incl := newSelection(rt, attributes)
	excl := newSelection(rt, excludedAttributes)
	p := Projection{rt: rt}
	for _, r := range rt.Attributes() {
		if r.Attr.Returned == ReturnedNever {
			continue
		}
		always := r.Attr.Returned == ReturnedAlways
		if !always && excl.whole(r) {
			continue
		}
		var keepSubs map[string]bool
		switch {
		case always, incl.whole(r):
		case len(attributes) == 0:
			if r.Attr.Returned == ReturnedRequest {
				continue
			}
		case r.Name == "meta" && !r.Extension:
			// meta stays unless excluded, even when attributes selects others.
		case incl.subs(r) != nil:
			keepSubs = incl.subs(r)
		default:
			continue
		}
		var dropSubs map[string]bool
		if !always {
			dropSubs = excl.subs(r)
		}
		p.kept = append(p.kept, projected{r: r, keep: keepSubs, drop: dropSubs})
	}
	return p
}

// Apply returns a copy of the canonical document doc holding only the attributes p returns:
// Project's result.
func (p Projection) Apply(doc map[string]any) map[string]any {
	out := map[string]any{}
	if s := Field(doc, "schemas"); s != nil {
		out["schemas"] = knownSchemas(p.rt, s)
	}
	for _, k := range p.kept {
		v := k.r.Value(doc)
		if v == nil {
			continue
		}
		if k.keep != nil || k.drop != nil {
			v = projectSubs(k.r.Attr, v, k.keep, k.drop)
			if v == nil {
				continue
			}
		} else {
			v = DeepCopy(v)
		}
		k.r.Container(out, true)[k.r.Name] = v
	}
	return out
}

// Whole reports whether p returns every attribute it keeps whole: no value is cut to some of
// its sub-attributes. A document encoder that writes values as stored can then follow Kept.
func (p Projection) Whole() bool {
	for _, k := range p.kept {
		if k.keep != nil || k.drop != nil {
			return false
		}
	}
	return true
}

// Kept returns the attributes p returns when the document has them, in rt's order ("schemas",
// which is no attribute, is returned whenever the document has it).
func (p Projection) Kept() []Resolved {
	out := make([]Resolved, len(p.kept))
	for i, k := range p.kept {
		out[i] = k.r
	}
	return out
}

// Keeps reports whether p returns the core attribute name (matched case-insensitively) when
// the document has it, whole or cut to some of its sub-attributes (not when every one of
// them is cut). A value that is not stored in the document (a user's groups, a group's
// members) is looked up only when p keeps it.
func (p Projection) Keeps(name string) bool {
	k, ok := p.find(name)
	if !ok || (k.keep == nil && k.drop == nil) || len(k.r.Attr.SubAttributes) == 0 {
		return ok
	}
	for _, sa := range k.r.Attr.SubAttributes {
		if p.KeepsSub(name, sa.Name) {
			return true
		}
	}
	return false
}

// KeepsSub reports whether p returns the sub-attribute sub of the core attribute name (both
// matched case-insensitively) in the values it returns, as Apply cuts them. A value written
// without Apply (a group's members, streamed) writes only the sub-attributes p keeps.
func (p Projection) KeepsSub(name, sub string) bool {
	k, ok := p.find(name)
	if !ok {
		return false
	}
	sa := k.r.Attr.Sub(sub)
	if sa == nil || sa.Returned == ReturnedNever || k.drop[sa.Name] {
		return false
	}
	return k.keep == nil || k.keep[sa.Name] || sa.Returned == ReturnedAlways
}

// find returns the kept core attribute name.
func (p Projection) find(name string) (projected, bool) {
	for _, k := range p.kept {
		if !k.r.Extension && strings.EqualFold(k.r.Name, name) {
			return k, true
		}
	}
	return projected{}, false
}

// knownSchemas copies a "schemas" list without the URNs rt does not know: a stored extension
// that the organization no longer declares is not returned, so it is not listed either.
func knownSchemas(rt ResourceType, v any) any {
	list, ok := v.([]any)
	if !ok {
		return DeepCopy(v)
	}
	out := make([]any, 0, len(list))
	for _, u := range list {
		if s, ok := u.(string); ok {
			if _, known := rt.SchemaURN(s); !known {
				continue
			}
		}
		out = append(out, u)
	}
	return out
}

// selection is a parsed attributes or excludedAttributes list.
type selection struct {
	schemas map[string]bool              // whole schemas, by canonical URN
	attrs   map[attrPath]map[string]bool // top-level attribute → sub names; nil map = whole
}

func newSelection(rt ResourceType, paths []string) selection {
	s := selection{schemas: map[string]bool{}, attrs: map[attrPath]map[string]bool{}}
	for _, p := range paths {
		if urn, ok := rt.SchemaURN(p); ok {
			s.schemas[urn] = true
			continue
		}
		r, ok := rt.Lookup(p)
		if !ok {
			continue
		}
		key := topPath(r)
		subs, seen := s.attrs[key]
		switch {
		case r.Sub == "":
			s.attrs[key] = nil
		case !seen:
			s.attrs[key] = map[string]bool{r.Sub: true}
		case subs != nil:
			subs[r.Sub] = true
		}
	}
	return s
}

// attrPath is the canonical path of a top-level attribute (a struct, not the joined string:
// a projection looks up every attribute of its type).
type attrPath struct{ schema, name string }

func topPath(r Resolved) attrPath { return attrPath{r.Schema, r.Name} }

// whole reports whether the selection names r's top-level attribute as a whole.
func (s selection) whole(r Resolved) bool {
	if s.schemas[r.Schema] {
		return true
	}
	subs, ok := s.attrs[topPath(r)]
	return ok && subs == nil
}

// subs returns the sub-attributes the selection names for r's attribute, or nil.
func (s selection) subs(r Resolved) map[string]bool {
	return s.attrs[topPath(r)]
}

// projectSubs copies a complex value (or each value of a multi-valued one) keeping the
// sub-attributes in keep (all when keep is nil, plus returned:"always" ones) minus those in
// drop. Values left empty are dropped; nil is returned when nothing is left.
func projectSubs(a *Attribute, v any, keep, drop map[string]bool) any {
	one := func(v any) any {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		out := map[string]any{}
		for k, sv := range m {
			sa := a.Sub(k)
			if sa == nil || sa.Returned == ReturnedNever || drop[sa.Name] {
				continue
			}
			if keep != nil && !keep[sa.Name] && sa.Returned != ReturnedAlways {
				continue
			}
			out[k] = DeepCopy(sv)
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	list, ok := v.([]any)
	if !ok {
		return one(v)
	}
	var out []any
	for _, item := range list {
		if p := one(item); p != nil {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// DeepCopy returns a copy of a decoded JSON value that shares no maps or slices with v.
func DeepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return Clone(t)
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = DeepCopy(x)
		}
		return out
	default:
		return v
	}
}

// Clone returns a deep copy of a decoded JSON object (nil for nil).
func Clone(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = DeepCopy(v)
	}
	return out
}
