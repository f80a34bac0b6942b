package directory

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/index"
	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/scim/patch"
)

// TeamChange is a change of a team: a new spec computed from the current one (nil: the spec
// stays), then membership operations in request order.
type TeamChange struct {
	// Spec returns the new spec; it must not have side effects (it may run more than once),
	// and an error from it is returned as is, with nothing written.
	Spec func(rosterv1.OrgTeamSpec) (rosterv1.OrgTeamSpec, error)
	// Members are membership operations; ids that are not users of the org are not added and
	// are reported in the team's status.
	Members []patch.MemberOp
}

// GetTeam reads a SCIM-managed team by id. Teams made by hand are not SCIM resources: the
// identity provider neither sees nor edits them.
func (d *Directory) GetTeam(ctx context.Context, namespace, id string) (*rosterv1.OrgTeam, error) {
	return d.readTeam(ctx, namespace, id, false)
}

func (d *Directory) readTeam(ctx context.Context, namespace, id string, live bool) (*rosterv1.OrgTeam, error) {
	if !naming.IsTeamObjectName(id) {
		return nil, ErrNotFound
	}
	var t rosterv1.OrgTeam
	if err := d.get(ctx, types.NamespacedName{Namespace: namespace, Name: id}, &t, live); err != nil {
		return nil, err
	}
	if t.Spec.ManagedBy != rosterv1.ManagedBySCIM {
		return nil, ErrNotFound
	}
	return &t, nil
}

// Teams lists a namespace's teams from the cache, all of them or those a lookup in a field
// index finds (by nil: all). Manual teams are included: callers that serve SCIM skip them.
// Shared with the cache: read only.
func (d *Directory) Teams(ctx context.Context, namespace string, by *index.Lookup) ([]rosterv1.OrgTeam, error) {
	var list rosterv1.OrgTeamList
	return list.Items, d.list(ctx, namespace, &list, by)
}

// TeamsWithMember returns the teams whose slices list a user, through the slice member index.
func (d *Directory) TeamsWithMember(ctx context.Context, namespace, userID string) ([]rosterv1.OrgTeam, error) {
	names, err := d.TeamNamesWithMember(ctx, namespace, userID)
	if err != nil {
		return nil, err
	}
	d.awaitOwnWrites(ctx, namespace, kindTeam)
	var out []rosterv1.OrgTeam
	for _, name := range slices.Sorted(maps.Keys(names)) {
		var t rosterv1.OrgTeam
		err := d.client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &t)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// TeamRef is what a user's "groups" attribute shows of a team.
type TeamRef struct{ Name, DisplayName string }

// SCIMTeamRefsWithMember returns the SCIM-managed teams whose slices list a user, ordered by
// display name (then name), as a user's "groups" attribute shows them. Why not
// TeamsWithMember: a page of 100 users renders each one's groups, and copying every team of
// every user (the same big teams over and over) was most of a page's work; this reads two
// strings of each cached team in place.
func (d *Directory) SCIMTeamRefsWithMember(ctx context.Context, namespace, userID string) ([]TeamRef, error) {
	names, err := d.TeamNamesWithMember(ctx, namespace, userID)
	if err != nil || len(names) == 0 {
		return nil, err
	}
	d.awaitOwnWrites(ctx, namespace, kindTeam)
	out := make([]TeamRef, 0, len(names))
	for name := range names {
		var t rosterv1.OrgTeam // shares its fields with the cache: read only
		err := d.client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &t, client.UnsafeDisableDeepCopy)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if t.Spec.ManagedBy == rosterv1.ManagedBySCIM {
			out = append(out, TeamRef{Name: t.Name, DisplayName: t.Spec.DisplayName})
		}
	}
	slices.SortFunc(out, func(a, b TeamRef) int {
		return cmp.Or(strings.Compare(a.DisplayName, b.DisplayName), strings.Compare(a.Name, b.Name))
	})
	return out, nil
}

// TeamNamesWithMember returns the names of the teams whose slices list a user: one lookup in
// the slice member index, no team and no member list is read. Member filters decide with it.
func (d *Directory) TeamNamesWithMember(ctx context.Context, namespace, userID string) (map[string]bool, error) {
	var sl rosterv1.OrgTeamMemberSliceList
	if err := d.list(ctx, namespace, &sl, index.SlicesWithMember(userID)); err != nil {
		return nil, err
	}
	names := make(map[string]bool, len(sl.Items))
	for i := range sl.Items {
		names[sl.Items[i].Spec.Team] = true
	}
	return names, nil
}

// Listing returns a team's view with its member slices from the cache (one lookup in the
// slice team index; the member lists are shared, not copied): its member count and members
// are read from it without building a list of them.
func (d *Directory) Listing(ctx context.Context, t *rosterv1.OrgTeam) (membership.Listing, error) {
	d.awaitOwnWrites(ctx, t.Namespace, kindSlice)
	return d.members.Listing(ctx, t)
}

// View returns a team as SCIM sees it (version and last-modified time cover its members),
// from the cache's slices (their headers only: no member list is copied).
func (d *Directory) View(ctx context.Context, t *rosterv1.OrgTeam) (membership.View, error) {
	d.awaitOwnWrites(ctx, t.Namespace, kindSlice)
	sl, err := d.members.Slices(ctx, t)
	if err != nil {
		return membership.View{}, err
	}
	return membership.NewView(t, sl), nil
}

// Members returns a team's member ids, sorted, from the cache.
func (d *Directory) Members(ctx context.Context, t *rosterv1.OrgTeam) ([]string, error) {
	d.awaitOwnWrites(ctx, t.Namespace, kindSlice)
	sl, err := d.members.Slices(ctx, t)
	if err != nil {
		return nil, err
	}
	return membership.Members(sl).Sorted(), nil
}

// CreateTeam creates a SCIM-managed team of org: reserve the display name, create the team,
// write its members. If a step fails the earlier ones are undone, so nothing is half-created.
func (d *Directory) CreateTeam(ctx context.Context, org *rosterv1.Organization, displayName, externalID string, members []string) (*rosterv1.OrgTeam, error) {
	return d.CreateTeamWithSpec(ctx, org, rosterv1.OrgTeamSpec{DisplayName: displayName, ExternalID: externalID}, members)
}

// CreateTeamWithSpec is CreateTeam for a team spec that carries more than the display name
// and externalId (custom extension values); ManagedBy is set to scim.
func (d *Directory) CreateTeamWithSpec(ctx context.Context, org *rosterv1.Organization, spec rosterv1.OrgTeamSpec, members []string) (*rosterv1.OrgTeam, error) {
	displayName := spec.DisplayName
	spec.ManagedBy = rosterv1.ManagedBySCIM
	t := &rosterv1.OrgTeam{Spec: spec}
	t.Name, t.Namespace = naming.NewTeamObjectName(), org.Spec.Namespace
	t.Labels = map[string]string{rosterv1.OrgLabel: org.Name}
	rosterv1.StampLastModified(t, d.now())
	// A new team has no slices: its fences need not list them from the apiserver.
	t.Annotations[membership.WatermarkAnnotation] = "0"
	d.stampFinalizer(t)
	if err := d.claimDisplayName(ctx, t, displayName); err != nil {
		return nil, err
	}
	if err := d.client.Create(ctx, t); err != nil {
		_ = d.releaseDisplayName(ctx, t, displayName)
		return nil, err
	}
	d.noteWrite(ctx, t)
	if len(members) > 0 {
		if _, err := d.changeMembers(ctx, t, []patch.MemberOp{{Kind: patch.MemberReplace, Values: members}}, nil); err != nil {
			d.undoCreate(t, displayName)
			return nil, err
		}
	}
	return t, nil
}

// undoCreate removes what a failed create wrote. It uses a fresh context: the request's may
// be the reason for the failure.
func (d *Directory) undoCreate(t *rosterv1.OrgTeam, displayName string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = d.members.DeleteAll(ctx, t)
	_ = client.IgnoreNotFound(d.client.Delete(ctx, t))
	_ = d.releaseDisplayName(ctx, t, displayName)
}

// UpdateTeam changes a team: its spec (with a display-name claim on rename) and its members.
//
// The order keeps failures whole: the new spec is computed (and validated) first, a new
// display name is claimed next (a name taken is refused before anything changed), then the
// members are written (a failure releases the new claim: nothing changed), then the spec, and
// the old claim is released last. Only an apiserver failure between the member write and the
// spec write leaves part of the change; both steps are idempotent, so the identity provider's
// retry of the request (it is answered 503) converges — without If-Match: a retry that carries
// the old version is refused, as the members did change.
//
// With a precondition, the version is checked against the apiserver (the team and its slices'
// metadata) and carried into the first write: the membership commit bumps the team's revision
// with a resourceVersion-checked write, a spec-only change updates the team at the
// resourceVersion it checked, so of two writers holding one version only one succeeds.
func (d *Directory) UpdateTeam(ctx context.Context, namespace, id string, pre Precondition, change TeamChange) (*rosterv1.OrgTeam, error) {
	live := len(pre) > 0 || change.Spec != nil // spec decisions (rename, "no change") read live
	t, err := d.readTeam(ctx, namespace, id, live)
	if err != nil {
		return nil, err
	}
	spec := t.Spec
	if change.Spec != nil {
		if spec, err = change.Spec(t.Spec); err != nil {
			return nil, err
		}
	}
	renamed := naming.Fold(spec.DisplayName) != naming.Fold(t.Spec.DisplayName)
	if renamed {
		if err := d.claimDisplayName(ctx, t, spec.DisplayName); err != nil {
			return nil, err
		}
	}
	// The identity provider's write of the team ends a break-glass edit, restoring the members
	// from before it (membership.Store.Push). With member operations, the membership commit
	// decides that on the team as its fence reads it from the apiserver; without, on the team
	// read live above (a spec change reads it live), and an empty change does the same.
	ending := len(change.Members) == 0 && live && membership.InBreakGlass(t.Annotations)
	if len(change.Members) > 0 || ending {
		revised, err := d.changeMembers(ctx, t, change.Members, pre)
		if err != nil {
			if renamed {
				_ = d.releaseDisplayName(ctx, t, spec.DisplayName)
			}
			return nil, err
		}
		if revised {
			pre = nil // the membership commit won the precondition
		}
	}
	if change.Spec != nil {
		oldName := t.Spec.DisplayName
		if err := d.updateTeamSpec(ctx, t, pre, change.Spec); err != nil {
			if renamed {
				_ = d.releaseDisplayName(ctx, t, spec.DisplayName)
			}
			return nil, err
		}
		if renamed {
			_ = d.releaseDisplayName(ctx, t, oldName) // a leftover claim is stale and reclaimable
		}
	}
	// As this replica's cache holds it now, with every write above.
	return d.GetTeam(ctx, namespace, id)
}

// updateTeamSpec applies mutate to the team (read from the apiserver) with optimistic
// concurrency. t is updated in place.
func (d *Directory) updateTeamSpec(ctx context.Context, t *rosterv1.OrgTeam, pre Precondition, mutate func(rosterv1.OrgTeamSpec) (rosterv1.OrgTeamSpec, error)) error {
	first := true
	err := retry.OnError(membership.ConflictBackoff, apierrors.IsConflict, func() error {
		if !first {
			fresh, err := d.readTeam(ctx, t.Namespace, t.Name, true)
			if err != nil {
				return err
			}
			*t = *fresh
		}
		first = false
		if len(pre) > 0 {
			v, err := d.liveView(ctx, t)
			if err != nil {
				return err
			}
			if err := pre.check(v.Version); err != nil {
				return err
			}
		}
		spec, err := mutate(t.Spec)
		if err != nil {
			return err
		}
		if equality.Semantic.DeepEqual(spec, t.Spec) {
			return nil
		}
		next := t.DeepCopy()
		next.Spec = spec
		rosterv1.StampLastModified(next, d.now())
		if err := d.client.Update(ctx, next); err != nil {
			return err
		}
		d.noteWrite(ctx, next)
		*t = *next
		return nil
	})
	if apierrors.IsConflict(err) {
		return ErrContention
	}
	return err
}

// changeMembers writes a membership change: the ids added are resolved to users first (the
// cache, then the apiserver for ids it does not know), then one fenced commit, then the
// unresolved ids go to the team's status. revised reports that the commit moved the team's
// version under the precondition (a change that wrote nothing keeps it).
func (d *Directory) changeMembers(ctx context.Context, t *rosterv1.OrgTeam, ops []patch.MemberOp, pre Precondition) (revised bool, err error) {
	var added []string
	for _, op := range ops {
		if op.Kind == patch.MemberAdd || op.Kind == patch.MemberReplace {
			added = append(added, op.Values...)
		}
	}
	users, err := d.members.Users(ctx, t.Namespace, added)
	if err != nil {
		return false, err
	}
	var check membership.Precondition
	if len(pre) > 0 {
		check = func(v membership.View) error { return pre.check(v.Version) }
	}
	// Every membership change of the directory is the identity provider's write of the team.
	res, err := d.members.Push(ctx, t, func(cur membership.Set) (membership.Set, []string) {
		return membership.Desired(cur, ops, users.Has)
	}, check)
	switch {
	case errors.Is(err, membership.ErrTeamGone):
		return false, ErrNotFound
	case apierrors.IsConflict(err):
		return false, ErrContention
	case err != nil:
		return false, err
	}
	d.noteResults(ctx, []membership.Result{res})
	if len(ops) > 0 {
		// Best effort: the change is durable, and the next change records its own unresolved ids.
		_ = d.members.RecordUnresolved(ctx, t, res)
	}
	return res.Revised != nil, nil
}

// noteResults records the writes of membership changes for read-your-writes and in the
// context's Written.
func (d *Directory) noteResults(ctx context.Context, results []membership.Result) {
	for _, res := range results {
		d.noteWrite(ctx, res.Last)
		if res.Revised != nil {
			d.noteWrite(ctx, res.Revised)
		}
	}
	recordResults(ctx, results)
}

// liveView is a team's view as the apiserver holds it now: preconditions are checked on it.
func (d *Directory) liveView(ctx context.Context, t *rosterv1.OrgTeam) (membership.View, error) {
	v, err := d.members.LiveView(ctx, t)
	if errors.Is(err, membership.ErrTeamGone) {
		return v, ErrNotFound
	}
	return v, err
}

// DeleteTeam deletes a team, its member slices and its display-name claim.
//
// The team is read from the apiserver and deleted at the resourceVersion read: a replica whose
// cache trails the disable switch must not delete a team the switch made manual (readTeam
// answers ErrNotFound for it), and its members with it.
func (d *Directory) DeleteTeam(ctx context.Context, namespace, id string, pre Precondition) error {
	var deleted *rosterv1.OrgTeam
	err := retry.OnError(membership.ConflictBackoff, apierrors.IsConflict, func() error {
		t, err := d.readTeam(ctx, namespace, id, true)
		if err != nil {
			return err
		}
		if len(pre) > 0 {
			v, err := d.liveView(ctx, t)
			if err != nil {
				return err
			}
			if err := pre.check(v.Version); err != nil {
				return err
			}
		}
		p := client.Preconditions{UID: &t.UID, ResourceVersion: &t.ResourceVersion}
		if err := d.client.Delete(ctx, t, p); err != nil {
			if apierrors.IsNotFound(err) {
				return ErrNotFound
			}
			return err
		}
		deleted = t
		recordWrite(ctx, kindTeam, t.Name)
		return nil
	})
	if apierrors.IsConflict(err) {
		return ErrContention
	}
	if err != nil {
		return err
	}
	recordSlicesOf(ctx, deleted.Name)
	if err := d.members.DeleteAll(ctx, deleted); err != nil {
		return err
	}
	if err := d.releaseClaims(ctx, deleted); err != nil {
		return err
	}
	d.awaitGone(ctx, deleted)
	return nil
}

// SCIMTeams keeps the SCIM-managed teams of a list.
func SCIMTeams(teams []rosterv1.OrgTeam) []*rosterv1.OrgTeam {
	out := make([]*rosterv1.OrgTeam, 0, len(teams))
	for i := range teams {
		if teams[i].Spec.ManagedBy == rosterv1.ManagedBySCIM {
			out = append(out, &teams[i])
		}
	}
	return out
}
