package index

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/memberids"
	"github.com/rosterhq/roster/internal/naming"
)

func TestExtractors(t *testing.T) {
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

// TestNameValuesFoldLikeObjectNames: an index lookup by display name must find exactly the
// team that name would claim, so the index values fold as the claim names do (naming.Fold),
// non-ASCII letters included; userName lookups (internal/order) fold with naming.Fold too.
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
			if (naming.Fold(a) == naming.Fold(b)) != sameUser {
				t.Errorf("naming.Fold(%q) == naming.Fold(%q) is %v, but they are the same user: %v", a, b, !sameUser, sameUser)
			}
			sameClaim := naming.TeamNameClaim(a) == naming.TeamNameClaim(b)
			if (TeamNameValue(a) == TeamNameValue(b)) != sameClaim {
				t.Errorf("TeamNameValue(%q) == TeamNameValue(%q) is %v, but they share a claim: %v", a, b, !sameClaim, sameClaim)
			}
		}
	}
}

// TestNamespacedKeys: the index functions Register installs key each value under the object's
// namespace only, and leave the extractor's slice (the object's own, for members) untouched.
func TestNamespacedKeys(t *testing.T) {
	slice := &rosterv1.OrgTeamMemberSlice{Spec: rosterv1.OrgTeamMemberSliceSpec{Team: "g-1", Members: []string{"u-1", "u-2"}}}
	slice.Namespace = "acme"
	got, err := Namespaced(SliceMembersOf)(slice)
	if err != nil || !reflect.DeepEqual(got, []string{"acme/u-1", "acme/u-2"}) {
		t.Errorf("got %v, %v", got, err)
	}
	if !slices.Equal(slice.Spec.Members, []string{"u-1", "u-2"}) {
		t.Errorf("the slice's members changed: %v", slice.Spec.Members)
	}
	if _, err := Namespaced(SliceMembersOf)("not an object"); err == nil {
		t.Error("a non-object was indexed")
	}
}

// TestSliceMemberKeys: the member index Register installs keys as Namespaced(SliceMembersOf)
// does, whether or not the ids are interned, skips a snapshot's slices, and refuses a
// non-object. Interned ids get the table's own strings (internal/memberids tests that).
func TestSliceMemberKeys(t *testing.T) {
	plain := &rosterv1.OrgTeamMemberSlice{Spec: rosterv1.OrgTeamMemberSliceSpec{Team: "g-1", Members: []string{"u-1", "u-2"}}}
	plain.Namespace = "acme"
	interned, err := memberids.Transform(plain.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []*rosterv1.OrgTeamMemberSlice{plain, interned.(*rosterv1.OrgTeamMemberSlice)} {
		got, err := SliceMemberKeys(o)
		if err != nil || !reflect.DeepEqual(got, []string{"acme/u-1", "acme/u-2"}) {
			t.Errorf("got %v, %v", got, err)
		}
	}
	snapshot := plain.DeepCopy()
	snapshot.Labels = map[string]string{rosterv1.SnapshotOfLabel: "x"}
	if !rosterv1.IsMemberSnapshot(snapshot) {
		t.Fatal("the snapshot label does not make a snapshot")
	}
	if got, err := SliceMemberKeys(snapshot); err != nil || len(got) != 0 {
		t.Errorf("a snapshot's slice is indexed under %v, %v", got, err)
	}
	if _, err := SliceMemberKeys("not an object"); err == nil {
		t.Error("a non-object was indexed")
	}
}

// TestLookupNeedsNamespace: a lookup without a namespace is an error, not an empty list.
func TestLookupNeedsNamespace(t *testing.T) {
	var list rosterv1.OrgTeamMemberSliceList
	if err := SlicesOfTeam("g-1").List(context.Background(), nil, "", &list); !errors.Is(err, ErrNoNamespace) {
		t.Errorf("got %v, want ErrNoNamespace", err)
	}
}
