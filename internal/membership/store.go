package membership

import (
	"context"
	"fmt"
	"sync"
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

	mu     sync.Mutex
	queues map[string]*queue // per team: changes waiting for a group commit
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

// Slices returns a team's slices; fresh reads from the apiserver instead of the cache. Slices
// from the cache share their member lists with it: callers must not modify them (Plan copies
// what it changes).
func (s *Store) Slices(ctx context.Context, team *rosterv1.OrgTeam, fresh bool) ([]rosterv1.OrgTeamMemberSlice, error) {
	var list rosterv1.OrgTeamMemberSliceList
	var err error
	if fresh {
		err = s.API.List(ctx, &list, client.InNamespace(team.Namespace), client.MatchingLabels{rosterv1.TeamLabel: team.Name})
	} else {
		// Without deep copies: 50 slices of a 100,000-member team are 100,000 strings.
		err = s.Cache.List(ctx, &list, client.InNamespace(team.Namespace), client.MatchingFields{index.SliceTeam: team.Name},
			client.UnsafeDisableDeepCopy)
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
// from the current ones. desired must not have side effects: it may run more than once.
//
// Changes to one team on this replica are committed in groups: while one write is in flight,
// the changes that arrive queue up, and the next write carries all of them, each applied in
// arrival order to the result of the one before. A hot team (Okta pushes a group's
// memberships as many parallel PATCHes) thus costs one write per round trip instead of a
// storm of conflicting writes. Between replicas, optimistic concurrency still rules: on a
// conflict the slices are re-read from the apiserver and the whole group is applied again.
func (s *Store) Change(ctx context.Context, team *rosterv1.OrgTeam, desired func(current Set) (Set, []string)) (Result, error) {
	r := &request{desired: desired, done: make(chan struct{})}
	key := team.Namespace + "/" + team.Name
	s.mu.Lock()
	if s.queues == nil {
		s.queues = map[string]*queue{}
	}
	q := s.queues[key]
	if q == nil {
		q = &queue{}
		s.queues[key] = q
	}
	q.pending = append(q.pending, r)
	lead := !q.busy
	q.busy = true
	s.mu.Unlock()
	if lead {
		s.drain(key, team, q)
	}
	// Waiting is bounded: the leader's writes run under commitTimeout. Returning early on a
	// cancelled ctx would report a failure for a change that may still be written.
	<-r.done
	return r.res, r.err
}

// commitTimeout bounds one group commit, whoever's request started it.
const commitTimeout = 30 * time.Second

// request is one caller's change waiting in a team's queue.
type request struct {
	desired func(Set) (Set, []string)
	res     Result
	err     error
	done    chan struct{}
}

// queue holds the changes waiting for a team; busy while a leader drains it.
type queue struct {
	pending []*request
	busy    bool
}

// drain commits the queue's changes in groups until it is empty.
func (s *Store) drain(key string, team *rosterv1.OrgTeam, q *queue) {
	for {
		s.mu.Lock()
		batch := q.pending
		q.pending = nil
		if len(batch) == 0 {
			q.busy = false
			delete(s.queues, key)
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
		results, err := s.commit(ctx, team, batch)
		cancel()
		for i, r := range batch {
			r.res, r.err = results[i], err
			close(r.done)
		}
	}
}

// commit applies a group of changes in one set of writes, retrying on conflicts.
func (s *Store) commit(ctx context.Context, team *rosterv1.OrgTeam, batch []*request) (results []Result, err error) {
	defer func() {
		if p := recover(); p != nil { // never leave the other callers waiting
			err = fmt.Errorf("membership change of team %s panicked: %v", team.Name, p)
		}
		if len(results) != len(batch) {
			results = make([]Result, len(batch))
		}
	}()
	fresh := false
	err = retry.OnError(ConflictBackoff, apierrors.IsConflict, func() error {
		sl, err := s.Slices(ctx, team, fresh)
		fresh = true
		if err != nil {
			return err
		}
		results = make([]Result, len(batch))
		current := Members(sl)
		for i, r := range batch {
			want, unresolved := r.desired(current)
			res := Result{Members: len(want), Unresolved: unresolved}
			for id := range want {
				if _, ok := current[id]; !ok {
					res.Added++
				}
			}
			res.Removed = len(current) + res.Added - len(want)
			results[i], current = res, want
		}
		w := Plan(sl, current, s.capacity())
		last, deleted, err := s.write(ctx, team, w)
		for i := range results {
			results[i].Writes, results[i].Last, results[i].LastDeleted = w.Count(), last, deleted
		}
		return err
	})
	return results, err
}

// write performs the writes: updates and deletes first (they carry resourceVersions and
// fail on conflict before anything new exists), then creates.
func (s *Store) write(ctx context.Context, team *rosterv1.OrgTeam, w Writes) (last client.Object, deleted bool, err error) {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for _, sl := range w.Update {
		stamp(sl, now)
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
		stamp(sl, now)
		if err := s.Writer.Create(ctx, sl); err != nil {
			return nil, false, err
		}
		last, deleted = sl, false
	}
	return last, deleted, nil
}

// stamp records when a slice was written: a team's meta.lastModified covers its members.
func stamp(sl *rosterv1.OrgTeamMemberSlice, now string) {
	if sl.Annotations == nil {
		sl.Annotations = map[string]string{}
	}
	sl.Annotations[rosterv1.LastModifiedAnnotation] = now
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
