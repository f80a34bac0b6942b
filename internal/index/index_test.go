package index

import (
	"reflect"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

func TestExtractors(t *testing.T) {
	user := &rosterv1.OrgUser{Spec: rosterv1.OrgUserSpec{
		UserName: "Alice@Example.COM", ExternalID: "00uAbC",
		Emails: []rosterv1.MultiValued{{Value: "Alice@Work.com", Type: "work"}, {Value: ""}, {Value: "a@home.org"}},
	}}
	team := &rosterv1.OrgTeam{Spec: rosterv1.OrgTeamSpec{DisplayName: "Eng Team"}}
	slice := &rosterv1.OrgTeamMemberSlice{Spec: rosterv1.OrgTeamMemberSliceSpec{Team: "g-1", Members: []string{"u-1", "u-2"}}}
	cases := []struct {
		name string
		fn   func(client.Object) []string
		obj  client.Object
		want []string
	}{
		{"userName is case-folded", UserNameOf, user, []string{"alice@example.com"}},
		{"externalId keeps its case", UserExternalIDOf, user, []string{"00uAbC"}},
		{"no externalId, no entry", UserExternalIDOf, &rosterv1.OrgUser{}, nil},
		{"emails are case-folded, empty skipped", UserEmailOf, user, []string{"alice@work.com", "a@home.org"}},
		{"team display name is case-folded", TeamNameOf, team, []string{"eng team"}},
		{"team without externalId", TeamExternalIDOf, team, nil},
		{"slice team", SliceTeamOf, slice, []string{"g-1"}},
		{"slice members", SliceMembersOf, slice, []string{"u-1", "u-2"}},
		{"organization namespace", OrgNamespaceOf, &rosterv1.Organization{Spec: rosterv1.OrganizationSpec{Namespace: "acme"}}, []string{"acme"}},
		{"organization without namespace", OrgNamespaceOf, &rosterv1.Organization{}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.fn(tc.obj); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
