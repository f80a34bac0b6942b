package membership

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/cachewatch"
	"github.com/rosterhq/roster/internal/index"
	"github.com/rosterhq/roster/internal/metrics"
	"github.com/rosterhq/roster/internal/scim/patch"
)

// Store owns the consistency of team memberships: it reads slices, fences and group-commits
// changes, resolves member ids, computes team versions, records unresolved members and prunes
// ids that are no longer users. Build one per process (internal/app) and share it: the group
// commit only batches the changes that go through the same Store.
type Store struct {
	// Cache reads through the manager's cache (with the index package's indexes).
	Cache client.Reader
	// UserCache is the manager's cache itself (cache.Cache), where users are read in place in
	// the compact form it holds them in (internal/slimuser). Nil: Cache, with a copy per user.
	UserCache client.Reader
	// API reads from the apiserver: fences, and users the cache has not seen yet.
	API client.Reader
	// Writer writes to the apiserver.
	Writer client.Client
	// SliceWrites, when set, creates and updates the slices of a membership commit instead of
	// Writer (MetadataSliceWriter: the apiserver answers with metadata only).
	SliceWrites SliceWriter
	// Capacity is the most members per slice (rosterv1.MaxMembersPerSlice when zero).
	Capacity int
	// SliceProgress says how far Cache has got with slices (cachewatch.Track); fences wait
	// there for a team's watermark. Nil: every fence lists the slices from the apiserver.
	SliceProgress *cachewatch.Progress
	// SliceWriters is how many slice writes of one commit are in flight at once
	// (writeParallelism when zero; 1 writes them one after the other).
	SliceWriters int
	// MemberWalks, when set, counts the walks of members one by one (Listing.Each) of the
	// listings built by Listing: tests use it to prove that an answer came from the indexes
	// alone, whatever code path would otherwise have read the members.
	MemberWalks *atomic.Int64

	mu     sync.Mutex
	queues map[string]*queue // per team: changes waiting for a group commit
	life   lifecycle         // commits in flight, for Wait and Abort (shutdown.go)
}

// users is the reader of cached users (slimuser.Reader.Cache): UserCache, else Cache.
func (s *Store) users() client.Reader {
	if s.UserCache != nil {
		return s.UserCache
	}
	return s.Cache
}

// capacity is the most members a slice gets: Capacity, never above
// rosterv1.MaxMembersPerSlice. Why the clamp: nothing else checks Roster's own slice writes
// (the CRD's schema leaves spec.members untyped and the webhook skips Roster's identity).
func (s *Store) capacity() int {
	if s.Capacity > 0 {
		return min(s.Capacity, rosterv1.MaxMembersPerSlice)
	}
	return rosterv1.MaxMembersPerSlice
}

// ConflictBackoff paces the retries of a write that lost a race with another writer of the
// same object. Many writers can hit one hot team (Okta pushes a group's memberships in
// parallel), so retries start fast, spread out with full jitter, and stay short: client-go's
// DefaultBackoff multiplies by 5 and would park a request for minutes after a few losses.
// Sixteen steps wait about 7 s in all, at most ~2 s at once.
var ConflictBackoff = wait.Backoff{Duration: 5 * time.Millisecond, Factor: 1.5, Jitter: 1, Steps: 16}

// Slices returns a team's slices from the cache, for reads (GET, filters). They share their
// member lists with the cache: callers must not modify them. Decisions that lead to a write
// go through a fence instead (Change).
func (s *Store) Slices(ctx context.Context, team *rosterv1.OrgTeam) ([]rosterv1.OrgTeamMemberSlice, error) {
	var list rosterv1.OrgTeamMemberSliceList
	// Without deep copies: 50 slices of a 100,000-member team are 100,000 strings.
	err := index.SlicesOfTeam(team.Name).List(ctx, s.Cache, team.Namespace, &list, client.UnsafeDisableDeepCopy)
	return list.Items, err
}

// labelledSlices returns the team's cached slices that carry its TeamLabel: the slices a List
// by that label selects (what the fences and the identity store read from the apiserver), found
// through the team index instead. Why: a cached List by label walks every slice of the
// namespace. The index finds the slices whose spec.team is the team; the admission webhook
// refuses a TeamLabel that differs from spec.team, so the labelled ones among them are exactly
// the label's. A slice without the label (made by hand) is left out, as the label list does.
// Shared with the cache: read only.
func (s *Store) labelledSlices(ctx context.Context, team *rosterv1.OrgTeam) ([]rosterv1.OrgTeamMemberSlice, error) {
	all, err := s.Slices(ctx, team)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for i := range all {
		if all[i].Labels[rosterv1.TeamLabel] == team.Name {
			out = append(out, all[i])
		}
	}
	return out, nil
}

// Result says what a Change did.
type Result struct {
	// Added and Removed count the members this change added and removed; Members is the
	// team's member count after it.
	Added, Removed int
	Members        int
	// Writes is the number of slice writes of the commit that carried the change.
	Writes int
	// Unresolved are the ids the change could not add: not users of the organization.
	Unresolved []string
	// UnresolvedRecorded says whether the team's status listed unresolved members when the
	// change was fenced (read from the apiserver, not the cache).
	UnresolvedRecorded bool
	// Last is the slice written with the highest resourceVersion (slices are written in
	// parallel), over every attempt of the commit (an attempt that lost a conflict may have
	// written some slices already): once a cache shows it, it shows every other slice write
	// of the change too (one watch, in resourceVersion order). Nil when nothing was written.
	Last client.Object
	// Revised is the team after a precondition's revision bump (nil without one): the team's
	// version changed with it.
	Revised client.Object
	// Slices names the slices the commit that carried the change created or updated (with a
	// group commit, other changes of the same team rode along), for audit lines.
	Slices []string
}

// Desire computes the wanted members from the current ones, and the ids it could not add.
// It must not have side effects: it may run more than once.
type Desire func(current Set) (want Set, unresolved []string)

// Precondition checks a team's current view (fenced: read from the apiserver) before a change
// is written; an error stops the change and is returned as is.
type Precondition func(View) error

// Change applies a relative change to a team's members.
//
// Changes to one team on this replica are committed in groups: while one write is in flight,
// the changes that arrive queue up, and the next write carries all of them, each applied in
// arrival order to the result of the one before. A hot team (Okta pushes a group's
// memberships as many parallel PATCHes) thus costs one write per round trip instead of a
// storm of conflicting writes. Every commit is fenced (fence.go) and every write carries the
// resourceVersion it was planned from, so between replicas the loser of a race re-reads and
// applies its change again.
//
// A change with a precondition is committed alone: the precondition is checked against the
// fenced view and the team's RevisionAnnotation is bumped with a resourceVersion-checked
// write before any slice is written, so that of two writers holding one version only one wins.
//
// Change does not end a break-glass edit of the team: Push does.
func (s *Store) Change(ctx context.Context, team *rosterv1.OrgTeam, desired Desire, pre Precondition) (Result, error) {
	return s.change(ctx, team, &request{desired: desired, done: make(chan struct{})}, pre)
}

// Push is Change for the identity provider's own write of the team: when the team, as the
// commit's fence reads it from the apiserver, is open to break-glass edits, the commit ends
// them and applies the change to the members from before them (breakglass.go). Push with a
// Desire that changes nothing just ends a break-glass edit, if there is one.
func (s *Store) Push(ctx context.Context, team *rosterv1.OrgTeam, desired Desire, pre Precondition) (Result, error) {
	return s.change(ctx, team, &request{desired: desired, push: true, done: make(chan struct{})}, pre)
}

func (s *Store) change(ctx context.Context, team *rosterv1.OrgTeam, r *request, pre Precondition) (Result, error) {
	if pre != nil {
		s.mu.Lock()
		err := s.enterLocked()
		s.mu.Unlock()
		if err != nil {
			return Result{}, err
		}
		// In its own goroutine, like a queue's commit: a cut caller is answered at once. It
		// counts in the queue depth like a queued change while it runs.
		metrics.MembershipQueueDepth.Inc()
		go func() {
			defer s.leave()
			defer metrics.MembershipQueueDepth.Dec()
			cctx, cancel := s.commitContext()
			defer cancel()
			res, err := s.commit(cctx, team, []*request{r}, pre)
			r.res, r.err = res[0], shutdownErr(cctx, err)
			close(r.done)
		}()
		return r.await(ctx)
	}
	key := team.Namespace + "/" + team.Name
	if r.push {
		// The identity provider's changes queue apart from Roster's own (RemoveUserEverywhere,
		// Prune): a push refused for a team released to manual must not take a deleted
		// user's removal down with it.
		key += "#push"
	}
	s.mu.Lock()
	if s.life.aborted {
		s.mu.Unlock()
		return Result{}, ErrShuttingDown
	}
	if s.queues == nil {
		s.queues = map[string]*queue{}
	}
	q := s.queues[key]
	if q == nil {
		q = &queue{}
		s.queues[key] = q
	}
	q.pending = append(q.pending, r)
	metrics.MembershipQueueDepth.Inc()
	if !q.busy {
		q.busy = true
		_ = s.enterLocked() // until the queue is empty: Wait waits for queued changes too (not aborted: checked above)
		// The queue drains in the background, so no caller waits on batches that arrived
		// after its own.
		go s.drain(key, team.DeepCopy(), q)
	}
	s.mu.Unlock()
	return r.await(ctx)
}

// commitTimeout bounds one group commit, whoever's request started it.
const commitTimeout = 30 * time.Second

// request is one caller's change waiting in a team's queue.
type request struct {
	desired Desire
	push    bool // the identity provider's write of the team (Push)
	res     Result
	err     error
	done    chan struct{}
}

// queue holds the changes waiting for a team; busy while a goroutine drains it.
type queue struct {
	pending []*request
	busy    bool
}

// drain commits the queue's changes in groups until it is empty.
func (s *Store) drain(key string, team *rosterv1.OrgTeam, q *queue) {
	defer s.leave()
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
		ctx, cancel := s.commitContext()
		results, err := s.commit(ctx, team, batch, nil)
		err = shutdownErr(ctx, err)
		cancel()
		metrics.MembershipQueueDepth.Sub(float64(len(batch)))
		for i, r := range batch {
			r.res, r.err = results[i], err
			close(r.done)
		}
	}
}

// commit applies a group of changes in one set of writes, retrying on conflicts. Each
// attempt starts from a fence (fence.go), so nothing is planned from a stale view, and the
// commit raises the team's watermark before it is acknowledged.
//
// A precondition is checked, and the team's revision bumped, once: after the bump this change
// has won, so a later attempt (a slice write lost a race with a writer without precondition)
// re-plans from the fence but does not check again — it would see its own bump. A change that
// writes nothing bumps nothing, so a no-op under If-Match keeps the version.
func (s *Store) commit(ctx context.Context, team *rosterv1.OrgTeam, batch []*request, pre Precondition) (results []Result, err error) {
	defer func() {
		if p := recover(); p != nil { // never leave the other callers waiting
			err = fmt.Errorf("membership change of team %s panicked: %v", team.Name, p)
		}
		if len(results) != len(batch) {
			results = make([]Result, len(batch))
		}
	}()
	var mark string
	var meta *metav1.PartialObjectMetadata // the team as this commit last wrote or read it
	var revised client.Object
	var final Set // the member set the change writes
	var high uint64
	// The slice written with resourceVersion high, over every attempt: a retry that finds
	// nothing left to write must still name an earlier attempt's writes, or the caller's
	// read-your-writes would not wait for them.
	var last client.Object
	var written []string // slices written, over every attempt
	push := slices.ContainsFunc(batch, func(r *request) bool { return r.push })
	var lock string // the break-glass restore this commit holds (breakglass.go)
	start, attempts := time.Now(), 0
	defer func() { metrics.MembershipCommitDuration.Observe(time.Since(start).Seconds()) }()
	err = retry.OnError(ConflictBackoff, isConflictOrGone, func() error {
		if attempts++; attempts > 1 {
			metrics.MembershipConflictRetries.Inc()
		}
		snap, err := s.fence(ctx, team, high)
		if err != nil {
			return err
		}
		meta = &snap.team
		if push && snap.managedBy != rosterv1.ManagedBySCIM {
			// Released by the disable switch since the caller read it: the switch is decided
			// here, on the fence's live read, not on a cache (the SCIM server's check is).
			return ErrTeamReleased
		}
		if pre != nil && revised == nil {
			if err := pre(snap.view(team)); err != nil {
				return err
			}
		}
		base := Set(nil) // the members the changes apply to: the slices', unless a restore's
		touch := false
		if push && InBreakGlass(snap.team.Annotations) {
			var end ending
			if end, lock, err = s.endBreakGlass(ctx, team, &snap, lock); err != nil {
				return err
			}
			base, touch = end.base, end.touch
		}
		desires := make([]Desire, len(batch))
		for i, r := range batch {
			desires[i] = r.desired
		}
		p := commitPlan(snap.slices, base, desires, s.capacity())
		results, final = p.results, p.final
		for i := range results {
			results[i].UnresolvedRecorded = snap.unresolvedRecorded
		}
		w := p.writes
		if touch {
			w = w.touching(snap.slices)
		}
		if pre != nil && revised == nil && !w.Empty() {
			bumped, err := s.bumpRevision(ctx, team, meta)
			if err != nil {
				return err // a conflict: another writer changed the team, check again
			}
			revised, meta = bumped, bumped
		}
		if creates := push && len(w.Create) > 0 && revised == nil; (w.Count() > 1 || creates) && mark == "" {
			// Several writes: the team controller must not sync the team half-way (marks.go).
			// A push that creates a slice marks at the resourceVersion its fence read: a new
			// slice has nothing to conflict with, and a break-glass snapshot taken since the
			// fence (breakglass.go) would not hold it; the mark then conflicts instead.
			rv := ""
			if creates {
				rv = meta.ResourceVersion
			}
			opened, after, err := s.openChange(ctx, team, rv)
			if err != nil {
				return err
			}
			mark, meta = opened, after
		}
		// The team as the fence read it: a queue's batches may come from callers that knew
		// the team only by name (RemoveUserEverywhere), but new slices need its UID.
		owner := team.DeepCopy()
		owner.UID, owner.Labels = snap.team.UID, snap.team.Labels
		wrote, rv, names, err := s.write(ctx, owner, w)
		if wrote != nil && (rv > high || last == nil) {
			last = wrote
		}
		high = max(high, rv)
		for _, n := range names {
			if !slices.Contains(written, n) {
				written = append(written, n)
			}
		}
		for i := range results {
			results[i].Writes, results[i].Last, results[i].Revised = w.Count(), last, revised
			results[i].Slices = written
		}
		return err
	})
	restored := lock != "" && err == nil
	if (high > 0 && team.Spec.ManagedBy == rosterv1.ManagedBySCIM) || restored {
		// Also after a failure: what was written is in the apiserver, and other replicas must
		// plan from it. (Manual teams have none: people write their slices by hand, so their
		// fences always list.) A restore's success ends the break-glass in the same write.
		end := ""
		if restored {
			end = lock
		}
		if werr := s.raiseWatermark(team, meta, high, end); err == nil {
			err = werr
		}
	}
	if lock != "" {
		if err != nil {
			s.releaseRestore(team, lock)
		} else {
			cleanup, cancel := s.cleanupContext()
			// Best effort: a leftover is deleted when the team next opens to break-glass.
			_ = s.deleteSnapshots(cleanup, team, selection.Equals, strings.Fields(lock)[1])
			cancel()
		}
	}
	var annotations map[string]string
	if meta != nil {
		annotations = meta.Annotations
	}
	s.closeChange(team, mark, err, annotations, final)
	return results, err
}

// planned is what a commit computed from a fenced view: each change's result, the member set
// the commit writes, and the writes.
type planned struct {
	results []Result
	final   Set
	writes  Writes
}

// commitPlan applies a group's changes, each to the result of the one before, to base (nil:
// the members of slices) and plans the writes that make slices hold the result. Pure: commit
// calls it once per attempt.
func commitPlan(slices []rosterv1.OrgTeamMemberSlice, base Set, desires []Desire, capacity int) planned {
	p := planned{results: make([]Result, len(desires))}
	// With one change on the slices' members, the plan counts the new members.
	planCounts := len(desires) == 1 && base == nil
	first := base
	if first == nil {
		first = Members(slices)
	}
	current := first
	for i, desired := range desires {
		want, unresolved := desired(current)
		res := Result{Members: len(want), Unresolved: unresolved}
		if !planCounts {
			for id := range want {
				if _, ok := current[id]; !ok {
					res.Added++
				}
			}
		}
		res.Removed = len(current) + res.Added - len(want)
		p.results[i], current = res, want
	}
	p.final = current
	p.writes = Plan(slices, current, capacity)
	if planCounts {
		// The plan counted the new members already (a lookup per member less).
		r := &p.results[0]
		r.Added = p.writes.Added
		r.Removed = len(first) + r.Added - r.Members
	}
	return p
}

// isConflictOrGone reports a write that lost a race: a conflict, or a slice deleted since
// the fence (an empty one, removed by DeleteEmpty).
func isConflictOrGone(err error) bool { return apierrors.IsConflict(err) || apierrors.IsNotFound(err) }

// writeParallelism is how many slice writes of one commit are in flight at once. A
// 100,000-member PUT creates 50 slices of 2,000 members: one after the other they took
// seconds, each waiting for the apiserver to decode, validate and store ~75 KB, while the
// apiserver's other cores and etcd's pipeline sat idle.
const writeParallelism = 8

// write performs the writes, updates first (they carry resourceVersions and fail on conflict
// before anything new exists), then creates; within each kind the writes run in parallel
// (writeParallelism). It returns the slice written with the highest resourceVersion, that
// resourceVersion and the names of the slices written (every write that succeeded, also when
// another failed: they are in the apiserver, and the caller's watermark must cover them).
func (s *Store) write(ctx context.Context, team *rosterv1.OrgTeam, w Writes) (last client.Object, high uint64, names []string, err error) {
	now := time.Now()
	note := func(sl *rosterv1.OrgTeamMemberSlice) {
		if rv, err := strconv.ParseUint(sl.ResourceVersion, 10, 64); err == nil && (rv > high || last == nil) {
			high, last = max(high, rv), sl
		}
		names = append(names, sl.Name)
	}
	updates := make([]*rosterv1.OrgTeamMemberSlice, len(w.Update))
	for i, sl := range w.Update {
		rosterv1.StampLastModified(sl, now)
		updates[i] = sl
	}
	writer := s.sliceWriter()
	done, err := s.writeAll(ctx, updates, func(ctx context.Context, sl *rosterv1.OrgTeamMemberSlice) error {
		if err := writer.Update(ctx, sl); err != nil {
			return err
		}
		metrics.SliceUpdates.Inc()
		return nil
	})
	for _, sl := range done {
		note(sl)
	}
	if err != nil {
		return last, high, names, err
	}
	creates := make([]*rosterv1.OrgTeamMemberSlice, len(w.Create))
	for i, members := range w.Create {
		creates[i] = NewSlice(team, members)
		rosterv1.StampLastModified(creates[i], now)
	}
	done, err = s.writeAll(ctx, creates, func(ctx context.Context, sl *rosterv1.OrgTeamMemberSlice) error {
		if err := writer.Create(ctx, sl); err != nil {
			return err
		}
		metrics.SliceCreates.Inc()
		return nil
	})
	for _, sl := range done {
		note(sl)
	}
	return last, high, names, err
}

// writeAll runs write on every slice, writeParallelism at a time, and returns the slices
// written (in their order) and the first error in that order. After an error no new write
// starts; those in flight finish.
func (s *Store) writeAll(ctx context.Context, sl []*rosterv1.OrgTeamMemberSlice, write func(context.Context, *rosterv1.OrgTeamMemberSlice) error) ([]*rosterv1.OrgTeamMemberSlice, error) {
	errs := make([]error, len(sl))
	started := make([]bool, len(sl))
	var failed bool
	var mu sync.Mutex
	var wg sync.WaitGroup
	n := s.SliceWriters
	if n <= 0 {
		n = writeParallelism
	}
	sem := make(chan struct{}, n)
	for i := range sl {
		sem <- struct{}{}
		mu.Lock()
		stop := failed
		mu.Unlock()
		if stop {
			<-sem
			break
		}
		started[i] = true
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := write(ctx, sl[i]); err != nil {
				mu.Lock()
				errs[i], failed = err, true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var done []*rosterv1.OrgTeamMemberSlice
	var first error
	for i := range sl {
		switch {
		case !started[i]:
		case errs[i] != nil:
			if first == nil {
				first = errs[i]
			}
		default:
			done = append(done, sl[i])
		}
	}
	return done, first
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

// RemoveUserEverywhere removes a user from every team that lists it, e.g. when the user is
// deleted. The slices that list it are found through the cache's member index once the cache
// holds exactly the namespace's slices (a slice another replica wrote a moment ago must not be
// missed), else from a live list; each affected team gets one fenced change.
func (s *Store) RemoveUserEverywhere(ctx context.Context, namespace, userID string) ([]Result, error) {
	all, err := s.settledNamespace(ctx, namespace)
	if err != nil {
		return nil, err
	}
	// Before the teams: a restore that runs meanwhile then reads the snapshot without it.
	if err := s.forgetInSnapshots(ctx, all, userID); err != nil {
		return nil, err
	}
	teams := map[string]*rosterv1.OrgTeam{}
	for i := range all {
		sl := &all[i]
		if _, seen := teams[sl.Spec.Team]; seen || rosterv1.IsMemberSnapshot(sl) || !slices.Contains(sl.Spec.Members, userID) {
			continue
		}
		// The team as the apiserver has it: whether it is SCIM-managed decides its watermark.
		t := &rosterv1.OrgTeam{}
		if err := s.API.Get(ctx, client.ObjectKey{Namespace: namespace, Name: sl.Spec.Team}, t); err != nil {
			if apierrors.IsNotFound(err) {
				continue // being deleted with its slices
			}
			return nil, err
		}
		teams[sl.Spec.Team] = t
	}
	results := make([]Result, 0, len(teams))
	for _, t := range teams {
		res, err := s.Change(ctx, t, func(cur Set) (Set, []string) {
			return Desired(cur, []patch.MemberOp{{Kind: patch.MemberRemove, Values: []string{userID}}}, nil)
		}, nil)
		if err != nil && !errors.Is(err, ErrTeamGone) {
			return results, fmt.Errorf("removing %s from team %s: %w", userID, t.Name, err)
		}
		results = append(results, res)
	}
	return results, nil
}

// ForgetUser removes a user that was just created from any team that still lists its id,
// which only a previous user of the same userName can have left there. The cache's member
// index answers first (almost always with nothing, at no cost); only when it names slices is
// the removal made, fenced like any change.
func (s *Store) ForgetUser(ctx context.Context, namespace, userID string) ([]Result, error) {
	var list rosterv1.OrgTeamMemberSliceList
	if err := index.SlicesWithMember(userID).List(ctx, s.Cache, namespace, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	if len(list.Items) == 0 {
		return nil, nil
	}
	return s.RemoveUserEverywhere(ctx, namespace, userID)
}

// settledNamespace returns every slice of a namespace as the apiserver holds it now: the
// cache's copies where they are current, the others read live.
func (s *Store) settledNamespace(ctx context.Context, namespace string) ([]rosterv1.OrgTeamMemberSlice, error) {
	live := sliceMetaList()
	if err := s.API.List(ctx, live, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	return s.exactSlices(ctx, namespace, nil, live)
}

// Prune removes from a team the ids among candidates that are not users of its namespace
// (confirmed against the apiserver: a user created a moment ago through another replica is
// not pruned). Ids derive from userNames, so a member left behind by a delete that raced a
// membership change would come back with a re-created user of the same userName.
func (s *Store) Prune(ctx context.Context, team *rosterv1.OrgTeam, candidates []string) (pruned []string, err error) {
	users, err := s.Users(ctx, team.Namespace, candidates)
	if err != nil {
		return nil, err
	}
	for _, id := range candidates {
		if _, ok := users[id]; !ok {
			pruned = append(pruned, id)
		}
	}
	if len(pruned) == 0 {
		return nil, nil
	}
	_, err = s.Change(ctx, team, func(cur Set) (Set, []string) {
		return Desired(cur, []patch.MemberOp{{Kind: patch.MemberRemove, Values: pruned}}, nil)
	}, nil)
	return pruned, err
}

// RecordUnresolved writes the member ids of a change that are not users of the org to the
// team's status (bounded), so an admin sees why someone is missing; it clears them when the
// change had none. No write when there is nothing to record and res says (from the fence, not
// the cache: another replica may have recorded some a moment ago) that none are recorded.
func (s *Store) RecordUnresolved(ctx context.Context, t *rosterv1.OrgTeam, res Result) error {
	if len(res.Unresolved) == 0 && !res.UnresolvedRecorded {
		return nil
	}
	shown := res.Unresolved
	if len(shown) > rosterv1.MaxUnresolvedMembers {
		shown = shown[len(shown)-rosterv1.MaxUnresolvedMembers:]
	}
	// A merge patch of both fields as they must be, not a diff against the cached status.
	body, err := json.Marshal(map[string]any{"status": map[string]any{
		"unresolvedMembers": shown, "unresolvedMemberCount": len(res.Unresolved),
	}})
	if err != nil {
		return err
	}
	return s.Writer.Status().Patch(ctx, t.DeepCopy(), client.RawPatch(types.MergePatchType, body))
}

// emptyTTL is how long a slice a change emptied stays before it is deleted: far longer than
// any cache lags, so no fence can still plan from it (a delete's revision cannot be part of a
// watermark, see Writes).
const emptyTTL = 10 * time.Second

// DeleteEmpty deletes the given slices of a team that have been empty for emptyTTL (each
// delete carries its resourceVersion) and returns how soon the next one is due (0: none).
func (s *Store) DeleteEmpty(ctx context.Context, slices []rosterv1.OrgTeamMemberSlice) (next time.Duration, err error) {
	for i := range slices {
		sl := &slices[i]
		if len(sl.Spec.Members) > 0 {
			continue
		}
		at, perr := time.Parse(time.RFC3339Nano, sl.Annotations[rosterv1.LastModifiedAnnotation])
		if perr != nil {
			at = sl.CreationTimestamp.Time
		}
		if wait := emptyTTL - time.Since(at); wait > 0 {
			if next == 0 || wait < next {
				next = wait
			}
			continue
		}
		rv := sl.ResourceVersion
		derr := s.Writer.Delete(ctx, sl.DeepCopy(), client.Preconditions{ResourceVersion: &rv})
		switch {
		case derr == nil:
			metrics.SliceDeletes.Inc()
		case !apierrors.IsNotFound(derr) && !apierrors.IsConflict(derr):
			err = errors.Join(err, derr)
		}
	}
	return next, err
}

// DeleteAll deletes every slice of a team, and its break-glass snapshots, with a
// delete-collection request each.
func (s *Store) DeleteAll(ctx context.Context, team *rosterv1.OrgTeam) error {
	err := s.Writer.DeleteAllOf(ctx, &rosterv1.OrgTeamMemberSlice{}, client.InNamespace(team.Namespace), client.MatchingLabels{rosterv1.TeamLabel: team.Name})
	if apierrors.IsNotFound(err) {
		err = nil
	}
	if err != nil {
		return err
	}
	metrics.SliceDeleteCollections.Inc()
	return s.deleteSnapshots(ctx, team, "", "")
}
