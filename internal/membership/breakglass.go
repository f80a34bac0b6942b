package membership

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// Break-glass (rosterv1.BreakGlassAnnotation, webhook/admission): a member of the configured
// group edits a SCIM team's slices by hand in an emergency, and the identity provider's next
// write of the team puts back exactly the members it had set, then applies its own change.
//
// Why a snapshot. Okta and Entra push memberships as PATCHes that name only the members they
// change, so their next write cannot tell which hand edits to undo: Roster must know the
// members the identity provider had set. It records them before any hand edit can land, and
// the ending write restores that record. Recording each hand edit's diff instead (the webhook
// sees old and new members) is not sound: the webhook cannot know whether a write it admitted
// then succeeded, or was overtaken.
//
//  1. Open (OpenBreakGlass, run by controllers.BreakGlassReconciler once the annotation is
//     set): the team's slices are listed from the apiserver, their members that are users are copied
//     into snapshot slices (rosterv1.SnapshotOfLabel and SnapshotLabel, never TeamLabel: no
//     member listing, index, count, prune or empty-slice cleanup picks them up), an empty
//     slice for members added by hand is created (rosterv1.BreakGlassSliceName), and only
//     then the team's state (rosterv1.BreakGlassStateAnnotation) becomes "open <id>", written
//     at the team's resourceVersion read before the list. Before the snapshot, every listed
//     slice is rewritten at its listed version: a push planned before the annotation, whose
//     slice update lands after the list, makes that rewrite conflict (the snapshot is taken
//     again), and one that lands after the rewrite conflicts itself and re-plans from a fence
//     that sees the annotation. A push that creates a slice first marks the team at the
//     version its fence read, which the annotation has moved: the mark conflicts.
//     Roster's other changes (RemoveUserEverywhere, Prune) may land in between unseen; they
//     only remove ids that are no longer users, and a restore keeps only users. The webhook
//     admits hand edits only while the team, read live, is open. A team over
//     MaxSnapshotMembers is refused instead.
//  2. Hand edits change the members of existing slices, or delete slices. Creating a slice is
//     refused: see 3.
//  3. End (a Push whose fence finds the team open): one resourceVersion-checked write removes
//     the break-glass annotation and sets the state to "restoring <id> <lock> <time>" — no
//     hand edit is admitted after it, and of two replicas ending at once only one restores;
//     the other waits for it (a lock whose holder died is taken over after markTTL, one
//     released after a failure at once), then applies its change on top. The slices are then
//     listed live (every hand edit stored before the close is in that list), the members become the
//     snapshot's ids that are still users, the change is applied to them, and the commit
//     rewrites every slice of the team. A hand edit admitted before the close but stored
//     after it carries an older resourceVersion of some slice, so the apiserver's
//     compare-and-swap fails, it runs the webhook again, and the webhook denies it. (A create
//     has nothing to compare with; that is why hand edits may not create slices.) The write
//     that raises the watermark over the commit removes the state; the snapshot slices are
//     deleted last.
//
// From the annotation until the state is gone, fences list the team's slices from the
// apiserver (currentSlices): hand writes are under no watermark.

// MaxSnapshotMembers bounds a break-glass snapshot: the members of the largest team Roster is
// built for. A larger team is not opened to break-glass edits (its state says why).
const MaxSnapshotMembers = 100_000

// InBreakGlass reports whether a team, given its annotations, is in a break-glass edit: its
// slices may hold writes that no watermark covers, from the break-glass annotation until the
// identity provider's write has restored the snapshot.
func InBreakGlass(annotations map[string]string) bool {
	_, glass := annotations[rosterv1.BreakGlassAnnotation]
	_, state := annotations[rosterv1.BreakGlassStateAnnotation]
	return glass || state
}

// Opening says what OpenBreakGlass did.
type Opening struct {
	// Opened: the snapshot of Members members is recorded, hand edits are open.
	Opened  bool
	Members int
	// Refused says why no snapshot was taken (the team's state says it too).
	Refused string
	// Retry > 0: a membership change is in flight; look again after Retry.
	Retry time.Duration
}

// OpenBreakGlass records the snapshot of a SCIM team that carries the break-glass annotation
// and has no break-glass state yet, then opens it to hand edits (step 1 above). Nothing
// happens for any other team.
func (s *Store) OpenBreakGlass(ctx context.Context, team *rosterv1.OrgTeam) (Opening, error) {
	id := randomID()
	var out Opening
	recorded := false // snapshot slices of id exist
	err := retry.RetryOnConflict(ConflictBackoff, func() error {
		out = Opening{}
		m := teamMeta()
		if err := s.API.Get(ctx, types.NamespacedName{Namespace: team.Namespace, Name: team.Name}, m); err != nil {
			return client.IgnoreNotFound(err)
		}
		_, glass := m.Annotations[rosterv1.BreakGlassAnnotation]
		if state, _ := rosterv1.BreakGlassState(m); state != "" || !glass || m.DeletionTimestamp != nil {
			return nil
		}
		if pendingChange(m.Annotations, time.Now()) {
			out.Retry = pendingRetry // its slices are half-written: not what the identity provider set
			return nil
		}
		if recorded {
			if err := s.deleteSnapshots(ctx, team, selection.Equals, id); err != nil { // a retry records anew
				return err
			}
		}
		var list rosterv1.OrgTeamMemberSliceList
		if err := s.API.List(ctx, &list, client.InNamespace(team.Namespace), client.MatchingLabels{rosterv1.TeamLabel: team.Name}); err != nil {
			return err
		}
		// Rewrite every slice at the version listed: a push planned before the annotation
		// updates a slice at an older version and now conflicts (it re-plans, sees the
		// annotation, and ends the break-glass instead of slipping past the snapshot); one
		// that landed since the list makes this conflict, and the snapshot is taken again.
		// (A push that creates a slice marks the team at its fence's version first: the
		// state patch below or that mark conflicts.) The stamp changes no generation: the
		// team's version stays.
		now := time.Now()
		for i := range list.Items {
			sl := list.Items[i].DeepCopy()
			rosterv1.StampLastModified(sl, now)
			if err := s.Writer.Update(ctx, sl); err != nil {
				return err
			}
		}
		ids := Members(list.Items)
		if len(ids) > MaxSnapshotMembers {
			out.Refused = fmt.Sprintf("the team has %d members, more than the %d a break-glass snapshot holds", len(ids), MaxSnapshotMembers)
			_, err := s.patchTeam(ctx, team, map[string]any{rosterv1.BreakGlassStateAnnotation: rosterv1.BreakGlassRefused + " " + out.Refused}, m.ResourceVersion)
			return err
		}
		// Ids that are not users (any more) are not the identity provider's members.
		users, err := s.Users(ctx, team.Namespace, ids.Sorted())
		if err != nil {
			return err
		}
		owner := team.DeepCopy()
		owner.UID, owner.Labels = m.UID, m.Labels
		recorded = true
		for members := users.Sorted(); len(members) > 0; {
			n := min(s.capacity(), len(members))
			if err := s.Writer.Create(ctx, newSnapshotSlice(owner, id, members[:n])); err != nil {
				return err
			}
			members = members[n:]
		}
		room := NewSlice(owner, nil)
		room.GenerateName, room.Name = "", rosterv1.BreakGlassSliceName(team.Name)
		rosterv1.StampLastModified(room, time.Now())
		if err := s.Writer.Create(ctx, room); apierrors.IsAlreadyExists(err) {
			// Anyone may name a manual team's slice so: the room must be this team's, or the
			// emergency admin would be adding people to someone else's team.
			var have rosterv1.OrgTeamMemberSlice
			if err := s.API.Get(ctx, client.ObjectKeyFromObject(room), &have); err != nil {
				return err
			}
			if have.Spec.Team != team.Name || have.Labels[rosterv1.TeamLabel] != team.Name || !metav1.IsControlledBy(&have, owner) {
				out.Refused = fmt.Sprintf("the slice %s, where break-glass additions go, exists and is not this team's (spec.team %q)", room.Name, have.Spec.Team)
				_, err := s.patchTeam(ctx, team, map[string]any{rosterv1.BreakGlassStateAnnotation: rosterv1.BreakGlassRefused + " " + out.Refused}, m.ResourceVersion)
				return err
			}
		} else if err != nil {
			return err
		}
		_, err = s.patchTeam(ctx, team, map[string]any{rosterv1.BreakGlassStateAnnotation: rosterv1.BreakGlassOpen + " " + id}, m.ResourceVersion)
		out.Opened, out.Members = err == nil, len(users)
		return err
	})
	cleanup, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch {
	case out.Opened:
		// Leftovers of openings that lost a race, or of restores whose cleanup failed.
		_ = s.deleteSnapshots(cleanup, team, selection.NotEquals, id)
	case recorded:
		_ = s.deleteSnapshots(cleanup, team, selection.Equals, id)
	}
	return out, err
}

// DropBreakGlass removes the break-glass state and snapshots of a team that is no longer
// SCIM-managed (SCIM was disabled for its organization): no identity provider write will end
// the break-glass, and its members are edited by hand now anyway.
func (s *Store) DropBreakGlass(ctx context.Context, team *rosterv1.OrgTeam) error {
	if err := s.deleteSnapshots(ctx, team, "", ""); err != nil {
		return err
	}
	_, err := s.patchTeam(ctx, team, map[string]any{rosterv1.BreakGlassStateAnnotation: nil}, "")
	return client.IgnoreNotFound(err)
}

// newSnapshotSlice returns a slice of a team's snapshot id with the given members.
func newSnapshotSlice(team *rosterv1.OrgTeam, id string, members []string) *rosterv1.OrgTeamMemberSlice {
	sl := NewSlice(team, members)
	sl.GenerateName = team.Name + "-snapshot-"
	sl.Labels = map[string]string{rosterv1.SnapshotOfLabel: team.Name, rosterv1.SnapshotLabel: id, rosterv1.OrgLabel: team.Labels[rosterv1.OrgLabel]}
	return sl
}

// deleteSnapshots deletes a team's snapshot slices whose id is (selection.Equals) or is not
// (selection.NotEquals) id; all of them with op "".
func (s *Store) deleteSnapshots(ctx context.Context, team *rosterv1.OrgTeam, op selection.Operator, id string) error {
	sel := labels.SelectorFromSet(labels.Set{rosterv1.SnapshotOfLabel: team.Name})
	if op != "" {
		r, err := labels.NewRequirement(rosterv1.SnapshotLabel, op, []string{id})
		if err != nil {
			return err
		}
		sel = sel.Add(*r)
	}
	err := s.Writer.DeleteAllOf(ctx, &rosterv1.OrgTeamMemberSlice{}, client.InNamespace(team.Namespace), client.MatchingLabelsSelector{Selector: sel})
	return client.IgnoreNotFound(err)
}

// ending is what a Push's commit starts from when it ends a break-glass edit.
type ending struct {
	base  Set  // the members the change applies to (nil: the slices')
	touch bool // rewrite every slice, so that a hand edit still in flight fails (see above)
}

// errRestoring says that another writer is restoring the team's snapshot. It is a conflict:
// the commit retries (ConflictBackoff), and applies its change once the restore is done.
var errRestoring = apierrors.NewConflict(rosterv1.GroupVersion.WithResource("orgteams").GroupResource(), "",
	fmt.Errorf("the identity provider's write restoring the members from before a break-glass edit is still running"))

// endBreakGlass ends a break-glass edit for a Push (step 3 above), given the commit's fence:
// it closes the team to hand edits and, when a snapshot was recorded, takes the restore's
// lock and returns the members to restore. lock is the state value this commit already holds
// from an earlier attempt ("": none); the new one is returned. snap is updated: the team after
// the close, the slices listed after it.
func (s *Store) endBreakGlass(ctx context.Context, team *rosterv1.OrgTeam, snap *snapshot, lock string) (ending, string, error) {
	a := snap.team.Annotations
	state, rest := rosterv1.BreakGlassState(&snap.team)
	f := strings.Fields(rest) // open: the snapshot's id; restoring: id, holder, time (none when released)
	if (state == rosterv1.BreakGlassOpen || state == rosterv1.BreakGlassRestoring) && len(f) == 0 {
		state = rosterv1.BreakGlassRefused // unreadable: no snapshot to restore
	}
	set := map[string]any{}
	id := ""
	switch state {
	case rosterv1.BreakGlassOpen:
		id, lock = f[0], restoringState(f[0])
		set[rosterv1.BreakGlassAnnotation] = nil
		set[rosterv1.BreakGlassStateAnnotation] = lock
	case rosterv1.BreakGlassRestoring:
		id = f[0]
		if a[rosterv1.BreakGlassStateAnnotation] != lock {
			if len(f) == 3 {
				if at, err := time.Parse(time.RFC3339Nano, f[2]); err == nil && time.Since(at) < markTTL {
					return ending{}, "", errRestoring
				}
			}
			// Released, or left by a replica that died: markTTL is far past any live commit.
			lock = restoringState(id)
			set[rosterv1.BreakGlassStateAnnotation] = lock
		}
	case "":
		// The annotation, and no snapshot yet: the webhook admitted no hand edit of the slices.
		lock = ""
		set[rosterv1.BreakGlassAnnotation] = nil
	default: // refused: no hand edit was admitted either
		lock = ""
		set[rosterv1.BreakGlassAnnotation] = nil
		set[rosterv1.BreakGlassStateAnnotation] = nil
	}
	if len(set) > 0 {
		m, err := s.patchTeam(ctx, team, set, snap.team.ResourceVersion)
		if err != nil {
			return ending{}, "", err // a conflict: the commit fences again
		}
		snap.team.ObjectMeta = m.ObjectMeta
		if lock != "" {
			// Every hand edit stored before the close is in a list taken after it.
			var list rosterv1.OrgTeamMemberSliceList
			if err := s.API.List(ctx, &list, client.InNamespace(team.Namespace), client.MatchingLabels{rosterv1.TeamLabel: team.Name}); err != nil {
				return ending{}, lock, err
			}
			snap.slices = list.Items
		}
	}
	if lock == "" {
		return ending{}, "", nil // the change applies to the slices' members
	}
	var recorded rosterv1.OrgTeamMemberSliceList
	if err := s.API.List(ctx, &recorded, client.InNamespace(team.Namespace),
		client.MatchingLabels{rosterv1.SnapshotOfLabel: team.Name, rosterv1.SnapshotLabel: id}); err != nil {
		return ending{}, lock, err
	}
	var ids []string
	for i := range recorded.Items {
		if recorded.Items[i].Spec.Team == team.Name {
			ids = append(ids, recorded.Items[i].Spec.Members...)
		}
	}
	// A user deleted meanwhile is not the identity provider's member any more.
	users, err := s.Users(ctx, team.Namespace, ids)
	if err != nil {
		return ending{}, lock, err
	}
	return ending{base: users, touch: true}, lock, nil
}

// restoringState is a new restore lock of snapshot id.
func restoringState(id string) string {
	return fmt.Sprintf("%s %s %s %s", rosterv1.BreakGlassRestoring, id, randomID(), time.Now().UTC().Format(time.RFC3339Nano))
}

// releaseRestore lets another writer take over a restore this commit could not finish (the
// identity provider retries at once; it need not wait for markTTL).
func (s *Store) releaseRestore(team *rosterv1.OrgTeam, lock string) {
	ctx, cancel := s.cleanupContext()
	defer cancel()
	m := teamMeta()
	if err := s.API.Get(ctx, types.NamespacedName{Namespace: team.Namespace, Name: team.Name}, m); err != nil || m.Annotations[rosterv1.BreakGlassStateAnnotation] != lock {
		return
	}
	f := strings.Fields(lock)
	_, _ = s.patchTeam(ctx, team, map[string]any{rosterv1.BreakGlassStateAnnotation: f[0] + " " + f[1]}, m.ResourceVersion)
}

// forgetInSnapshots removes a user from the snapshot slices among sl (a namespace's slices),
// so that a user the identity provider deleted during a break-glass edit, and maybe created
// again, is not restored into the team.
func (s *Store) forgetInSnapshots(ctx context.Context, sl []rosterv1.OrgTeamMemberSlice, userID string) error {
	for i := range sl {
		if !rosterv1.IsMemberSnapshot(&sl[i]) || !slices.Contains(sl[i].Spec.Members, userID) {
			continue
		}
		next := sl[i].DeepCopy()
		err := retry.RetryOnConflict(ConflictBackoff, func() error {
			next.Spec.Members = slices.DeleteFunc(next.Spec.Members, func(id string) bool { return id == userID })
			err := s.Writer.Update(ctx, next)
			if apierrors.IsConflict(err) {
				if gerr := s.API.Get(ctx, client.ObjectKeyFromObject(next), next); gerr != nil {
					return gerr
				}
			}
			return err
		})
		if err = client.IgnoreNotFound(err); err != nil {
			return fmt.Errorf("removing %s from break-glass snapshot %s: %w", userID, sl[i].Name, err)
		}
	}
	return nil
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
