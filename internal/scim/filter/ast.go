package filter

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Expr is a node of a parsed filter: *Comparison, *Present, *Logical, *Not or *ValuePath.
type Expr interface {
	// String prints the node in canonical form: operators and keywords in lower case, single
	// spaces, parentheses only where needed, literals in JSON form. Parsing the output yields
	// an equal tree, provided it still fits in MaxLength (the canonical form can be a little
	// longer than the input: it adds spaces, and JSON escapes U+2028 and U+2029).
	String() string
	isExpr()
}

// AttrPath is an attribute path: an optional schema URN, an attribute name and an optional
// sub-attribute, spelled as in the filter (the parser does not know the schema; see
// schema.ResourceType.Resolve).
type AttrPath struct {
	URN     string
	Attr    string
	SubAttr string
}

// String prints the path as urn:attr.subAttr, leaving out the empty parts.
func (p AttrPath) String() string {
	var b strings.Builder
	if p.URN != "" {
		b.WriteString(p.URN)
		b.WriteByte(':')
	}
	b.WriteString(p.Attr)
	if p.SubAttr != "" {
		b.WriteByte('.')
		b.WriteString(p.SubAttr)
	}
	return b.String()
}

// CompareOp is a comparison operator.
type CompareOp string

// The comparison operators of RFC 7644 §3.4.2.2 (pr is the Present node).
const (
	Eq CompareOp = "eq"
	Ne CompareOp = "ne"
	Co CompareOp = "co"
	Sw CompareOp = "sw"
	Ew CompareOp = "ew"
	Gt CompareOp = "gt"
	Ge CompareOp = "ge"
	Lt CompareOp = "lt"
	Le CompareOp = "le"
)

// LogicalOp is "and" or "or".
type LogicalOp string

// The binary logical operators.
const (
	And LogicalOp = "and"
	Or  LogicalOp = "or"
)

// Comparison is `path op value`. Value is a string, a json.Number (an unquoted number, with
// the text the client sent), a bool, or nil for null.
type Comparison struct {
	Path  AttrPath
	Op    CompareOp
	Value any
}

// Present is `path pr`.
type Present struct {
	Path AttrPath
}

// Logical is `left and right` or `left or right`.
type Logical struct {
	Op          LogicalOp
	Left, Right Expr
}

// Not is `not (expr)`.
type Not struct {
	Expr Expr
}

// ValuePath is `path[filter]`: true when one value of the multi-valued (or complex) attribute
// at Path satisfies Filter, whose attribute paths name sub-attributes of Path.
type ValuePath struct {
	Path   AttrPath
	Filter Expr
}

func (*Comparison) isExpr() {}
func (*Present) isExpr()    {}
func (*Logical) isExpr()    {}
func (*Not) isExpr()        {}
func (*ValuePath) isExpr()  {}

// String prints `path op value`.
func (c *Comparison) String() string {
	return c.Path.String() + " " + string(c.Op) + " " + literal(c.Value)
}

// String prints `path pr`.
func (p *Present) String() string { return p.Path.String() + " pr" }

// String prints `not (expr)`.
func (n *Not) String() string { return "not (" + n.Expr.String() + ")" }

// String prints `path[filter]`.
func (v *ValuePath) String() string { return v.Path.String() + "[" + v.Filter.String() + "]" }

// String parenthesises an operand when printing it bare would parse differently: an "or"
// under an "and", and a right operand of the same operator (the parser groups to the left).
func (l *Logical) String() string {
	return operand(l.Op, l.Left, false) + " " + string(l.Op) + " " + operand(l.Op, l.Right, true)
}

func operand(parent LogicalOp, e Expr, right bool) string {
	if c, ok := e.(*Logical); ok && ((parent == And && c.Op == Or) || (right && c.Op == parent)) {
		return "(" + e.String() + ")"
	}
	return e.String()
}

// literal prints a comparison value as JSON (without HTML escaping, so "<" stays readable).
func literal(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "null"
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// Refers reports whether e reads the top-level attribute attr (case-insensitively), e.g.
// whether a Group filter needs the members, which are costly to load.
func Refers(e Expr, attr string) bool {
	switch n := e.(type) {
	case *Comparison:
		return strings.EqualFold(n.Path.Attr, attr)
	case *Present:
		return strings.EqualFold(n.Path.Attr, attr)
	case *ValuePath:
		return strings.EqualFold(n.Path.Attr, attr)
	case *Logical:
		return Refers(n.Left, attr) || Refers(n.Right, attr)
	case *Not:
		return Refers(n.Expr, attr)
	}
	return false
}
