package filter

import (
	"testing"

	"github.com/rosterhq/roster/internal/scim/schema"
)

// TestMatchDecided: decided conditions take the decider's answer, the others the document's,
// under and, or and not.
func TestMatchDecided(t *testing.T) {
	doc := map[string]any{"displayName": "Eng"}
	members := func(cond Expr) (bool, bool) {
		if Refers(cond, "members") {
			return true, true // "the team has the member", from an index
		}
		return false, false
	}
	var asked []string
	recording := func(cond Expr) (bool, bool) { asked = append(asked, cond.String()); return members(cond) }
	for _, tc := range []struct {
		filter string
		want   bool
	}{
		{`members.value eq "u1"`, true},
		{`members.value eq "u1" and displayName eq "Eng"`, true},
		{`members.value eq "u1" and displayName eq "Ops"`, false},
		{`not (members pr) or displayName eq "Ops"`, false},
		{`not (members pr) or displayName sw "E"`, true},
		{`not (displayName eq "Eng" and members pr)`, false},
	} {
		e, err := Parse(tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		asked = nil
		if got := MatchDecided(schema.Group, e, doc, recording); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.filter, got, tc.want)
		}
		n := 0
		Conditions(e, func(Expr) { n++ })
		if len(asked) == 0 || len(asked) > n {
			t.Errorf("%s: asked about %v of %d conditions", tc.filter, asked, n)
		}
	}
}
