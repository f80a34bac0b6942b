package filter

import (
	"cmp"
	"strings"
	"time"

	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/scim/schema"
)

// Match reports whether the canonical document doc (as produced by schema.Normalize, plus id,
// externalId and meta) satisfies e. Attribute names resolve against rt case-insensitively.
//
//   - Strings compare case-insensitively, folded by naming.Fold as the indexes and object names
//     are, unless the attribute is caseExact (userName does not, id and externalId do); dateTime values compare as instants (meta.lastModified gt
//     "2011-05-13T04:42:34Z"); booleans accept true/false or their string forms; numbers
//     compare numerically. A literal of the wrong type never matches (run Coerce first so
//     that an unquoted number compared with a string attribute is read as its text).
//   - On a multi-valued attribute a comparison matches when any value matches; a complex
//     attribute named without a sub-attribute (emails eq "x") compares its "value"
//     sub-attribute.
//   - ne is the negation of eq, so it matches a missing attribute; every other comparison on a
//     missing or unknown attribute is false. "eq null" matches a missing attribute and
//     "ne null" a present one.
//   - pr matches a non-empty value: not null, "", [] or {} (RFC 7644 §3.4.2.2).
//   - A value path matches when one value of the attribute satisfies the inner filter, whose
//     paths name sub-attributes.
func Match(rt schema.ResourceType, e Expr, doc map[string]any) bool {
	switch n := e.(type) {
	case *Logical:
		if n.Op == And {
			return Match(rt, n.Left, doc) && Match(rt, n.Right, doc)
		}
		return Match(rt, n.Left, doc) || Match(rt, n.Right, doc)
	case *Not:
		return !Match(rt, n.Expr, doc)
	case *Present:
		r, ok := rt.Resolve(n.Path.URN, n.Path.Attr, n.Path.SubAttr)
		return ok && anyPresent(collect(r.Value(doc), r.Sub))
	case *Comparison:
		r, ok := rt.Resolve(n.Path.URN, n.Path.Attr, n.Path.SubAttr)
		if !ok {
			return compareAll(nil, nil, n.Op, n.Value)
		}
		def, sub := r.Leaf(), r.Sub
		if sub == "" && r.Attr.Type == schema.TypeComplex {
			def, sub = r.Attr.Sub("value"), "value"
		}
		return compareAll(def, collect(r.Value(doc), sub), n.Op, n.Value)
	case *ValuePath:
		return matchValuePath(rt, n.Path, n.Filter, doc)
	}
	return false
}

// MatchValue reports whether value, one value of the complex attribute at path, satisfies the
// value filter f (the expression between the brackets of a value path). The PATCH code uses it
// to select the values a path such as emails[type eq "work"] targets.
func MatchValue(rt schema.ResourceType, path AttrPath, f Expr, value map[string]any) bool {
	r, ok := rt.Resolve(path.URN, path.Attr, "")
	return ok && r.Attr.Type == schema.TypeComplex && matchElem(r.Attr, f, value)
}

func matchValuePath(rt schema.ResourceType, path AttrPath, f Expr, doc map[string]any) bool {
	r, ok := rt.Resolve(path.URN, path.Attr, "")
	if !ok || r.Attr.Type != schema.TypeComplex || path.SubAttr != "" {
		return false
	}
	for _, v := range collect(r.Value(doc), "") {
		if m, ok := v.(map[string]any); ok && matchElem(r.Attr, f, m) {
			return true
		}
	}
	return false
}

// matchElem evaluates a value filter against one value of the complex attribute parent.
func matchElem(parent *schema.Attribute, e Expr, elem map[string]any) bool {
	switch n := e.(type) {
	case *Logical:
		if n.Op == And {
			return matchElem(parent, n.Left, elem) && matchElem(parent, n.Right, elem)
		}
		return matchElem(parent, n.Left, elem) || matchElem(parent, n.Right, elem)
	case *Not:
		return !matchElem(parent, n.Expr, elem)
	case *Present:
		sa := subOf(parent, n.Path)
		return sa != nil && anyPresent(collect(schema.Field(elem, sa.Name), ""))
	case *Comparison:
		sa := subOf(parent, n.Path)
		if sa == nil {
			return compareAll(nil, nil, n.Op, n.Value)
		}
		return compareAll(sa, collect(schema.Field(elem, sa.Name), ""), n.Op, n.Value)
	}
	return false // nested value paths do not parse
}

// subOf resolves a path inside a value filter: a bare sub-attribute name of parent.
func subOf(parent *schema.Attribute, p AttrPath) *schema.Attribute {
	if p.URN != "" || p.SubAttr != "" {
		return nil
	}
	return parent.Sub(p.Attr)
}

// collect flattens a value into the list of values a comparison looks at: the elements of a
// multi-valued attribute, or each element's sub-attribute sub when sub is not empty.
func collect(v any, sub string) []any {
	var out []any
	add := func(x any) {
		if list, ok := x.([]any); ok {
			for _, y := range list {
				if y != nil {
					out = append(out, y)
				}
			}
		} else if x != nil {
			out = append(out, x)
		}
	}
	if sub == "" {
		add(v)
		return out
	}
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	for _, item := range items {
		if m, ok := item.(map[string]any); ok {
			add(schema.Field(m, sub))
		}
	}
	return out
}

func anyPresent(vals []any) bool {
	for _, v := range vals {
		switch t := v.(type) {
		case string:
			if t != "" {
				return true
			}
		case map[string]any:
			if len(t) > 0 {
				return true
			}
		case []any:
			if anyPresent(t) {
				return true
			}
		case nil:
		default:
			return true
		}
	}
	return false
}

// compareAll applies a comparison to the values of an attribute (def nil when it has no
// comparable definition).
func compareAll(def *schema.Attribute, vals []any, op CompareOp, lit any) bool {
	if lit == nil {
		switch op {
		case Eq:
			return !anyPresent(vals)
		case Ne:
			return anyPresent(vals)
		}
		return false
	}
	if op == Ne {
		return !compareAll(def, vals, Eq, lit)
	}
	if def == nil {
		return false
	}
	for _, v := range vals {
		if compareOne(def, v, op, lit) {
			return true
		}
	}
	return false
}

func compareOne(def *schema.Attribute, v any, op CompareOp, lit any) bool {
	switch def.Type {
	case schema.TypeBoolean:
		a, ok1 := toBool(v)
		b, ok2 := toBool(lit)
		return ok1 && ok2 && op == Eq && a == b
	case schema.TypeInteger, schema.TypeDecimal:
		a, ok1 := schema.ToFloat(v)
		b, ok2 := schema.ToFloat(lit)
		return ok1 && ok2 && ordered(op, cmp.Compare(a, b))
	case schema.TypeComplex:
		return false
	}
	a, ok1 := v.(string)
	b, ok2 := lit.(string)
	if !ok1 || !ok2 {
		return false
	}
	return CompareString(def, a, op, b)
}

// CompareString is Match's comparison of one string value a of the attribute def (of a type
// that is compared as a string: string, reference, binary or dateTime) with the string literal
// b, op being neither ne nor pr: for a scan that reads a resource's strings in place
// (internal/userscan) and must decide as Match does.
func CompareString(def *schema.Attribute, a string, op CompareOp, b string) bool {
	if def.Type == schema.TypeDateTime {
		ta, err1 := time.Parse(time.RFC3339Nano, a)
		tb, err2 := time.Parse(time.RFC3339Nano, b)
		if err1 == nil && err2 == nil && op != Co && op != Sw && op != Ew {
			return ordered(op, ta.Compare(tb))
		}
	} else if !def.CaseExact {
		b = naming.Fold(b)
		if len(a) <= maxFoldInPlace && ascii(a) {
			return compareFolded(a, op, b)
		}
		a = naming.Fold(a)
	}
	switch op {
	case Co:
		return strings.Contains(a, b)
	case Sw:
		return strings.HasPrefix(a, b)
	case Ew:
		return strings.HasSuffix(a, b)
	}
	return ordered(op, strings.Compare(a, b))
}

// ordered applies eq, gt, ge, lt or le to the result of a three-way comparison.
func ordered(op CompareOp, c int) bool {
	switch op {
	case Eq:
		return c == 0
	case Gt:
		return c > 0
	case Ge:
		return c >= 0
	case Lt:
		return c < 0
	case Le:
		return c <= 0
	}
	return false
}

func toBool(v any) (bool, bool) {
	switch b := v.(type) {
	case bool:
		return b, true
	case string:
		switch {
		case strings.EqualFold(b, "true"):
			return true, true
		case strings.EqualFold(b, "false"):
			return false, true
		}
	}
	return false, false
}
