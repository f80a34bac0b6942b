package filter

import "github.com/rosterhq/roster/internal/scim/schema"

// Restrict returns the filter to apply to the resources of rt in a search that spans several
// resource types (POST /.search at the base URL), coerced to rt's attribute types (Coerce); ok
// is false when no resource of rt can match, so the caller need not look at any. A nil e is
// no filter: (nil, true).
//
// RFC 7644 §3.4.3 lets such a filter name attributes of different resource types. An attribute
// expression (comparison, pr or value path) that Validate refuses for rt, because rt does not
// define the attribute or cannot compare it that way, is neither true nor false for rt's
// resources but unknown, and the filter is read in three-valued logic, as SQL reads NULL:
// "not" of unknown is unknown, "and" is false when a side is false, "or" is true when a side
// is true, and a resource matches only when the whole filter is true. So `userName eq "a" or
// displayName eq "Eng"` finds user a and group Eng, while `userName ne "a"`,
// `not (userName eq "a")`, `userName eq null` and `not (userName pr)` find no group: a group
// has no userName, so no condition on one holds for it. Expressions valid for rt keep the
// meaning they have in a list of rt alone (ne and eq null match a missing value).
func Restrict(rt schema.ResourceType, e Expr) (_ Expr, ok bool) {
	if e == nil {
		return nil, true
	}
	t, _ := truth(rt, Coerce(rt, e))
	return t, t != nil
}

// truth returns a filter true exactly where e is true for rt, and one true exactly where e is
// false; nil stands for a filter that is never true. An unknown expression gives nil for both.
func truth(rt schema.ResourceType, e Expr) (isTrue, isFalse Expr) {
	switch n := e.(type) {
	case *Logical:
		lt, lf := truth(rt, n.Left)
		rt2, rf := truth(rt, n.Right)
		if n.Op == And {
			return both(lt, rt2), either(lf, rf)
		}
		return either(lt, rt2), both(lf, rf)
	case *Not:
		t, f := truth(rt, n.Expr)
		return f, t
	}
	if Validate(rt, e) != nil {
		return nil, nil
	}
	return e, &Not{Expr: e}
}

// both is "a and b", where nil is never true.
func both(a, b Expr) Expr {
	if a == nil || b == nil {
		return nil
	}
	return &Logical{Op: And, Left: a, Right: b}
}

// either is "a or b", where nil is never true.
func either(a, b Expr) Expr {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return &Logical{Op: Or, Left: a, Right: b}
}
