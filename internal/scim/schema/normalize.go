package schema

import (
	"encoding/json"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// Normalize turns a decoded JSON request body (POST, PUT, or a document after PATCH) into a new
// canonical document of rt. doc is not modified.
//
//   - Attribute names take their canonical case (Entra sends any case).
//   - Values are checked against the attribute type; a wrong type is a 400 invalidValue naming
//     the attribute. Booleans given as strings ("True", "false") become bool, as Entra sends
//     them; a bare value for a complex attribute with a "value" sub-attribute becomes
//     {"value": …} (Entra's manager); a single value for a multi-valued attribute becomes a
//     one-element array.
//   - readOnly attributes (id, meta, groups, manager.displayName) and returned:"never"
//     attributes (password, which must never be stored) are dropped, as are unknown attributes
//     and objects under unknown schema URNs: IdPs send them and they must not fail a request.
//   - null, empty objects and empty arrays mean "unset" and are dropped (RFC 7643 §2.5).
//   - Extension attributes are kept under their schema URN key; URN-qualified top-level keys
//     ("urn:…:User:employeeNumber") are moved there and win over an extension object's entry.
//   - "schemas" is rewritten to the core schema URN plus the extensions present.
//   - In a multi-valued attribute at most one value keeps primary:true (the first).
//   - Missing required attributes (userName, Group displayName, members.value) are a 400
//     invalidValue.
func Normalize(rt ResourceType, doc map[string]any) (map[string]any, error) {
	return NormalizeExempt(rt, doc, nil)
}

// NormalizeExempt is Normalize where a missing required attribute for which exempt returns
// true is no error: a PATCH is checked only on what it touches, so an attribute declared
// required after a user was stored must not block the PATCH that deactivates the user.
func NormalizeExempt(rt ResourceType, doc map[string]any, exempt func(Resolved) bool) (map[string]any, error) {
	out := map[string]any{}
	var qualified []string
	for _, k := range slices.Sorted(maps.Keys(doc)) {
		v := doc[k]
		if strings.EqualFold(k, "schemas") {
			continue
		}
		if urn, ok := rt.SchemaURN(k); ok {
			if err := normalizeSchemaObject(rt, urn, v, out); err != nil {
				return nil, err
			}
			continue
		}
		if len(k) >= 4 && strings.EqualFold(k[:4], "urn:") {
			qualified = append(qualified, k)
			continue
		}
		if err := normalizeTop(rt, "", k, v, out); err != nil {
			return nil, err
		}
	}
	for _, k := range qualified {
		urn, name, sub := SplitPath(k)
		if sub != "" {
			continue // "urn:…:name.givenName" is a PATCH form, not a body attribute
		}
		if err := normalizeTop(rt, urn, name, doc[k], out); err != nil {
			return nil, err
		}
	}
	if err := checkRequired(rt, out, exempt); err != nil {
		return nil, err
	}
	SetSchemas(rt, out)
	return out, nil
}

// SetSchemas rewrites the "schemas" of the canonical document out: the core schema URN plus
// the extensions that hold a value (empty extension objects are removed).
func SetSchemas(rt ResourceType, out map[string]any) {
	schemas := []any{rt.Schema}
	for _, ext := range rt.Extensions {
		if m, ok := out[ext].(map[string]any); ok && len(m) > 0 {
			schemas = append(schemas, ext)
		} else {
			delete(out, ext)
		}
	}
	out["schemas"] = schemas
}

// normalizeSchemaObject handles a key that is a schema URN: an extension object, or (rarely)
// the core schema URN wrapping core attributes.
func normalizeSchemaObject(rt ResourceType, urn string, v any, out map[string]any) error {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return scimerror.BadRequest(scimerror.InvalidValue, "%q must be an object", urn)
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if err := normalizeTop(rt, urn, k, m[k], out); err != nil {
			return err
		}
	}
	return nil
}

// normalizeTop normalises one top-level attribute and stores it into out (or its extension
// object). Unknown and non-writable attributes are skipped.
func normalizeTop(rt ResourceType, urn, name string, v any, out map[string]any) error {
	r, ok := rt.Resolve(urn, name, "")
	if !ok || !storable(r.Attr) {
		return nil
	}
	nv, err := NormalizeValue(r.Attr, r.Path(), v)
	if err != nil {
		return err
	}
	c := r.Container(out, nv != nil)
	if c == nil {
		return nil
	}
	if nv == nil {
		DeleteField(c, r.Name)
		return nil
	}
	SetField(c, r.Name, nv)
	return nil
}

// storable reports whether a client-supplied value of a is kept: readOnly values are the
// server's, and password is never stored. (A custom writeOnly attribute is stored: it is
// returned never, but kept for the identity store.)
func storable(a *Attribute) bool {
	return a.Mutability != ReadOnly && !a.Discarded
}

// NormalizeValue checks and canonicalises a value of attribute a (see Normalize for the rules)
// and returns it, or nil when it is unset. path names the attribute in error details. For
// one element of a multi-valued attribute, pass a copy of a with MultiValued false.
func NormalizeValue(a *Attribute, path string, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if !a.MultiValued {
		return normalizeSingle(a, path, v)
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	out := make([]any, 0, len(list))
	for _, item := range list {
		nv, err := normalizeSingle(a, path, item)
		if err != nil {
			return nil, err
		}
		if nv != nil {
			out = append(out, nv)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	OnePrimary(out, -1)
	return out, nil
}

// OnePrimary makes sure at most one element of a multi-valued complex attribute has
// primary:true: the element at keep if it has, else the first that has. The others get
// primary:false.
func OnePrimary(values []any, keep int) {
	if keep < 0 || keep >= len(values) || !isPrimary(values[keep]) {
		keep = slices.IndexFunc(values, isPrimary)
	}
	for i, v := range values {
		if i != keep && isPrimary(v) {
			v.(map[string]any)["primary"] = false
		}
	}
}

func isPrimary(v any) bool {
	m, ok := v.(map[string]any)
	return ok && m["primary"] == true
}

func normalizeSingle(a *Attribute, path string, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch a.Type {
	case TypeComplex:
		return normalizeComplex(a, path, v)
	case TypeBoolean:
		switch b := v.(type) {
		case bool:
			return b, nil
		case string:
			// Entra sends "True"/"False".
			if strings.EqualFold(b, "true") {
				return true, nil
			}
			if strings.EqualFold(b, "false") {
				return false, nil
			}
		}
		return nil, invalid(path, "a boolean", v)
	case TypeInteger, TypeDecimal:
		f, ok := ToFloat(v)
		if !ok || (a.Type == TypeInteger && f != math.Trunc(f)) {
			return nil, invalid(path, "an "+string(a.Type), v)
		}
		return v, nil
	case TypeDateTime:
		s, ok := v.(string)
		if !ok {
			return nil, invalid(path, "a dateTime string", v)
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return nil, scimerror.BadRequest(scimerror.InvalidValue, "attribute %q must be an RFC 3339 dateTime, got %q", path, s)
		}
		return s, nil
	default: // string, reference, binary
		s, ok := v.(string)
		if !ok {
			return nil, invalid(path, "a string", v)
		}
		if a.StrictCanonical && len(a.CanonicalValues) > 0 {
			return canonical(a, path, s)
		}
		return s, nil
	}
}

func normalizeComplex(a *Attribute, path string, v any) (any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		if _, isList := v.([]any); isList || a.Sub("value") == nil {
			return nil, invalid(path, "an object", v)
		}
		// A bare value stands for {"value": v}: Entra sends the manager's id this way.
		m = map[string]any{"value": v}
	}
	out := map[string]any{}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		sa := a.Sub(k)
		if sa == nil || !storable(sa) {
			continue
		}
		nv, err := normalizeSingle(sa, path+"."+sa.Name, m[k])
		if err != nil {
			return nil, err
		}
		if nv == nil {
			delete(out, sa.Name)
			continue
		}
		out[sa.Name] = nv
	}
	if len(out) == 0 {
		return nil, nil
	}
	for _, sa := range a.SubAttributes {
		if sa.Required {
			if _, ok := out[sa.Name]; !ok {
				return nil, scimerror.BadRequest(scimerror.InvalidValue, "attribute %q is required", path+"."+sa.Name)
			}
		}
	}
	return out, nil
}

// canonical returns the declared spelling of s among a's canonical values (compared
// case-insensitively unless a is caseExact), or a 400 invalidValue listing them.
func canonical(a *Attribute, path, s string) (any, error) {
	for _, c := range a.CanonicalValues {
		if c == s || (!a.CaseExact && strings.EqualFold(c, s)) {
			return c, nil
		}
	}
	return nil, scimerror.BadRequest(scimerror.InvalidValue, "attribute %q must be one of %q, got %q", path, a.CanonicalValues, s)
}

// CheckImmutable refuses a change of an immutable attribute that has a value (RFC 7643 §7:
// it may be set when it has none, and never changed after): 400 mutability naming it. before
// and after are canonical documents of rt.
func CheckImmutable(rt ResourceType, before, after map[string]any) error {
	for _, r := range rt.Attributes() {
		if r.Attr.Mutability != Immutable {
			continue
		}
		old := r.Value(before)
		if old != nil && !reflect.DeepEqual(old, r.Value(after)) {
			return scimerror.BadRequest(scimerror.Mutability, "attribute %q is immutable: it is set and cannot change", r.Path())
		}
	}
	return nil
}

func checkRequired(rt ResourceType, doc map[string]any, exempt func(Resolved) bool) error {
	for _, r := range rt.Attributes() {
		if r.Extension && !slices.Contains(rt.Required, r.Schema) && Field(doc, r.Schema) == nil {
			continue // an optional extension that is absent: its required attributes are too
		}
		if r.Attr.Required && r.Value(doc) == nil && (exempt == nil || !exempt(r)) {
			return scimerror.BadRequest(scimerror.InvalidValue, "attribute %q is required", r.Path())
		}
	}
	return nil
}

func invalid(path, want string, got any) error {
	return scimerror.BadRequest(scimerror.InvalidValue, "attribute %q must be %s, got %s", path, want, jsonKind(got))
}

// jsonKind names the JSON type of a decoded value for error details.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	if _, ok := ToFloat(v); ok {
		return "a number"
	}
	return "an unsupported value"
}

// ToFloat converts a decoded JSON number (float64, json.Number or a Go integer) to float64.
func ToFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}
