package filter

import "testing"

func TestRefers(t *testing.T) {
	cases := []struct {
		filter string
		want   bool
	}{
		{`members[value eq "u-1"]`, true},
		{`Members.value eq "u-1"`, true},
		{`displayName eq "Board members"`, false},
		{`displayName eq "x" or not (members pr)`, true},
		{`urn:ietf:params:scim:schemas:core:2.0:Group:members.value eq "u"`, true},
		{`externalId pr and displayName sw "m"`, false},
	}
	for _, tc := range cases {
		e, err := Parse(tc.filter)
		if err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		if got := Refers(e, "members"); got != tc.want {
			t.Errorf("Refers(%s, members) = %v, want %v", tc.filter, got, tc.want)
		}
	}
}
