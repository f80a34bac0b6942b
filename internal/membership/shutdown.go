package membership

import (
	"context"
	"errors"
	"fmt"
)

// ErrShuttingDown is the error of a change that Drain cut short when its deadline passed.
// Slices the commit wrote before it stay written (as after any failed commit); the caller is
// told the change failed, and the identity provider's retry applies it again.
var ErrShuttingDown = errors.New("the replica is shutting down")

// lifecycle counts the commits in flight and holds the context they run under, which Drain
// cancels at its deadline. Its zero value is ready; Store.mu guards it.
type lifecycle struct {
	base    context.Context
	abort   context.CancelCauseFunc
	running int
	idle    []chan struct{} // closed when running drops to zero
}

// enterLocked counts a commit, or a queue's drain, in flight; the caller holds s.mu and calls
// leave when it is done.
func (s *Store) enterLocked() {
	if s.life.base == nil {
		s.life.base, s.life.abort = context.WithCancelCause(context.Background())
	}
	s.life.running++
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
// by Drain at its deadline.
func (s *Store) commitContext() (context.Context, context.CancelFunc) {
	s.mu.Lock()
	base := s.life.base
	s.mu.Unlock()
	return context.WithTimeout(base, commitTimeout)
}

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

// Drain waits, at shutdown, until every commit in flight has finished and told its callers
// how it went. Changes that arrive meanwhile are committed as usual: in-flight requests are
// still being answered. If ctx ends first, Drain cancels the commits still running: each
// fails with ErrShuttingDown, which its callers receive, and Drain returns once they all
// have, with an error saying so. After that, every change of this Store fails at once with
// ErrShuttingDown; without the cut, the Store keeps working.
func (s *Store) Drain(ctx context.Context) error {
	select {
	case <-s.idle():
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	if s.life.abort != nil {
		s.life.abort(ErrShuttingDown)
	}
	s.mu.Unlock()
	// Prompt: every write and read of a commit runs under the cancelled context.
	<-s.idle()
	return fmt.Errorf("membership changes still in flight at the shutdown deadline were cancelled: %w", ErrShuttingDown)
}

// shutdownErr names ErrShuttingDown in err when ctx was cancelled by Drain, so callers (the
// SCIM server: 503 and Retry-After) can tell a cut commit from a failed one.
func shutdownErr(ctx context.Context, err error) error {
	if err != nil && errors.Is(context.Cause(ctx), ErrShuttingDown) && !errors.Is(err, ErrShuttingDown) {
		return fmt.Errorf("%w: %w", ErrShuttingDown, err)
	}
	return err
}
