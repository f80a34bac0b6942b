package patch

import (
	"reflect"
	"strings"

	"github.com/rosterhq/roster/internal/scim/filter"
	"github.com/rosterhq/roster/internal/scim/schema"
)

// addValues appends values to a multi-valued attribute. A value equal to an existing one
// (sameValue) is merged into it instead of duplicated. It returns the list and the indices of
// the values the add touched.
func addValues(attr *schema.Attribute, list, values []any) ([]any, []int) {
	var touched []int
	for _, v := range values {
		i := -1
		for j, x := range list {
			if sameValue(attr, x, v) {
				i = j
				break
			}
		}
		if i < 0 {
			list = append(list, schema.DeepCopy(v))
			touched = append(touched, len(list)-1)
			continue
		}
		if dst, ok := list[i].(map[string]any); ok {
			for k, x := range v.(map[string]any) {
				schema.SetField(dst, k, schema.DeepCopy(x))
			}
		}
		touched = append(touched, i)
	}
	return list, touched
}

// sameValue reports whether two values of a multi-valued attribute stand for the same thing:
// complex values with a "value" sub-attribute are the same when their values are equal (per
// caseExact) and, unless "value" is immutable (members, where it is the identity), their types
// are too. Other values must be deeply equal.
func sameValue(attr *schema.Attribute, a, b any) bool {
	am, ok1 := a.(map[string]any)
	bm, ok2 := b.(map[string]any)
	vs := attr.Sub("value")
	if !ok1 || !ok2 || vs == nil || am["value"] == nil || bm["value"] == nil {
		return reflect.DeepEqual(a, b)
	}
	if !equalValue(vs, am["value"], bm["value"]) {
		return false
	}
	if vs.Mutability == schema.Immutable {
		return true
	}
	at, _ := am["type"].(string)
	bt, _ := bm["type"].(string)
	return strings.EqualFold(at, bt)
}

// covers reports whether the existing value x has every sub-attribute the removal value y
// gives, with equal values.
func covers(attr *schema.Attribute, y, x any) bool {
	ym, ok1 := y.(map[string]any)
	xm, ok2 := x.(map[string]any)
	if !ok1 || !ok2 {
		return reflect.DeepEqual(x, y)
	}
	for k, yv := range ym {
		sa := attr.Sub(k)
		if sa == nil || !equalValue(sa, schema.Field(xm, k), yv) {
			return false
		}
	}
	return true
}

func equalValue(def *schema.Attribute, a, b any) bool {
	as, ok1 := a.(string)
	bs, ok2 := b.(string)
	if ok1 && ok2 && !def.CaseExact {
		return strings.EqualFold(as, bs)
	}
	return reflect.DeepEqual(a, b)
}

// keepPrimary applies "primary:true on one value clears it on the others": if a touched value
// is primary, it stays the only primary one.
func keepPrimary(list []any, touched []int) {
	for _, i := range touched {
		if m, ok := list[i].(map[string]any); ok && m["primary"] == true {
			schema.OnePrimary(list, i)
			return
		}
	}
}

// template turns a value filter that is a conjunction of `sub eq literal` into the value it
// describes, so that an add through a value path that matches nothing can create it.
func template(f filter.Expr) (map[string]any, bool) {
	out := map[string]any{}
	var walk func(filter.Expr) bool
	walk = func(e filter.Expr) bool {
		switch n := e.(type) {
		case *filter.Logical:
			return n.Op == filter.And && walk(n.Left) && walk(n.Right)
		case *filter.Comparison:
			if n.Op != filter.Eq || n.Value == nil || n.Path.URN != "" || n.Path.SubAttr != "" {
				return false
			}
			out[n.Path.Attr] = n.Value
			return true
		}
		return false
	}
	return out, walk(f)
}
