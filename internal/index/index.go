// Package index defines the cache field indexes that the SCIM server and the controllers
// share: one constant per field and an exported extractor each, so both sides agree.
//
// The namespaced kinds' indexes (OrgTeam, OrgTeamMemberSlice) are keyed "<namespace>/<value>"
// only. controller-runtime's IndexField keeps every value a second time, cluster-wide, under
// "__all_namespaces/<value>", each key a Go map of object keys: at 100,000 users that copy alone
// is tens of MiB, and Roster never looks across namespaces. So a lookup needs a namespace: it
// goes through Lookup.List, which refuses an empty one instead of silently finding nothing.
// Users have no cache index: the ordered index (internal/order) answers their filters.
package index

import (
	"context"
	"errors"
	"fmt"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/memberids"
	"github.com/rosterhq/roster/internal/naming"
)

// Field names of the indexes. Those of the namespaced kinds are namespaced only: look them up
// with Lookup.List.
const (
	TeamName       = "scim.displayName" // naming.Fold of OrgTeam.spec.displayName
	TeamExternalID = "scim.externalId"  // OrgTeam.spec.externalId (caseExact)
	SliceTeam      = "spec.team"        // OrgTeamMemberSlice.spec.team
	SliceMember    = "spec.members"     // each OrgTeamMemberSlice.spec.members value
	OrgNamespace   = "spec.namespace"   // Organization.spec.namespace (cluster-scoped)
)

// IndexName is the informer index that holds field, named as controller-runtime names it: its
// client's List with client.MatchingFields reads that index.
func IndexName(field string) string { return "field:" + field }

// TeamNameValue is the index value for a display name, folded as its claim's name is.
func TeamNameValue(displayName string) string { return naming.Fold(displayName) }

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

// Lookup is one lookup in a namespaced kind's index. Build it with TeamsNamed,
// TeamsWithExternalID, SlicesOfTeam or SlicesWithMember; List runs it in one namespace.
type Lookup struct{ field, value string }

// TeamsNamed finds the teams whose display name folds to displayName's.
func TeamsNamed(displayName string) *Lookup { return &Lookup{TeamName, TeamNameValue(displayName)} }

// TeamsWithExternalID finds the teams with externalId id (caseExact).
func TeamsWithExternalID(id string) *Lookup { return &Lookup{TeamExternalID, id} }

// SlicesOfTeam finds the member slices of the team named team (a snapshot's are not).
func SlicesOfTeam(team string) *Lookup { return &Lookup{SliceTeam, team} }

// SlicesWithMember finds the member slices that list the user named userID.
func SlicesWithMember(userID string) *Lookup { return &Lookup{SliceMember, userID} }

// ErrNoNamespace is returned for a lookup without a namespace: the namespaced kinds' indexes
// keep no cluster-wide keys, so it would find nothing, whatever the cache holds.
var ErrNoNamespace = errors.New("index lookup without a namespace")

// List lists into list namespace's objects that l finds, with opts (e.g.
// client.UnsafeDisableDeepCopy).
func (l *Lookup) List(ctx context.Context, c client.Reader, namespace string, list client.ObjectList, opts ...client.ListOption) error {
	if namespace == "" {
		return fmt.Errorf("%w: %s %q", ErrNoNamespace, l.field, l.value)
	}
	return c.List(ctx, list, append(opts, client.InNamespace(namespace), client.MatchingFields{l.field: l.value})...)
}

// Register adds every index to the cache. Call it before the cache starts.
func Register(ctx context.Context, c cache.Cache) error {
	for _, ix := range []struct {
		obj   client.Object
		field string
		index toolscache.IndexFunc
	}{
		{&rosterv1.OrgTeam{}, TeamName, Namespaced(TeamNameOf)},
		{&rosterv1.OrgTeam{}, TeamExternalID, Namespaced(TeamExternalIDOf)},
		{&rosterv1.OrgTeamMemberSlice{}, SliceTeam, Namespaced(SliceTeamOf)},
		// Keys shared with the slices' interned member ids (internal/memberids).
		{&rosterv1.OrgTeamMemberSlice{}, SliceMember, SliceMemberKeys},
	} {
		inf, err := c.GetInformer(ctx, ix.obj, cache.BlockUntilSynced(false))
		if err != nil {
			return fmt.Errorf("informer for %T: %w", ix.obj, err)
		}
		if err := inf.AddIndexers(toolscache.Indexers{IndexName(ix.field): ix.index}); err != nil {
			return fmt.Errorf("index %s of %T: %w", ix.field, ix.obj, err)
		}
	}
	// Organizations are cluster-scoped: controller-runtime keeps their values once.
	return c.IndexField(ctx, &rosterv1.Organization{}, OrgNamespace, OrgNamespaceOf)
}

// SliceMemberKeys is the SliceMember index function: Namespaced(SliceMembersOf), its keys
// the member id table's own "<namespace>/<id>" strings where the table has them
// (internal/memberids): the index's key for a user is then the very string its slices list
// (no copy per user, and none per slice when the index is updated).
func SliceMemberKeys(o any) ([]string, error) {
	s, ok := o.(*rosterv1.OrgTeamMemberSlice)
	if !ok {
		return nil, fmt.Errorf("index %s: %T is not an OrgTeamMemberSlice", SliceMember, o)
	}
	return memberids.Keys(s.Namespace, SliceMembersOf(s)), nil
}

// Namespaced turns an extractor of a namespaced kind into an informer index function keyed
// "<namespace>/<value>", as controller-runtime's client looks values up in a namespace, and
// nothing else.
func Namespaced(extract client.IndexerFunc) toolscache.IndexFunc {
	return func(o any) ([]string, error) {
		obj, ok := o.(client.Object)
		if !ok {
			return nil, fmt.Errorf("index: %T is not an object", o)
		}
		vals, ns := extract(obj), obj.GetNamespace()
		// A fresh slice: an extractor may return the object's own (SliceMembersOf).
		keys := make([]string, len(vals))
		for i, v := range vals {
			keys[i] = ns + "/" + v
		}
		return keys, nil
	}
}
