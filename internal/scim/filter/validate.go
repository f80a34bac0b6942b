package filter

import (
	"encoding/json"
	"time"

	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// Validate checks e against the attributes of rt, for a server that wants to reject filters
// Match could never satisfy rather than answer them with no results. It returns a 400
// invalidFilter *scimerror.Error for an unknown attribute, a value path on an attribute that is
// not complex or whose filter names an unknown sub-attribute, gt/ge/lt/le on a boolean, binary
// or complex attribute (RFC 7644 §3.4.2.2), a literal whose type cannot match the attribute's
// (a boolean attribute accepts "true"/"false" strings, as Entra sends them), and a number
// beyond float64 range (1e400) compared with a numeric attribute. An attribute or sub-attribute
// whose returned is "never" (password, a custom writeOnly secret) is invalidFilter too: lists
// match against the stored document, so `secret sw "a"` would reveal the value a prefix at a
// time.
func Validate(rt schema.ResourceType, e Expr) error {
	switch n := e.(type) {
	case *Logical:
		if err := Validate(rt, n.Left); err != nil {
			return err
		}
		return Validate(rt, n.Right)
	case *Not:
		return Validate(rt, n.Expr)
	case *Present:
		_, err := resolve(rt, n.Path)
		return err
	case *Comparison:
		r, err := resolve(rt, n.Path)
		if err != nil {
			return err
		}
		def := r.Leaf()
		if r.Sub == "" && r.Attr.Type == schema.TypeComplex {
			def = r.Attr.Sub("value")
			if def != nil && def.Returned == schema.ReturnedNever {
				return neverReturned(n.Path)
			}
		}
		return checkComparison(def, n)
	case *ValuePath:
		r, err := resolve(rt, n.Path)
		if err != nil {
			return err
		}
		if r.Sub != "" || r.Attr.Type != schema.TypeComplex {
			return scimerror.BadRequest(scimerror.InvalidFilter, "attribute %q is not complex and cannot take a value filter", n.Path)
		}
		return validateElem(r.Attr, n.Path, n.Filter)
	}
	return nil
}

func validateElem(parent *schema.Attribute, path AttrPath, e Expr) error {
	var p AttrPath
	switch n := e.(type) {
	case *Logical:
		if err := validateElem(parent, path, n.Left); err != nil {
			return err
		}
		return validateElem(parent, path, n.Right)
	case *Not:
		return validateElem(parent, path, n.Expr)
	case *Present:
		p = n.Path
	case *Comparison:
		p = n.Path
	}
	sa := subOf(parent, p)
	if sa == nil {
		return scimerror.BadRequest(scimerror.InvalidFilter, "%q is not a sub-attribute of %q", p, path)
	}
	if sa.Returned == schema.ReturnedNever {
		return neverReturned(p)
	}
	if c, ok := e.(*Comparison); ok {
		return checkComparison(sa, c)
	}
	return nil
}

func resolve(rt schema.ResourceType, p AttrPath) (schema.Resolved, error) {
	r, ok := rt.Resolve(p.URN, p.Attr, p.SubAttr)
	if !ok {
		return r, scimerror.BadRequest(scimerror.InvalidFilter, "unknown attribute %q for resource type %s", p, rt.Name)
	}
	if r.NeverReturned() {
		return r, neverReturned(p)
	}
	return r, nil
}

func neverReturned(p AttrPath) error {
	return scimerror.BadRequest(scimerror.InvalidFilter, "attribute %q is never returned and cannot be filtered on", p)
}

func checkComparison(def *schema.Attribute, c *Comparison) error {
	bad := func(why string) error {
		return scimerror.BadRequest(scimerror.InvalidFilter, "%q: %s", c.String(), why)
	}
	if def == nil || def.Type == schema.TypeComplex {
		return bad("a complex attribute cannot be compared")
	}
	if c.Value == nil {
		return nil
	}
	switch def.Type {
	case schema.TypeBoolean:
		if c.Op != Eq && c.Op != Ne {
			return bad("a boolean only supports eq and ne")
		}
		if _, ok := toBool(c.Value); !ok {
			return bad("the value must be true or false")
		}
	case schema.TypeInteger, schema.TypeDecimal:
		n, ok := c.Value.(json.Number)
		if !ok {
			return bad("the value must be a number")
		}
		if _, err := n.Float64(); err != nil {
			return bad("the number is out of range")
		}
		if c.Op == Co || c.Op == Sw || c.Op == Ew {
			return bad("a number does not support co, sw or ew")
		}
	default:
		s, ok := c.Value.(string)
		if !ok {
			return bad("the value must be a string")
		}
		if def.Type == schema.TypeBinary && c.Op != Eq && c.Op != Ne {
			return bad("a binary attribute only supports eq and ne")
		}
		if def.Type == schema.TypeDateTime && c.Op != Co && c.Op != Sw && c.Op != Ew {
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				return bad("the value must be an RFC 3339 dateTime")
			}
		}
	}
	return nil
}

// Coerce returns e with every number compared to a string-typed attribute (string, reference,
// binary) of rt replaced by its text exactly as the client wrote it (`12345678901234567890`,
// `1.10`, `123e4` and `1234e567` stay those strings). Such a number can only be an unquoted
// string: Entra sends `externalId eq 1234` for an externalId "1234", and a string attribute
// never equals a number. e is not modified; nodes that need no change are shared.
func Coerce(rt schema.ResourceType, e Expr) Expr {
	return coerce(e, func(p AttrPath) *schema.Attribute {
		r, ok := rt.Resolve(p.URN, p.Attr, p.SubAttr)
		if !ok {
			return nil
		}
		if r.Sub == "" && r.Attr.Type == schema.TypeComplex {
			return r.Attr.Sub("value")
		}
		return r.Leaf()
	}, rt)
}

// CoerceValueFilter is Coerce for the value filter of a PATCH path on the complex attribute
// path (emails[type eq work], addresses[postalCode eq 75001]): its unquoted numbers are read
// as the sub-attributes' types, as a filter's are.
func CoerceValueFilter(rt schema.ResourceType, path AttrPath, f Expr) Expr {
	if vp, ok := Coerce(rt, &ValuePath{Path: path, Filter: f}).(*ValuePath); ok {
		return vp.Filter
	}
	return f
}

func coerce(e Expr, def func(AttrPath) *schema.Attribute, rt schema.ResourceType) Expr {
	switch n := e.(type) {
	case *Logical:
		return &Logical{Op: n.Op, Left: coerce(n.Left, def, rt), Right: coerce(n.Right, def, rt)}
	case *Not:
		return &Not{Expr: coerce(n.Expr, def, rt)}
	case *ValuePath:
		r, ok := rt.Resolve(n.Path.URN, n.Path.Attr, "")
		if !ok {
			return n
		}
		return &ValuePath{Path: n.Path, Filter: coerce(n.Filter, func(p AttrPath) *schema.Attribute { return subOf(r.Attr, p) }, rt)}
	case *Comparison:
		num, isNumber := n.Value.(json.Number)
		a := def(n.Path)
		if !isNumber || a == nil {
			return n
		}
		switch a.Type {
		case schema.TypeString, schema.TypeReference, schema.TypeBinary:
			return &Comparison{Path: n.Path, Op: n.Op, Value: string(num)}
		}
	}
	return e
}

// ValidateAny checks e for a search that spans several resource types (POST /.search at the
// base URL): each attribute expression must be valid, after Coerce, for at least one of rts.
// An attribute only some of the types have is accepted; for the others it is unknown, and
// Restrict gives the filter each type is searched with.
func ValidateAny(rts []schema.ResourceType, e Expr) error {
	switch n := e.(type) {
	case *Logical:
		if err := ValidateAny(rts, n.Left); err != nil {
			return err
		}
		return ValidateAny(rts, n.Right)
	case *Not:
		return ValidateAny(rts, n.Expr)
	}
	var first error
	for _, rt := range rts {
		err := Validate(rt, Coerce(rt, e))
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return first
}
