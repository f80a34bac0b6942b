package membership

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// The informer cache lags the apiserver, and another replica may have written a team's slices
// a millisecond ago. A change planned from a stale view would be wrong without conflicting:
// a removal of a member this replica has not seen yet plans no write at all, and a new slice
// that another replica created carries no resourceVersion this replica could collide with.
//
// So every commit is fenced by a watermark. After its slice writes, and before it is
// acknowledged, a commit records on the team (WatermarkAnnotation) the highest
// resourceVersion it wrote. A commit starts by reading the team from the apiserver — a single
// GET, a quorum read straight from etcd — and waits until this replica's slice informer has
// delivered that revision: resourceVersions are etcd revisions and one watch delivers a kind's
// events in order, so the cache then holds every slice write of every acknowledged commit,
// and its member lists are the truth. (A consistent LIST of the slices would say the same, but
// the apiserver answers it from its watch cache once that has caught up, which took up to
// 100 ms per request here.) A team without a watermark (written before it existed), or a cache
// that does not catch up in time, is read with a LIST instead.

// WatermarkAnnotation holds the highest slice resourceVersion written by an acknowledged
// membership change of the team.
const WatermarkAnnotation = "scim.roster.dev/members-watermark"

// watermarkWait bounds how long a fence waits for this replica's cache to reach a watermark
// before it lists the slices from the apiserver instead. The cache is normally a millisecond
// behind; a replica that just started may not see any slice event for a while (its cache
// learns revisions only from the objects it receives), and then lists.
const watermarkWait = 250 * time.Millisecond

// snapshot is a team and its slices as they are in the apiserver at one moment.
type snapshot struct {
	team   metav1.PartialObjectMetadata
	slices []rosterv1.OrgTeamMemberSlice
	// unresolvedRecorded: the team's status lists unresolved members.
	unresolvedRecorded bool
	// managedBy is the team's spec.managedBy as read live.
	managedBy string
}

// ErrTeamGone is returned when the team of a change no longer exists or is being deleted.
var ErrTeamGone = errors.New("the team no longer exists")

// ErrTeamReleased is returned to the identity provider's change (Push) of a team that is
// managed by hand now (its organization's SCIM was disabled): to SCIM it is gone.
var ErrTeamReleased = fmt.Errorf("%w: its members are managed by hand now", ErrTeamGone)

func teamMeta() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(rosterv1.GroupVersion.WithKind("OrgTeam"))
	return m
}

func sliceMetaList() *metav1.PartialObjectMetadataList {
	l := &metav1.PartialObjectMetadataList{}
	l.SetGroupVersionKind(rosterv1.GroupVersion.WithKind("OrgTeamMemberSliceList"))
	return l
}

// watermark reads a team's watermark; ok is false when it has none.
func watermark(annotations map[string]string) (uint64, bool) {
	rv, err := strconv.ParseUint(annotations[WatermarkAnnotation], 10, 64)
	return rv, err == nil
}

// fenceWatermark is the watermark a fence may wait for, given the team's annotations and its
// own resourceVersion as read together; ok is false when there is none to trust. A watermark
// is written onto the team after the slices it covers, so the team's own resourceVersion is
// always above it — unless the team came from elsewhere: a backup restored into another
// cluster (Velero) carries the old etcd's watermark, which can exceed every revision of the
// new one. Waiting for it would time out on every change, for good; such a watermark is
// ignored (the fence lists), and the next commit's raiseWatermark replaces it.
func fenceWatermark(annotations map[string]string, resourceVersion string) (uint64, bool) {
	rv, ok := watermark(annotations)
	if !ok {
		return 0, false
	}
	own, err := strconv.ParseUint(resourceVersion, 10, 64)
	return rv, err == nil && rv < own
}

// fence reads the team from the apiserver and returns its slices as they are now. atLeast is
// a revision the slices must include besides the watermark: a retried commit's own earlier
// writes.
func (s *Store) fence(ctx context.Context, team *rosterv1.OrgTeam, atLeast uint64) (snapshot, error) {
	var snap snapshot
	// The whole team (a few hundred bytes): its status says whether unresolved members are
	// recorded, which decides whether a change must clear them (RecordUnresolved).
	var full rosterv1.OrgTeam
	err := s.API.Get(ctx, types.NamespacedName{Namespace: team.Namespace, Name: team.Name}, &full)
	switch {
	case apierrors.IsNotFound(err):
		return snap, ErrTeamGone
	case err != nil:
		return snap, err
	case full.DeletionTimestamp != nil || (team.UID != "" && full.UID != team.UID):
		return snap, ErrTeamGone
	}
	snap.team = *teamMeta()
	snap.team.ObjectMeta = full.ObjectMeta
	snap.unresolvedRecorded = full.Status.UnresolvedMemberCount > 0 || len(full.Status.UnresolvedMembers) > 0
	snap.managedBy = full.Spec.ManagedBy
	snap.slices, err = s.currentSlices(ctx, team, full.Annotations, full.ResourceVersion, atLeast)
	return snap, err
}

// currentSlices returns the team's slices as the apiserver holds them, given the team's
// annotations and resourceVersion as just read from it: from the cache once it reached the
// watermark (fenceWatermark) (shared with
// the cache: read only), else listed from the apiserver. A team with an open or failed change
// is always listed: that change's writes may not be under the watermark yet; so is a team
// in a break-glass edit (breakglass.go), whose slices people write.
func (s *Store) currentSlices(ctx context.Context, team *rosterv1.OrgTeam, annotations map[string]string, resourceVersion string, atLeast uint64) ([]rosterv1.OrgTeamMemberSlice, error) {
	sel := client.MatchingLabels{rosterv1.TeamLabel: team.Name}
	rv, ok := fenceWatermark(annotations, resourceVersion)
	if ok && !pendingChange(annotations, time.Now()) && !InBreakGlass(annotations) && s.SliceProgress.AwaitIn(ctx, team.Namespace, max(rv, atLeast), watermarkWait) {
		// Through the team index, not a List by label: that walks every slice of the
		// namespace at every commit.
		return s.labelledSlices(ctx, team)
	}
	var fresh rosterv1.OrgTeamMemberSliceList
	err := s.API.List(ctx, &fresh, client.InNamespace(team.Namespace), sel)
	return fresh.Items, err
}

// LiveView returns a team's view as the apiserver holds it now, for checking a precondition
// that a write then carries.
func (s *Store) LiveView(ctx context.Context, team *rosterv1.OrgTeam) (View, error) {
	snap, err := s.fence(ctx, team, 0)
	if err != nil {
		return View{}, err
	}
	return snap.view(team), nil
}

// raiseWatermark records on the team that its slices were written up to revision rv (it never
// lowers it, since another replica's commit may have raised it further meanwhile, except a
// watermark restored from another cluster: fenceWatermark). meta is the team
// as this commit last knew it; a conflict reads it again. It runs on its own context
// (cleanupContext): the slices are written, so the watermark must follow even when the
// change ran out of time.
// With end, the break-glass state of a restore (breakglass.go), the same write removes that
// state if the team still holds it.
func (s *Store) raiseWatermark(team *rosterv1.OrgTeam, meta *metav1.PartialObjectMetadata, rv uint64, end string) error {
	ctx, cancel := s.cleanupContext()
	defer cancel()
	key := types.NamespacedName{Namespace: team.Namespace, Name: team.Name}
	m := meta.DeepCopy()
	return retry.RetryOnConflict(ConflictBackoff, func() error {
		if m == nil {
			m = teamMeta()
			if err := s.API.Get(ctx, key, m); err != nil {
				return err
			}
		}
		cur, ok := watermark(m.Annotations)
		_, trusted := fenceWatermark(m.Annotations, m.ResourceVersion)
		set := map[string]any{}
		// A restored watermark (not below the team's own resourceVersion) is replaced, even
		// by a lower one: it says nothing about this etcd.
		if rv > 0 && (!ok || cur < rv || !trusted) {
			// The team's lastModified moves with its members too: a change that only empties
			// slices leaves no other trace once they are deleted.
			set[WatermarkAnnotation] = strconv.FormatUint(rv, 10)
			set[rosterv1.LastModifiedAnnotation] = time.Now().UTC().Format(time.RFC3339Nano)
		}
		if end != "" && m.Annotations[rosterv1.BreakGlassStateAnnotation] == end {
			set[rosterv1.BreakGlassStateAnnotation] = nil
		}
		resourceVersion := m.ResourceVersion
		m = nil // a retry reads the team again
		if len(set) == 0 {
			return nil
		}
		_, err := s.patchTeam(ctx, team, set, resourceVersion)
		return err
	})
}

// exactSlices returns the slices that live describes: from the cache where it holds a slice
// at the live resourceVersion (shared with the cache: read only), the others read from the
// apiserver — one by one when they are few, else in one list. Usually the cache has all of
// them, or all but the one another replica wrote a moment ago.
func (s *Store) exactSlices(ctx context.Context, namespace string, sel client.MatchingLabels, live *metav1.PartialObjectMetadataList) ([]rosterv1.OrgTeamMemberSlice, error) {
	var cached rosterv1.OrgTeamMemberSliceList
	if err := s.Cache.List(ctx, &cached, client.InNamespace(namespace), sel, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	if sameVersions(cached.Items, live.Items) {
		return cached.Items, nil
	}
	byName := make(map[string]*rosterv1.OrgTeamMemberSlice, len(cached.Items))
	for i := range cached.Items {
		byName[cached.Items[i].Name] = &cached.Items[i]
	}
	out := make([]rosterv1.OrgTeamMemberSlice, 0, len(live.Items))
	var stale []string
	for i := range live.Items {
		if c, ok := byName[live.Items[i].Name]; ok && c.ResourceVersion == live.Items[i].ResourceVersion {
			out = append(out, *c)
		} else {
			stale = append(stale, live.Items[i].Name)
		}
	}
	if len(stale) > maxSliceGets {
		var fresh rosterv1.OrgTeamMemberSliceList
		if err := s.API.List(ctx, &fresh, client.InNamespace(namespace), sel); err != nil {
			return nil, err
		}
		return fresh.Items, nil
	}
	fetched := make([]rosterv1.OrgTeamMemberSlice, len(stale))
	found := make([]bool, len(stale))
	errs := make([]error, len(stale))
	var wg sync.WaitGroup
	for i, name := range stale {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.API.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &fetched[i])
			found[i] = err == nil
			if !apierrors.IsNotFound(err) { // deleted since the list: no longer a slice
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	for i := range stale {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if found[i] {
			out = append(out, fetched[i])
		}
	}
	return out, nil
}

// maxSliceGets is how many slices the cache may miss before they are listed instead of read
// one by one.
const maxSliceGets = 8

// sameVersions reports whether cached slices are exactly the live ones (names and versions).
func sameVersions(cached []rosterv1.OrgTeamMemberSlice, live []metav1.PartialObjectMetadata) bool {
	if len(cached) != len(live) {
		return false
	}
	want := make(map[string]string, len(live))
	for i := range live {
		want[live[i].Name] = live[i].ResourceVersion
	}
	for i := range cached {
		if rv, ok := want[cached[i].Name]; !ok || rv != cached[i].ResourceVersion {
			return false
		}
	}
	return true
}
