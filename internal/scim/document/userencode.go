package document

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/scim/schema"
)

// UserEncoder writes projected User documents straight to JSON: the bytes json.Marshal gives
// for p.Apply(User(u, meta)) with the groups added, without building either map. A list page
// of 100 users spent most of its time and allocations building, projecting and encoding
// those maps (docs/benchmarks.md, "A page of 100 users, rendered"). encoding/json writes a
// map's keys sorted, so the encoder writes every object's keys sorted too; values are written
// as structMap renders them (a test compares the two for varied users and projections).
type UserEncoder struct {
	top []topKey // the top-level keys the projection keeps, sorted
	// ent holds the enterprise extension's attributes the projection keeps, sorted.
	ent []field
	// entKnown: rt knows the enterprise schema (its URN stays in "schemas").
	entKnown bool
	groups   bool
}

// topKey is a top-level key of the document and where its value comes from.
type topKey struct {
	name string
	kind int // one of the key* constants
	f    field
}

const (
	keySpec = iota
	keyID
	keyMeta
	keyGroups
	keyEnterprise
	keySchemas
)

// NewUserEncoder returns the encoder of p's User documents, and false when it cannot write
// them: p cuts an attribute to some of its sub-attributes, or the spec type is not one
// structMap renders itself. Users with custom extension values are not for it either
// (Encodes).
func NewUserEncoder(rt schema.ResourceType, p schema.Projection) (*UserEncoder, bool) {
	if !p.Whole() || !plain(userSpecT) {
		return nil, false
	}
	_, entKnown := rt.SchemaURN(schema.EnterpriseUserSchema)
	e := &UserEncoder{top: []topKey{{name: "schemas", kind: keySchemas}}, entKnown: entKnown}
	specFields := fieldsOf(userSpecT)
	entFields := fieldsOf(reflect.TypeFor[rosterv1.EnterpriseUser]())
	hasEnt := false
	for _, r := range p.Kept() {
		switch {
		case r.Extension && r.Schema == schema.EnterpriseUserSchema:
			i := exactField(entFields, r.Name)
			if i < 0 {
				if fieldIndex(entFields, r.Name) >= 0 {
					return nil, false // spelled otherwise than the schema: Field's fallback
				}
				continue
			}
			e.ent = append(e.ent, entFields[i])
			hasEnt = true
		case r.Extension:
			// A custom extension: its values live in Extensions, which users rendered here
			// do not have.
		case r.Name == "id":
			e.top = append(e.top, topKey{name: r.Name, kind: keyID})
		case r.Name == "meta":
			e.top = append(e.top, topKey{name: r.Name, kind: keyMeta})
		case r.Name == "groups":
			e.top = append(e.top, topKey{name: r.Name, kind: keyGroups})
			e.groups = true
		default:
			i := exactField(specFields, r.Name)
			if i < 0 || specFields[i].name == enterpriseKey || specFields[i].name == extensionsKey {
				if fieldIndex(specFields, r.Name) >= 0 {
					return nil, false // a spec field spelled otherwise than the schema: Field's fallback
				}
				continue // not stored: never in the document
			}
			e.top = append(e.top, topKey{name: r.Name, kind: keySpec, f: specFields[i]})
		}
	}
	if hasEnt {
		e.top = append(e.top, topKey{name: schema.EnterpriseUserSchema, kind: keyEnterprise})
	}
	e.top = uniqueSorted(e.top)
	slices.SortFunc(e.ent, func(a, b field) int { return strings.Compare(a.name, b.name) })
	e.ent = slices.CompactFunc(e.ent, func(a, b field) bool { return a.name == b.name })
	return e, true
}

// exactField is the position of the field whose JSON name is name, or -1.
func exactField(fields []field, name string) int {
	for i, f := range fields {
		if f.name == name {
			return i
		}
	}
	return -1
}

func uniqueSorted(keys []topKey) []topKey {
	slices.SortStableFunc(keys, func(a, b topKey) int { return strings.Compare(a.name, b.name) })
	return slices.CompactFunc(keys, func(a, b topKey) bool { return a.name == b.name })
}

// SpecFields returns the JSON names of the spec fields e reads: those it writes, the
// enterprise extension (its URN is in "schemas" when present) and the custom extensions
// (Encodes). A caller may decode only these.
func (e *UserEncoder) SpecFields() []string {
	out := []string{enterpriseKey, extensionsKey}
	for _, k := range e.top {
		if k.kind == keySpec {
			out = append(out, k.f.name)
		}
	}
	return out
}

// Groups reports whether the documents carry "groups": the caller reads a user's groups only
// then.
func (e *UserEncoder) Groups() bool { return e.groups }

// Encodes reports whether e writes u's document: not when u has custom extension values,
// which only the organization's schema renders (User and schema.Project).
func (e *UserEncoder) Encodes(u *rosterv1.OrgUser) bool { return len(u.Spec.Extensions) == 0 }

// Append appends u's document to b: meta is its meta attribute, groups the value of its
// "groups" attribute (maps as the SCIM server renders them; nil when it is in no group).
func (e *UserEncoder) Append(b []byte, u *rosterv1.OrgUser, meta Meta, groups []any) ([]byte, error) {
	spec := reflect.ValueOf(&u.Spec).Elem()
	b = append(b, '{')
	first := true
	key := func(name string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, name)
		b = append(b, ':')
	}
	for _, k := range e.top {
		switch k.kind {
		case keySchemas:
			key(k.name)
			b = append(b, `["`+schema.UserSchema+`"`...)
			if u.Spec.Enterprise != nil && e.entKnown {
				b = append(b, `,"`+schema.EnterpriseUserSchema+`"`...)
			}
			b = append(b, ']')
		case keyID:
			key(k.name)
			b = appendString(b, u.Name)
		case keyMeta:
			// Meta.Map's values, with its keys sorted.
			key(k.name)
			b = append(b, `{"created":"`...)
			b = meta.Created.UTC().AppendFormat(b, time.RFC3339)
			b = append(b, `","lastModified":"`...)
			b = meta.LastModified.UTC().AppendFormat(b, time.RFC3339Nano)
			b = append(b, `","location":`...)
			b = appendString(b, meta.Location)
			b = append(b, `,"resourceType":`...)
			b = appendString(b, meta.ResourceType)
			b = append(b, `,"version":`...)
			b = appendETag(b, meta.Version)
			b = append(b, '}')
		case keyGroups:
			if len(groups) == 0 {
				continue
			}
			key(k.name)
			var err error
			if b, err = appendAny(b, groups); err != nil {
				return b, err
			}
		case keyEnterprise:
			if u.Spec.Enterprise == nil {
				continue
			}
			ent := reflect.ValueOf(u.Spec.Enterprise).Elem()
			open := false
			for _, f := range e.ent {
				fv, ok := present(ent, f)
				if !ok {
					continue
				}
				if !open {
					key(k.name)
					b = append(b, '{')
				} else {
					b = append(b, ',')
				}
				open = true
				b = appendString(b, f.name)
				b = append(b, ':')
				b = appendField(b, fv, f)
			}
			if open {
				b = append(b, '}')
			}
		case keySpec:
			fv, ok := present(spec, k.f)
			if !ok {
				continue
			}
			key(k.name)
			b = appendField(b, fv, k.f)
		}
	}
	return append(b, '}'), nil
}

// rendered returns field f of the struct rv, and false when structMap leaves it out
// (fieldValue).
func rendered(rv reflect.Value, f field) (reflect.Value, bool) {
	fv := rv.Field(f.index)
	if f.omitEmpty && fv.IsZero() && fv.Kind() != reflect.Struct {
		return fv, false
	}
	if f.omitEmpty && (fv.Kind() == reflect.Slice || fv.Kind() == reflect.Map) && fv.Len() == 0 {
		return fv, false
	}
	return fv, true
}

// present returns field f of the struct rv when the projected document has it: structMap
// renders it and its value is not null (Project skips nil values).
func present(rv reflect.Value, f field) (reflect.Value, bool) {
	fv, ok := rendered(rv, f)
	if !ok {
		return fv, false
	}
	if f.viaJSON {
		return fv, jsonValue(fv.Interface()) != nil
	}
	for v := fv; ; v = v.Elem() {
		switch {
		case v.Kind() == reflect.Pointer && v.IsNil(), v.Kind() == reflect.Slice && v.IsNil():
			return fv, false
		case v.Kind() != reflect.Pointer:
			return fv, true
		}
	}
}

// appendField appends a field's value as structMap renders it, then encoding/json encodes it.
func appendField(b []byte, v reflect.Value, f field) []byte {
	if f.viaJSON {
		enc, _ := json.Marshal(jsonValue(v.Interface())) // decoded JSON always encodes
		return append(b, enc...)
	}
	return appendValue(b, v)
}

// appendValue appends what json.Marshal(value(v)) gives.
func appendValue(b []byte, v reflect.Value) []byte {
	switch v.Kind() {
	case reflect.String:
		return appendString(b, v.String())
	case reflect.Bool:
		if v.Bool() {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Float64:
		enc, _ := json.Marshal(value(v)) // a float64, as the round trip gives
		return append(b, enc...)
	case reflect.Pointer:
		if v.IsNil() {
			return append(b, "null"...)
		}
		return appendValue(b, v.Elem())
	case reflect.Slice:
		if v.IsNil() {
			return append(b, "null"...)
		}
		b = append(b, '[')
		for i := range v.Len() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, v.Index(i))
		}
		return append(b, ']')
	case reflect.Struct:
		b = append(b, '{')
		first := true
		for _, f := range sortedFieldsOf(v.Type()) {
			fv, ok := rendered(v, f)
			if !ok {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, f.name)
			b = append(b, ':')
			b = appendField(b, fv, f)
		}
		return append(b, '}')
	}
	return append(b, "null"...) // not reached: plain admits no other kind
}

// sortedFieldsOf returns fieldsOf(t) sorted by name: the order encoding/json writes the keys
// of the map structValue makes.
func sortedFieldsOf(t reflect.Type) []field {
	fieldsMu.RLock()
	fs, ok := sortedCache[t]
	fieldsMu.RUnlock()
	if ok {
		return fs
	}
	fs = slices.Clone(fieldsOf(t))
	slices.SortStableFunc(fs, func(a, b field) int { return strings.Compare(a.name, b.name) })
	fieldsMu.Lock()
	sortedCache[t] = fs
	fieldsMu.Unlock()
	return fs
}

var sortedCache = map[reflect.Type][]field{}

// appendString appends s as encoding/json encodes a string, HTML-safe escapes included, in one
// pass: ASCII is escaped here (the quote, the backslash, and '<', '>', '&' as \u003c, \u003e,
// \u0026, as json.Marshal writes them); a string with a control character or anything not
// ASCII is left to encoding/json whole.
func appendString(b []byte, s string) []byte {
	start := len(b)
	b = append(b, '"')
	last := 0
	for i := 0; i < len(s); i++ {
		switch asciiEscapes[s[i]] {
		case escNone:
			continue
		case escJSON:
			enc, _ := json.Marshal(s) // a string always encodes
			return append(b[:start], enc...)
		}
		b = append(b, s[last:i]...)
		b = append(b, asciiEscape(s[i])...)
		last = i + 1
	}
	b = append(b, s[last:]...)
	return append(b, '"')
}

// appendETag appends appendString(b, ETag(version)) without building the tag.
func appendETag(b []byte, version string) []byte {
	for i := 0; i < len(version); i++ {
		if asciiEscapes[version[i]] != escNone {
			return appendString(b, ETag(version))
		}
	}
	b = append(b, `"W/\"`...)
	b = append(b, version...)
	return append(b, `\""`...)
}

const (
	escNone = iota // copied as is
	escHere        // escaped by asciiEscape
	escJSON        // left to encoding/json
)

// asciiEscapes classifies every byte for appendString.
var asciiEscapes = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c < 0x20 || c >= 0x80:
			t[c] = escJSON
		case c == '"' || c == '\\' || c == '<' || c == '>' || c == '&':
			t[c] = escHere
		}
	}
	return t
}()

func asciiEscape(c byte) string {
	switch c {
	case '"':
		return `\"`
	case '\\':
		return `\\`
	case '<':
		return `\u003c`
	case '>':
		return `\u003e`
	}
	return `\u0026`
}

// appendAny appends what json.Marshal gives for a decoded JSON value (maps of strings to
// values, lists, strings, booleans, null): a user's groups. Numbers and other types are left
// to encoding/json.
func appendAny(b []byte, v any) ([]byte, error) {
	var err error
	switch t := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, t), nil
	case bool:
		if t {
			return append(b, "true"...), nil
		}
		return append(b, "false"...), nil
	case []any:
		b = append(b, '[')
		for i, e := range t {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendAny(b, e); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		b = append(b, '{')
		for i, k := range slices.Sorted(maps.Keys(t)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			if b, err = appendAny(b, t[k]); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	}
	enc, err := json.Marshal(v)
	return append(b, enc...), err
}
