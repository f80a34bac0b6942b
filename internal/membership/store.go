package membership

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/index"
)

// Store reads slices from the manager's cache and writes them to the apiserver.
type Store struct {
	// Cache reads through the manager's cache (with the index package's indexes).
	Cache client.Reader
	// API reads from the apiserver; used after a conflict, when the cache may lag behind.
	API client.Reader
	// Writer writes to the apiserver.
	Writer client.Writer
	// Capacity is the most members per slice (rosterv1.MaxMembersPerSlice when zero).
	Capacity int
}

func (s *Store) capacity() int {
	if s.Capacity > 0 {
		return s.Capacity
	}
	return rosterv1.MaxMembersPerSlice
}

// ConflictBackoff paces the retries of a write that lost a race with another writer of the
// same object. Many writers can hit one hot team (Okta pushes a group's memberships in
// parallel), so retries start fast, spread out with full jitter, and stay short: client-go's
// DefaultBackoff multiplies by 5 and would park a request for minutes after a few losses.
// Sixteen steps wait about 7 s in all, at most ~2 s at once.
var ConflictBackoff = wait.Backoff{Duration: 5 * time.Millisecond, Factor: 1.5, Jitter: 1, Steps: 16}

// Slices returns a team's slices; fresh reads from the apiserver instead of the cache.
func (s *Store) Slices(ctx context.Context, team *rosterv1.OrgTeam, fresh bool) ([]rosterv1.OrgTeamMemberSlice, error) {
	var list rosterv1.OrgTeamMemberSliceList
	var err error
	if fresh {
		err = s.API.List(ctx, &list, client.InNamespace(team.Namespace), client.MatchingLabels{rosterv1.TeamLabel: team.Name})
	} else {
		err = s.Cache.List(ctx, &list, client.InNamespace(team.Namespace), client.MatchingFields{index.SliceTeam: team.Name})
	}
	return list.Items, err
}

// Result says what a Change did.
type Result struct {
	Added, Removed int
	Members        int
	Writes         int
	Unresolved     []string
	// Last is the last object written, and LastDeleted whether that write was a delete: once a
	// cache shows it, it shows every earlier write of the change too (one watch, in order).
	Last        client.Object
	LastDeleted bool
}

// Change applies a relative change to a team's members: desired computes the wanted members
// from the current ones. On a conflict with another writer it re-reads the slices from the
// apiserver and calls desired again, so concurrent changes compose instead of overwriting
// each other. desired must not have side effects.
func (s *Store) Change(ctx context.Context, team *rosterv1.OrgTeam, desired func(current Set) (Set, []string)) (Result, error) {
	var res Result
	fresh := false
	err := retry.OnError(ConflictBackoff, apierrors.IsConflict, func() error {
		sl, err := s.Slices(ctx, team, fresh)
		fresh = true
		if err != nil {
			return err
		}
		current := Members(sl)
		want, unresolved := desired(current)
		w := Plan(sl, want, s.capacity())
		res = Result{Members: len(want), Unresolved: unresolved, Writes: w.Count()}
		for id := range want {
			if _, ok := current[id]; !ok {
				res.Added++
			}
		}
		res.Removed = len(current) + res.Added - len(want)
		res.Last, res.LastDeleted, err = s.write(ctx, team, w)
		return err
	})
	return res, err
}

// write performs the writes: updates and deletes first (they carry resourceVersions and
// fail on conflict before anything new exists), then creates.
func (s *Store) write(ctx context.Context, team *rosterv1.OrgTeam, w Writes) (last client.Object, deleted bool, err error) {
	for _, sl := range w.Update {
		if err := s.Writer.Update(ctx, sl); err != nil {
			return nil, false, err
		}
		last = sl
	}
	for _, sl := range w.Delete {
		rv := sl.ResourceVersion
		if err := s.Writer.Delete(ctx, sl, client.Preconditions{ResourceVersion: &rv}); err != nil && !apierrors.IsNotFound(err) {
			return nil, false, err
		}
		last, deleted = sl, true
	}
	for _, members := range w.Create {
		sl := NewSlice(team, members)
		if err := s.Writer.Create(ctx, sl); err != nil {
			return nil, false, err
		}
		last, deleted = sl, false
	}
	return last, deleted, nil
}

// NewSlice returns a slice object for a team with the given members.
func NewSlice(team *rosterv1.OrgTeam, members []string) *rosterv1.OrgTeamMemberSlice {
	sl := &rosterv1.OrgTeamMemberSlice{Spec: rosterv1.OrgTeamMemberSliceSpec{Team: team.Name, Members: members}}
	sl.GenerateName = team.Name + "-"
	sl.Namespace = team.Namespace
	sl.Labels = map[string]string{rosterv1.TeamLabel: team.Name, rosterv1.OrgLabel: team.Labels[rosterv1.OrgLabel]}
	if team.UID != "" {
		t := true
		sl.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: rosterv1.GroupVersion.String(), Kind: "OrgTeam", Name: team.Name, UID: team.UID, Controller: &t,
		}}
	}
	return sl
}

// RemoveUserEverywhere removes a user from every slice (of every team) that lists it, e.g.
// when the user is deleted. Each affected slice is rewritten once.
func (s *Store) RemoveUserEverywhere(ctx context.Context, namespace, userID string) error {
	var list rosterv1.OrgTeamMemberSliceList
	if err := s.Cache.List(ctx, &list, client.InNamespace(namespace), client.MatchingFields{index.SliceMember: userID}); err != nil {
		return err
	}
	for i := range list.Items {
		key := client.ObjectKeyFromObject(&list.Items[i])
		err := retry.RetryOnConflict(ConflictBackoff, func() error {
			var sl rosterv1.OrgTeamMemberSlice
			if err := s.API.Get(ctx, key, &sl); err != nil {
				return client.IgnoreNotFound(err)
			}
			members := make([]string, 0, len(sl.Spec.Members))
			for _, m := range sl.Spec.Members {
				if m != userID {
					members = append(members, m)
				}
			}
			if len(members) == len(sl.Spec.Members) {
				return nil
			}
			if len(members) == 0 {
				rv := sl.ResourceVersion
				return client.IgnoreNotFound(s.Writer.Delete(ctx, &sl, client.Preconditions{ResourceVersion: &rv}))
			}
			sl.Spec.Members = members
			return s.Writer.Update(ctx, &sl)
		})
		if err != nil {
			return fmt.Errorf("removing %s from slice %s: %w", userID, key, err)
		}
	}
	return nil
}

// DeleteAll deletes every slice of a team with one delete-collection request.
func (s *Store) DeleteAll(ctx context.Context, team *rosterv1.OrgTeam) error {
	err := s.Writer.DeleteAllOf(ctx, &rosterv1.OrgTeamMemberSlice{}, client.InNamespace(team.Namespace), client.MatchingLabels{rosterv1.TeamLabel: team.Name})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
