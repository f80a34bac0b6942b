package schema

import (
	"cmp"
	"strings"
	"time"

	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// Compare orders the documents a and b by the attribute at path, for the sortBy query parameter
// (RFC 7644 §3.4.2.3). It returns a negative number when a sorts before b in ascending order,
// a positive number when after, and 0 when they tie.
//
// Strings compare case-insensitively (naming.Fold) unless the attribute is caseExact; dateTime
// values compare as instants, booleans as false < true, numbers numerically. A multi-valued
// attribute sorts by its primary value, or else its first value; a complex attribute without a sub-attribute
// ("emails") sorts by its "value" sub-attribute. A document without a value sorts after one
// with a value, so missing values come last in ascending order and, once the caller reverses
// the result for sortOrder=descending, first in descending order, as the RFC asks. An unknown
// path, and one that is never returned (see CheckSortBy), compare every pair equal.
func Compare(rt ResourceType, path string, a, b map[string]any) int {
	r, ok := rt.Lookup(path)
	if !ok || r.NeverReturned() {
		return 0
	}
	ka, oka := sortKey(r, a)
	kb, okb := sortKey(r, b)
	switch {
	case !oka && !okb:
		return 0
	case !oka:
		return 1
	case !okb:
		return -1
	}
	switch x := ka.(type) {
	case string:
		return strings.Compare(x, kb.(string))
	case float64:
		return cmp.Compare(x, kb.(float64))
	case time.Time:
		return x.Compare(kb.(time.Time))
	case bool:
		y := kb.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		default:
			return 1
		}
	}
	return 0
}

// CheckSortBy refuses a sortBy naming an attribute or sub-attribute of one of rts whose
// returned is "never" with a 400 invalidValue (the scimType Roster's other sortBy refusals
// use; RFC 7644 has none for sortBy): the order of a page would leak the hidden values, the
// position of a probe user revealing a secret bit by bit. Unknown paths are not refused
// (RFC 7644 §3.4.2.3 leaves their order to the server: Compare ties them).
func CheckSortBy(path string, rts ...ResourceType) error {
	if path == "" {
		return nil
	}
	for _, rt := range rts {
		if r, ok := rt.Lookup(path); ok && r.NeverReturned() {
			return scimerror.BadRequest(scimerror.InvalidValue, "sortBy %q names an attribute that is never returned and cannot be sorted on", path)
		}
	}
	return nil
}

// sortKey extracts the value doc sorts by, converted to a comparable Go value of one kind per
// attribute type (a dateTime that does not parse is treated as missing).
func sortKey(r Resolved, doc map[string]any) (any, bool) {
	def := r.Leaf()
	sub := r.Sub
	if sub == "" && r.Attr.Type == TypeComplex {
		sub, def = "value", r.Attr.Sub("value")
		if def == nil {
			return nil, false
		}
	}
	v := pickValue(r.Value(doc), sub)
	if v == nil {
		return nil, false
	}
	switch def.Type {
	case TypeBoolean:
		b, ok := v.(bool)
		return b, ok
	case TypeInteger, TypeDecimal:
		return ToFloat(v)
	case TypeDateTime:
		s, _ := v.(string)
		t, err := time.Parse(time.RFC3339Nano, s)
		return t, err == nil
	default:
		s, ok := v.(string)
		if !ok {
			return nil, false
		}
		if !def.CaseExact {
			s = naming.Fold(s)
		}
		return s, true
	}
}

// pickValue returns v's sub-attribute sub (v itself when sub is ""). For a multi-valued v it
// uses the primary value if it has one, else the first value that has one.
func pickValue(v any, sub string) any {
	get := func(x any) any {
		if sub == "" {
			return x
		}
		m, _ := x.(map[string]any)
		return Field(m, sub)
	}
	list, ok := v.([]any)
	if !ok {
		return get(v)
	}
	for _, x := range list {
		if isPrimary(x) {
			if y := get(x); y != nil {
				return y
			}
		}
	}
	for _, x := range list {
		if y := get(x); y != nil {
			return y
		}
	}
	return nil
}
