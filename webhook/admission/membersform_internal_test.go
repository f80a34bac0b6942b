package admission

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

func sliceJSON(members string) []byte {
	return []byte(`{"apiVersion":"scim.roster.dev/v1alpha1","kind":"OrgTeamMemberSlice","metadata":{"name":"s"},"spec":{"team":"t","members":` + members + `}}`)
}

// TestMembersForm: what the webhook accepts as spec.members, and which entry it names.
func TestMembersForm(t *testing.T) {
	full := make([]string, rosterv1.MaxMembersPerSlice)
	for i := range full {
		full[i] = fmt.Sprintf("u-%d", i)
	}
	fullJSON, _ := json.Marshal(full)
	over, _ := json.Marshal(append(full, "u-x"))
	for _, tc := range []struct {
		name, members, old string
		want               string // "" accepted; else the field error's text contains it
	}{
		{"strings", `["u-1","u-2"]`, "", ""},
		{"empty", `[]`, "", ""},
		{"null", `null`, "", ""},
		{"full", string(fullJSON), "", ""},
		{"escaped", `["u-\u0031"]`, "", ""},
		{"number", `["u-1",7]`, "", "spec.members[1]: Invalid value"},
		{"null entry", `[null]`, "", "spec.members[0]: Invalid value"},
		{"object entry", `[{"value":"u-1"}]`, "", "spec.members[0]: Invalid value"},
		{"a string", `"u-1"`, "", "spec.members: Invalid value"},
		{"an object", `{"u-1":true}`, "", "spec.members: Invalid value"},
		{"too many", string(over), "", "Too many: 2001"},
		{"unchanged odd", `["u-1",7]`, `["u-1",7]`, ""},
		{"changed odd", `["u-1",8]`, `["u-1",7]`, "spec.members[1]"},
		{"odd made good", `["u-1"]`, `["u-1",7]`, ""},
	} {
		var old []byte
		if tc.old != "" {
			old = sliceJSON(tc.old)
		}
		fe := membersForm(sliceJSON(tc.members), old)
		switch {
		case tc.want == "" && fe != nil:
			t.Errorf("%s: refused: %v", tc.name, fe)
		case tc.want != "" && (fe == nil || !strings.Contains(fe.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error containing %q", tc.name, fe, tc.want)
		}
	}
	if fe := membersForm([]byte(`{"spec":{"team":"t"}}`), nil); fe != nil {
		t.Errorf("no members: %v", fe)
	}
}
