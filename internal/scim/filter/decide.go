package filter

import "github.com/rosterhq/roster/internal/scim/schema"

// Decider answers a condition of a filter without the document (from an index, say):
// (result, true) when it knows it, (_, false) to leave it to the document. It is asked about
// comparisons, presence tests and value paths, never about "and", "or" or "not".
type Decider func(cond Expr) (result, decided bool)

// MatchDecided is Match with some conditions decided by decide; the others are matched
// against doc as Match does. The logic around them ("and", "or", "not") is Match's.
func MatchDecided(rt schema.ResourceType, e Expr, doc map[string]any, decide Decider) bool {
	switch n := e.(type) {
	case *Logical:
		if n.Op == And {
			return MatchDecided(rt, n.Left, doc, decide) && MatchDecided(rt, n.Right, doc, decide)
		}
		return MatchDecided(rt, n.Left, doc, decide) || MatchDecided(rt, n.Right, doc, decide)
	case *Not:
		return !MatchDecided(rt, n.Expr, doc, decide)
	}
	if r, ok := decide(e); ok {
		return r
	}
	return Match(rt, e, doc)
}

// Conditions calls fn with each comparison, presence test and value path of e.
func Conditions(e Expr, fn func(cond Expr)) {
	switch n := e.(type) {
	case *Logical:
		Conditions(n.Left, fn)
		Conditions(n.Right, fn)
	case *Not:
		Conditions(n.Expr, fn)
	case nil:
	default:
		fn(e)
	}
}
