package membership

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrShuttingDown is the error of a change that Abort cut short, or that arrived after it.
// Slices the commit wrote before it stay written (as after any failed commit); the caller is
// told the change failed, and the identity provider's retry applies it again.
var ErrShuttingDown = errors.New("the replica is shutting down")

// ErrOutOfTime is for callers that must answer by a deadline of their own (a SCIM bulk
// request must write its response before the server's write timeout): a context cancelled
// with a cause that wraps it is answered at once, like a shutdown cut, with an error that
// wraps the cause. The commit goes on: the change may still be written.
var ErrOutOfTime = errors.New("the request ran out of time")

// AbortCleanup bounds the cleanup of commits once Abort has been called: raising the
// watermark, closing the change's mark and deleting a restore's snapshots normally get 10 s
// each on their own context; after Abort they all end within AbortCleanup of it, so that
// the SCIM server's answer grace (3 s) outlasts them and the process never exits mid-commit.
// A step cut short leaves what any failed commit leaves: a mark that expires, a watermark
// that the next commit raises (fences list meanwhile).
const AbortCleanup = 2 * time.Second

// lifecycle counts the commits in flight and holds the contexts they run under, which Abort
// cancels. Its zero value is ready; Store.mu guards it.
type lifecycle struct {
	base    context.Context // commits run under it
	abort   context.CancelCauseFunc
	cleanup context.Context // a commit's cleanup runs under it
	stop    context.CancelFunc
	aborted bool
	running int
	idle    []chan struct{} // closed when running drops to zero
}

// initLocked creates the contexts; the caller holds s.mu.
func (s *Store) initLocked() {
	if s.life.base == nil {
		s.life.base, s.life.abort = context.WithCancelCause(context.Background())
		s.life.cleanup, s.life.stop = context.WithCancel(context.Background())
	}
}

// enterLocked counts a commit, or a queue's drain, in flight; the caller holds s.mu and calls
// leave when it is done. After Abort it counts nothing and returns ErrShuttingDown.
func (s *Store) enterLocked() error {
	s.initLocked()
	if s.life.aborted {
		return ErrShuttingDown
	}
	s.life.running++
	return nil
}

// leave ends what enterLocked counted.
func (s *Store) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.life.running--; s.life.running == 0 {
		for _, ch := range s.life.idle {
			close(ch)
		}
		s.life.idle = nil
	}
}

// commitContext is the context one commit runs under: bounded by commitTimeout, and cancelled
// by Abort.
func (s *Store) commitContext() (context.Context, context.CancelFunc) {
	s.mu.Lock()
	s.initLocked()
	base := s.life.base
	s.mu.Unlock()
	return context.WithTimeout(base, commitTimeout)
}

// cleanupContext is the context of one cleanup step of a commit (watermark, mark, snapshots):
// its own, since the commit's may be why it failed, bounded by cleanupTimeout, and ended
// AbortCleanup after Abort.
func (s *Store) cleanupContext() (context.Context, context.CancelFunc) {
	s.mu.Lock()
	s.initLocked()
	parent := s.life.cleanup
	s.mu.Unlock()
	return context.WithTimeout(parent, cleanupTimeout)
}

// cleanupTimeout bounds each cleanup step of a commit while the Store is not aborted.
const cleanupTimeout = 10 * time.Second

// idle returns a channel closed once no commit is in flight.
func (s *Store) idle() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	if s.life.running == 0 {
		close(ch)
	} else {
		s.life.idle = append(s.life.idle, ch)
	}
	return ch
}

// Wait waits, at shutdown, until no commit is in flight, or until ctx ends (its error then).
// It changes nothing: changes that arrive meanwhile, or after it returned, are committed as
// usual, since requests in flight are still being answered. Returning nil says only that
// nothing was committing at one moment; a request still running may start a commit later,
// which is why shutdown must call Abort whenever it cuts requests, whatever Wait returned.
func (s *Store) Wait(ctx context.Context) error {
	select {
	case <-s.idle():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("membership changes still in flight: %w", ctx.Err())
	}
}

// Abort ends the Store's work for good: commits in flight are cancelled and fail with
// ErrShuttingDown, which their callers receive; every later change fails at once with
// ErrShuttingDown, writing nothing; the cleanup of the cut commits ends within AbortCleanup.
// It does not wait: Wait does, for the cut commits to finish.
func (s *Store) Abort() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	if s.life.aborted {
		return
	}
	s.life.aborted = true
	s.life.abort(ErrShuttingDown)
	time.AfterFunc(AbortCleanup, s.life.stop)
}

// shutdownErr names ErrShuttingDown in err when ctx was cancelled by Abort, so callers (the
// SCIM server: 503 and Retry-After) can tell a cut commit from a failed one.
func shutdownErr(ctx context.Context, err error) error {
	if err != nil && errors.Is(context.Cause(ctx), ErrShuttingDown) && !errors.Is(err, ErrShuttingDown) {
		return fmt.Errorf("%w: %w", ErrShuttingDown, err)
	}
	return err
}

// await waits for a change's commit to answer r. Returning early on a cancelled ctx would
// report a failure for a change that may still be written, so only a cut does (the SCIM
// server cancels the requests still running at its shutdown timeout with cause
// ErrShuttingDown, a bulk request at its time budget with ErrOutOfTime): the caller is
// answered that cause at once, and the commit goes on with its bounded cleanup. Otherwise
// waiting is bounded by commitTimeout.
func (r *request) await(ctx context.Context) (Result, error) {
	ch, stop := cut(ctx)
	defer stop()
	select {
	case <-r.done:
		return r.res, r.err
	case <-ch:
	}
	select {
	case <-r.done: // answered meanwhile: the truth is better than a 503
		return r.res, r.err
	default:
		cause := ErrShuttingDown
		if c := context.Cause(ctx); !errors.Is(c, ErrShuttingDown) && errors.Is(c, ErrOutOfTime) {
			cause = c
		}
		return Result{}, fmt.Errorf("%w: answered before the change's commit ended (it may be written)", cause)
	}
}

// cut returns a channel that is closed when ctx is cancelled with cause ErrShuttingDown, and
// never otherwise; stop releases it.
func cut(ctx context.Context) (<-chan struct{}, func() bool) {
	ch := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		if c := context.Cause(ctx); errors.Is(c, ErrShuttingDown) || errors.Is(c, ErrOutOfTime) {
			close(ch)
		}
	})
	return ch, stop
}
