// Package index defines the cache field indexes that the SCIM server and the controllers
// share: one constant per field and an exported extractor each, so both sides agree.
package index

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/naming"
)

// Field names of the indexes. They are namespaced by the cache, so a lookup with
// client.InNamespace only sees one organization.
const (
	UserName       = "scim.userName"    // naming.Fold of OrgUser.spec.userName
	UserExternalID = "scim.externalId"  // OrgUser.spec.externalId (caseExact)
	UserEmail      = "scim.emailValue"  // naming.Fold of the values of OrgUser.spec.emails
	TeamName       = "scim.displayName" // naming.Fold of OrgTeam.spec.displayName
	TeamExternalID = "scim.externalId"  // OrgTeam.spec.externalId (caseExact)
	SliceTeam      = "spec.team"        // OrgTeamMemberSlice.spec.team
	SliceMember    = "spec.members"     // each OrgTeamMemberSlice.spec.members value
	OrgNamespace   = "spec.namespace"   // Organization.spec.namespace
)

// UserNameValue is the index value for a userName: folded as the user's object name is, so a
// lookup finds exactly the user that name would create.
func UserNameValue(userName string) string { return naming.Fold(userName) }

// TeamNameValue is the index value for a display name, folded as its claim's name is.
func TeamNameValue(displayName string) string { return naming.Fold(displayName) }

// EmailValue is the index value for an email address, folded as a filter compares it.
func EmailValue(email string) string { return naming.Fold(email) }

// UserNameOf extracts the UserName index value.
func UserNameOf(o client.Object) []string {
	u := o.(*rosterv1.OrgUser)
	return []string{UserNameValue(u.Spec.UserName)}
}

// UserExternalIDOf extracts the UserExternalID index value.
func UserExternalIDOf(o client.Object) []string {
	return nonEmpty(o.(*rosterv1.OrgUser).Spec.ExternalID)
}

// UserEmailOf extracts the UserEmail index values.
func UserEmailOf(o client.Object) []string {
	u := o.(*rosterv1.OrgUser)
	out := make([]string, 0, len(u.Spec.Emails))
	for _, e := range u.Spec.Emails {
		if e.Value != "" {
			out = append(out, EmailValue(e.Value))
		}
	}
	return out
}

// TeamNameOf extracts the TeamName index value.
func TeamNameOf(o client.Object) []string {
	return []string{TeamNameValue(o.(*rosterv1.OrgTeam).Spec.DisplayName)}
}

// TeamExternalIDOf extracts the TeamExternalID index value.
func TeamExternalIDOf(o client.Object) []string {
	return nonEmpty(o.(*rosterv1.OrgTeam).Spec.ExternalID)
}

// SliceTeamOf extracts the SliceTeam index value. A break-glass snapshot's slices
// (rosterv1.IsMemberSnapshot) hold no members of their team: they are not indexed.
func SliceTeamOf(o client.Object) []string {
	if rosterv1.IsMemberSnapshot(o) {
		return nil
	}
	return []string{o.(*rosterv1.OrgTeamMemberSlice).Spec.Team}
}

// SliceMembersOf extracts the SliceMember index values (none for a snapshot's slices).
func SliceMembersOf(o client.Object) []string {
	if rosterv1.IsMemberSnapshot(o) {
		return nil
	}
	return o.(*rosterv1.OrgTeamMemberSlice).Spec.Members
}

// OrgNamespaceOf extracts the OrgNamespace index value: which organization a namespace's
// users and teams belong to.
func OrgNamespaceOf(o client.Object) []string {
	return nonEmpty(o.(*rosterv1.Organization).Spec.Namespace)
}

// OrgsUsingNamespace lists, through the OrgNamespace index, the Organizations whose
// spec.namespace is namespace: exactly one owns it when the install is sound. The objects are
// shared with the cache: callers only read them.
func OrgsUsingNamespace(ctx context.Context, c client.Reader, namespace string) ([]rosterv1.Organization, error) {
	var orgs rosterv1.OrganizationList
	err := c.List(ctx, &orgs, client.MatchingFields{OrgNamespace: namespace}, client.UnsafeDisableDeepCopy)
	return orgs.Items, err
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// Register adds every index to the manager's field indexer. Call it before the cache starts.
func Register(ctx context.Context, indexer client.FieldIndexer) error {
	for _, ix := range []struct {
		obj     client.Object
		field   string
		extract client.IndexerFunc
	}{
		{&rosterv1.OrgUser{}, UserName, UserNameOf},
		{&rosterv1.OrgUser{}, UserExternalID, UserExternalIDOf},
		{&rosterv1.OrgUser{}, UserEmail, UserEmailOf},
		{&rosterv1.OrgTeam{}, TeamName, TeamNameOf},
		{&rosterv1.OrgTeam{}, TeamExternalID, TeamExternalIDOf},
		{&rosterv1.OrgTeamMemberSlice{}, SliceTeam, SliceTeamOf},
		{&rosterv1.OrgTeamMemberSlice{}, SliceMember, SliceMembersOf},
		{&rosterv1.Organization{}, OrgNamespace, OrgNamespaceOf},
	} {
		if err := indexer.IndexField(ctx, ix.obj, ix.field, ix.extract); err != nil {
			return err
		}
	}
	return nil
}
