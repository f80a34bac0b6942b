package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"k8s.io/utils/ptr"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/identitystore"
	"github.com/rosterhq/roster/internal/reconcileerr"
)

func TestDiffSorted(t *testing.T) {
	for _, tc := range []struct {
		want, have, add, remove []string
	}{
		{nil, nil, nil, nil},
		{[]string{"a", "b"}, nil, []string{"a", "b"}, nil},
		{nil, []string{"a", "b"}, nil, []string{"a", "b"}},
		{[]string{"a", "b", "c"}, []string{"a", "b", "c"}, nil, nil},
		{[]string{"a", "c", "e"}, []string{"b", "c", "d"}, []string{"a", "e"}, []string{"b", "d"}},
		{[]string{"u-1", "u-3"}, []string{"u-0", "u-1", "u-2", "u-3", "u-4"}, nil, []string{"u-0", "u-2", "u-4"}},
	} {
		add, remove := diffSorted(tc.want, tc.have)
		if !slices.Equal(add, tc.add) || !slices.Equal(remove, tc.remove) {
			t.Errorf("diffSorted(%v, %v) = %v, %v; want %v, %v", tc.want, tc.have, add, remove, tc.add, tc.remove)
		}
	}
}

func TestStoreUser(t *testing.T) {
	inactive := false
	u := &rosterv1.OrgUser{Spec: rosterv1.OrgUserSpec{
		UserName: "ada@example.com", ExternalID: "00u1", DisplayName: "Ada", Active: &inactive,
		Name:   &rosterv1.Name{GivenName: "Ada", FamilyName: "Lovelace"},
		Emails: []rosterv1.MultiValued{{Value: "ada@home.org"}, {Value: "ada@work.com", Primary: ptr.To(true)}},
	}}
	u.Name = "u-1"
	got := storeUser("acme", u)
	want := identitystore.User{Org: "acme", ID: "u-1", UserName: "ada@example.com", ExternalID: "00u1", DisplayName: "Ada",
		GivenName: "Ada", FamilyName: "Lovelace", Email: "ada@work.com", Active: false, ManagedBy: identitystore.ManagedBySCIM,
		Extensions: "{}"}
	if got != want {
		t.Errorf("storeUser =\n %+v\nwant\n %+v", got, want)
	}
	for _, tc := range []struct {
		emails []rosterv1.MultiValued
		want   string
	}{
		{nil, ""},
		{[]rosterv1.MultiValued{{Value: "a@x"}, {Value: "b@x"}}, "a@x"},
		{[]rosterv1.MultiValued{{Value: ""}, {Value: "b@x"}}, "b@x"},
		{[]rosterv1.MultiValued{{Value: "a@x"}, {Value: "b@x", Primary: ptr.To(true)}}, "b@x"},
	} {
		if got := (&rosterv1.OrgUserSpec{Emails: tc.emails}).PrimaryEmail(); got != tc.want {
			t.Errorf("PrimaryEmail(%v) = %q, want %q", tc.emails, got, tc.want)
		}
	}
}

func TestStoreErrReasons(t *testing.T) {
	for _, tc := range []struct {
		err      error
		reason   string
		stalling bool
	}{
		{fmt.Errorf("dial: %w", identitystore.ErrUnavailable), ReasonStoreUnavailable, false},
		{fmt.Errorf("unique: %w", identitystore.ErrConflict), ReasonStoreConflict, false},
		{fmt.Errorf("empty id: %w", identitystore.ErrInvalid), ReasonStoreRejected, true},
		{errors.New("syntax error"), ReasonStoreError, false},
	} {
		err := storeErr(tc.err, "writing user %s", "u-1")
		if got := reconcileerr.Reason(err, ""); got != tc.reason || reconcileerr.IsStalling(err) != tc.stalling {
			t.Errorf("storeErr(%v): reason %q stalling %v, want %q %v", tc.err, got, reconcileerr.IsStalling(err), tc.reason, tc.stalling)
		}
		if !errors.Is(err, tc.err) || err.Error() != "writing user u-1: "+tc.err.Error() {
			t.Errorf("storeErr(%v) = %q: lost the cause or the context", tc.err, err)
		}
	}
	if storeErr(nil, "x") != nil {
		t.Error("storeErr(nil) != nil")
	}
}

// TestStatusPatchUnchangedAllocatesLittle: a reconcile that changes nothing (the store's
// periodic resync of every team, the cache resync of every object) ends without building a
// merge patch: it marshalled both objects and decoded them again, ~20 KB per team.
func TestStatusPatchUnchangedAllocatesLittle(t *testing.T) {
	team := &rosterv1.OrgTeam{Spec: rosterv1.OrgTeamSpec{DisplayName: "Eng", ManagedBy: rosterv1.ManagedBySCIM}}
	team.Name, team.Namespace, team.Generation = "g-eng", "acme", 3
	team.Labels = map[string]string{rosterv1.OrgLabel: "acme"}
	team.Finalizers = []string{Finalizer}
	team.Status.MemberCount, team.Status.ObservedGeneration = 40, 3
	team.Status.MembersDigest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	setSyncResult(&team.Status.Conditions, team.Generation, nil, "the team and its memberships are in the identity store")
	p := newStatusPatch(team)
	// A nil client: nothing changed, so nothing may be written.
	allocs := testing.AllocsPerRun(20, func() {
		if err := p.apply(context.Background(), nil, team); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 20 {
		t.Errorf("an unchanged status took %.0f allocations to find nothing to write; want at most 20", allocs)
	}
}
