package index

import (
	"reflect"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/naming"
)

func TestExtractors(t *testing.T) {
	user := &rosterv1.OrgUser{Spec: rosterv1.OrgUserSpec{
		UserName: "Alice@Example.COM", ExternalID: "00uAbC",
		Emails: []rosterv1.MultiValued{{Value: "Alice@Work.com", Type: "work"}, {Value: ""}, {Value: "a@home.org"}},
	}}
	team := &rosterv1.OrgTeam{Spec: rosterv1.OrgTeamSpec{DisplayName: "Eng Team"}}
	slice := &rosterv1.OrgTeamMemberSlice{Spec: rosterv1.OrgTeamMemberSliceSpec{Team: "g-1", Members: []string{"u-1", "u-2"}}}
	snapshot := slice.DeepCopy()
	snapshot.Labels = map[string]string{rosterv1.SnapshotOfLabel: "g-1"}
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
		{"a break-glass snapshot is no slice of its team", SliceTeamOf, snapshot, nil},
		{"nor are its ids members", SliceMembersOf, snapshot, nil},
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

// TestNameValuesFoldLikeObjectNames: an index lookup by userName or display name must find
// exactly the object that name would create or claim, so the index values fold as the object
// names do (naming.Fold), non-ASCII letters included.
func TestNameValuesFoldLikeObjectNames(t *testing.T) {
	names := []string{
		"ada@example.com", "ADA@Example.com",
		"ÉVA@example.de", "éva@example.de",
		"İlkay@example.com", "ilkay@example.com", "ılkay@example.com",
		"Γιώργος@example.gr", "ΓΙΏΡΓΟΣ@example.gr", "γιώργοσ@example.gr",
		"ſam@example.com", "sam@example.com",
	}
	for _, a := range names {
		for _, b := range names {
			sameUser := naming.UserObjectName(a) == naming.UserObjectName(b)
			if (UserNameValue(a) == UserNameValue(b)) != sameUser {
				t.Errorf("UserNameValue(%q) == UserNameValue(%q) is %v, but they are the same user: %v", a, b, !sameUser, sameUser)
			}
			sameClaim := naming.TeamNameClaim(a) == naming.TeamNameClaim(b)
			if (TeamNameValue(a) == TeamNameValue(b)) != sameClaim {
				t.Errorf("TeamNameValue(%q) == TeamNameValue(%q) is %v, but they share a claim: %v", a, b, !sameClaim, sameClaim)
			}
		}
	}
}
