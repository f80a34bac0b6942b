package filter

import (
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/scim/schema"
)

// TestCompareStringFoldsInPlace: comparing an ASCII value folded byte by byte decides every
// operator as folding both strings then comparing them does, for values and literals with
// and without upper case, non-ASCII literals, empty strings, prefixes, suffixes and values
// longer than a literal, and allocates nothing once the literal is folded.
func TestCompareStringFoldsInPlace(t *testing.T) {
	def := &schema.Attribute{Name: "title", Type: schema.TypeString}
	values := []string{"", "E", "e", "Eng", "ENGINEER", "engineer", "Senior Engineer", "eng ", "@[`{", "AZaz09", "Zz", strings.Repeat("aB", 200) + "X"}
	lits := append([]string{"É", "ß", "Ω", "k", "ſ"}, values...)
	ref := func(a string, op CompareOp, b string) bool {
		a, b = naming.Fold(a), naming.Fold(b)
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
	seen := map[bool]int{}
	for _, a := range values {
		for _, b := range lits {
			for _, op := range []CompareOp{Eq, Co, Sw, Ew, Gt, Ge, Lt, Le} {
				want := ref(a, op, b)
				if got := CompareString(def, a, op, b); got != want {
					t.Errorf("%q %s %q: %v, folded copies give %v", a, op, b, got, want)
				}
				seen[want]++
			}
		}
	}
	if seen[true] == 0 || seen[false] == 0 {
		t.Fatalf("every comparison is %v", seen)
	}
	if n := testing.AllocsPerRun(100, func() { CompareString(def, "Senior Engineer", Co, "engineer") }); n > 0 {
		t.Errorf("a folded literal and an ASCII value: %.0f allocations", n)
	}
}
