package membership

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// The informer cache lags the apiserver, and another replica may have written a team's slices
// a millisecond ago. A change planned from a stale view would be wrong without conflicting:
// a removal of a member this replica has not seen yet plans no write at all, and a new slice
// that another replica created carries no resourceVersion this replica could collide with.
// So every commit is fenced: its first read is a consistent (quorum) read of the apiserver,
// of metadata only, which is cheap whatever the team's size. When the cache holds exactly
// those slice versions, the cached member lists are the truth and are used without copying;
// otherwise the slices are read whole from the apiserver.

// snapshot is a team and its slices as they are in the apiserver at one moment.
type snapshot struct {
	team   metav1.PartialObjectMetadata
	slices []rosterv1.OrgTeamMemberSlice
}

// ErrTeamGone is returned when the team of a change no longer exists or is being deleted.
var ErrTeamGone = fmt.Errorf("the team no longer exists")

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

// fence reads the team's metadata and its slices' metadata from the apiserver (in parallel)
// and returns the team's slices as they are now.
func (s *Store) fence(ctx context.Context, team *rosterv1.OrgTeam) (snapshot, error) {
	var snap snapshot
	var teamErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		m := teamMeta()
		teamErr = s.API.Get(ctx, types.NamespacedName{Namespace: team.Namespace, Name: team.Name}, m)
		snap.team = *m
	}()
	live := sliceMetaList()
	err := s.API.List(ctx, live, client.InNamespace(team.Namespace), client.MatchingLabels{rosterv1.TeamLabel: team.Name})
	wg.Wait()
	switch {
	case apierrors.IsNotFound(teamErr):
		return snap, ErrTeamGone
	case teamErr != nil:
		return snap, teamErr
	case err != nil:
		return snap, err
	case snap.team.DeletionTimestamp != nil || (team.UID != "" && snap.team.UID != team.UID):
		return snap, ErrTeamGone
	}
	snap.slices, err = s.exactSlices(ctx, team.Namespace, client.MatchingLabels{rosterv1.TeamLabel: team.Name}, live)
	return snap, err
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

// LiveView returns a team's view as the apiserver holds it now, for checking a precondition
// that a write then carries.
func (s *Store) LiveView(ctx context.Context, team *rosterv1.OrgTeam) (View, error) {
	snap, err := s.fence(ctx, team)
	if err != nil {
		return View{}, err
	}
	return snap.view(team), nil
}
