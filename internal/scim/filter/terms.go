package filter

// EqualityTerms returns equality conditions that every document matching e satisfies, for a
// server that answers a filter from an index instead of a scan:
//
//   - each `path eq value` comparison that is a top-level conjunct of e (reached from the root
//     through "and" only), and
//   - for each top-level conjunct value path `attr[...]`, each `sub eq value` that is a
//     top-level conjunct of its inner filter, returned as `attr.sub eq value`; Entra's
//     emails[type eq "work"].value eq "a@b.c" gives emails.type eq "work" and
//     emails.value eq "a@b.c".
//
// Comparisons with a null value are left out. Terms come in filter order with attribute names
// as written (resolve them with schema.ResourceType.Resolve), and values as in the filter: the
// caller must apply the attribute's caseExact when it looks a value up. The result is empty when
// no such term exists (for example under "or" or "not"). Each term is a necessary condition
// only: the caller must still run Match on the candidates it finds.
func EqualityTerms(e Expr) []Comparison { return conjuncts(e, Eq) }

// PrefixTerms is EqualityTerms for `sw`: the `path sw value` comparisons every document
// matching e satisfies, for a server that answers them from an ordered index.
func PrefixTerms(e Expr) []Comparison { return conjuncts(e, Sw) }

// conjuncts returns the comparisons with operator op that are top-level conjuncts of e, as
// EqualityTerms describes.
func conjuncts(e Expr, op CompareOp) []Comparison {
	var out []Comparison
	var walk func(e Expr, parent *AttrPath)
	walk = func(e Expr, parent *AttrPath) {
		switch n := e.(type) {
		case *Logical:
			if n.Op == And {
				walk(n.Left, parent)
				walk(n.Right, parent)
			}
		case *Comparison:
			if n.Op != op || n.Value == nil {
				return
			}
			c := *n
			if parent != nil {
				if n.Path.URN != "" || n.Path.SubAttr != "" {
					return
				}
				c.Path = AttrPath{URN: parent.URN, Attr: parent.Attr, SubAttr: n.Path.Attr}
			}
			out = append(out, c)
		case *ValuePath:
			if parent == nil && n.Path.SubAttr == "" {
				walk(n.Filter, &n.Path)
			}
		}
	}
	walk(e, nil)
	return out
}
