package filter

import (
	"slices"

	"github.com/rosterhq/roster/internal/scim/schema"
)

// Keys returns the top-level document keys that Match reads of a resource of rt for e: the
// canonical names of the attributes it names, or the URN of the extension that holds one.
// Match of e on a document holding only these keys equals Match on the whole document, so a
// scan can build just them. A path rt does not know reads nothing.
func Keys(rt schema.ResourceType, e Expr) []string {
	var keys []string
	add := func(p AttrPath) {
		r, ok := rt.Resolve(p.URN, p.Attr, p.SubAttr)
		if !ok {
			return
		}
		k := r.Name
		if r.Extension {
			k = r.Schema
		}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	var walk func(Expr)
	walk = func(e Expr) {
		switch n := e.(type) {
		case *Comparison:
			add(n.Path)
		case *Present:
			add(n.Path)
		case *ValuePath:
			add(AttrPath{URN: n.Path.URN, Attr: n.Path.Attr})
		case *Logical:
			walk(n.Left)
			walk(n.Right)
		case *Not:
			walk(n.Expr)
		}
	}
	walk(e)
	return keys
}
