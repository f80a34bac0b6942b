// Package lazy opens an identity store on first use instead of at start-up, and keeps track of
// whether it is reachable.
//
// Roster must start, and its SCIM server must accept writes, while the database is down
// (design invariant 6). So the manager never waits for the store: every operation opens it if
// it is not open yet, and fails with an error wrapping identitystore.ErrUnavailable while it
// cannot be opened. Controllers report that in their conditions and retry with back-off. Once
// open, the driver reconnects by itself (pgx's pool), so the store is opened at most once.
package lazy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rosterhq/roster/internal/identitystore"
	"github.com/rosterhq/roster/internal/metrics"
)

// OpenFunc opens the store a URL names; open.Open in production.
type OpenFunc func(ctx context.Context, url string) (identitystore.Store, error)

// Defaults of a Store.
const (
	// openTimeout bounds one attempt to open (connect and migrate).
	openTimeout = 15 * time.Second
	// minRetry is the least time between two attempts to open, so that many reconciles
	// failing together do not each dial a database that is down.
	minRetry = time.Second
)

// Health is what the last operation on the store said about its reachability.
type Health struct {
	// Known is false until the first operation finished.
	Known bool
	// Available is true when the last operation reached the database.
	Available bool
	// Err is the error that made it unavailable.
	Err error
	// Since is when Available last changed.
	Since time.Time
}

// Store is an identitystore.Store that opens the real one on first use. It is safe for
// concurrent use.
type Store struct {
	url  string
	open OpenFunc
	now  func() time.Time

	mu       sync.Mutex // serialises opening
	st       identitystore.Store
	lastTry  time.Time
	lastErr  error
	closed   bool
	healthMu sync.Mutex
	health   Health
	changed  chan struct{} // closed and replaced when Available changes
}

var (
	_ identitystore.Store    = (*Store)(nil)
	_ identitystore.Notifier = (*Store)(nil)
)

// New returns a Store for url; nothing is opened yet.
func New(url string, open OpenFunc) *Store {
	return &Store{url: url, open: open, now: time.Now, changed: make(chan struct{})}
}

// get returns the opened store, opening it if needed.
func (s *Store) get(ctx context.Context) (identitystore.Store, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st != nil {
		return s.st, nil
	}
	if s.closed {
		return nil, fmt.Errorf("identitystore: %w: the store is closed", identitystore.ErrUnavailable)
	}
	if s.lastErr != nil && s.now().Sub(s.lastTry) < minRetry {
		return nil, s.lastErr
	}
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	s.lastTry = s.now()
	st, err := s.open(ctx, s.url)
	if err != nil {
		if !identitystore.IsUnavailable(err) {
			// E.g. a wrong password or a failed migration. To Roster the store is just as
			// unavailable as when the server is down: the manager keeps running and retrying,
			// so that fixing the database is enough.
			err = fmt.Errorf("identitystore: %w: opening the store failed: %w", identitystore.ErrUnavailable, err)
		}
		s.lastErr = err
		return nil, err
	}
	s.st, s.lastErr = st, nil
	return st, nil
}

// do runs op against the opened store (opening it if needed), records what it says about
// reachability, and its latency and outcome as the operation m.
func (s *Store) do(ctx context.Context, m metrics.StoreOperation, op func(identitystore.Store) error) error {
	start := time.Now()
	st, err := s.get(ctx)
	if err == nil {
		err = op(st)
	}
	m.Done(time.Since(start), errorReason(err))
	s.record(err)
	return err
}

// errorReason names why an operation failed, for roster_store_operation_errors_total; "" for
// success, for "not found", which is an answer, and for a driver without notifications.
func errorReason(err error) string {
	switch {
	case err == nil, identitystore.IsNotFound(err), errors.Is(err, ErrNoNotifications):
		return ""
	case identitystore.IsUnavailable(err):
		return "Unavailable"
	case errors.Is(err, identitystore.ErrConflict):
		return "Conflict"
	case errors.Is(err, identitystore.ErrInvalid):
		return "Invalid"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "Canceled"
	}
	return "Error"
}

// The operations' recorders, one per identitystore.Store method.
var (
	opWatch          = metrics.NewStoreOperation("Watch")
	opObserveUser    = metrics.NewStoreOperation("ObserveUser")
	opCreateUser     = metrics.NewStoreOperation("CreateUser")
	opUpdateUser     = metrics.NewStoreOperation("UpdateUser")
	opDeleteUser     = metrics.NewStoreOperation("DeleteUser")
	opObserveTeam    = metrics.NewStoreOperation("ObserveTeam")
	opCreateTeam     = metrics.NewStoreOperation("CreateTeam")
	opUpdateTeam     = metrics.NewStoreOperation("UpdateTeam")
	opDeleteTeam     = metrics.NewStoreOperation("DeleteTeam")
	opObserveMembers = metrics.NewStoreOperation("ObserveMembers")
	opAddMembers     = metrics.NewStoreOperation("AddMembers")
	opRemoveMembers  = metrics.NewStoreOperation("RemoveMembers")
	opPing           = metrics.NewStoreOperation("Ping")
)

// record updates the health from an operation's result. Errors that say nothing about the
// database (not found, conflict, a caller that gave up) leave it as it is.
func (s *Store) record(err error) {
	var available bool
	switch {
	case err == nil:
		available = true
	case identitystore.IsUnavailable(err):
	default:
		// Not found, a conflict, a refused statement or a caller that gave up: nothing
		// learnt about reachability.
		return
	}
	s.healthMu.Lock()
	defer s.healthMu.Unlock()
	if !s.health.Known || s.health.Available != available {
		s.health.Since = s.now()
		close(s.changed)
		s.changed = make(chan struct{})
	}
	s.health.Known, s.health.Available = true, available
	s.health.Err = nil
	if !available {
		s.health.Err = err
	}
}

// Health returns what the last operation said about the store's reachability.
func (s *Store) Health() Health {
	s.healthMu.Lock()
	defer s.healthMu.Unlock()
	return s.health
}

// Changed returns a channel that is closed the next time Health().Available changes (or
// becomes known).
func (s *Store) Changed() <-chan struct{} {
	s.healthMu.Lock()
	defer s.healthMu.Unlock()
	return s.changed
}

// ErrNoNotifications is returned by Watch when the driver cannot report changes (SQLite).
var ErrNoNotifications = errors.New("identitystore: this store does not send change notifications")

// Watch implements identitystore.Notifier for drivers that do; for the others it returns
// ErrNoNotifications once the store is open.
func (s *Store) Watch(ctx context.Context) (<-chan identitystore.Change, error) {
	var ch <-chan identitystore.Change
	err := s.do(ctx, opWatch, func(st identitystore.Store) error {
		n, ok := st.(identitystore.Notifier)
		if !ok {
			return ErrNoNotifications
		}
		var err error
		ch, err = n.Watch(ctx)
		return err
	})
	return ch, err
}

// ObserveUser implements identitystore.Store.
func (s *Store) ObserveUser(ctx context.Context, org, id string) (u identitystore.User, err error) {
	err = s.do(ctx, opObserveUser, func(st identitystore.Store) error {
		u, err = st.ObserveUser(ctx, org, id)
		return err
	})
	return u, err
}

// CreateUser implements identitystore.Store.
func (s *Store) CreateUser(ctx context.Context, u identitystore.User) error {
	return s.do(ctx, opCreateUser, func(st identitystore.Store) error { return st.CreateUser(ctx, u) })
}

// UpdateUser implements identitystore.Store.
func (s *Store) UpdateUser(ctx context.Context, u identitystore.User) error {
	return s.do(ctx, opUpdateUser, func(st identitystore.Store) error { return st.UpdateUser(ctx, u) })
}

// DeleteUser implements identitystore.Store.
func (s *Store) DeleteUser(ctx context.Context, org, id string) error {
	return s.do(ctx, opDeleteUser, func(st identitystore.Store) error { return st.DeleteUser(ctx, org, id) })
}

// ObserveTeam implements identitystore.Store.
func (s *Store) ObserveTeam(ctx context.Context, org, id string) (t identitystore.Team, err error) {
	err = s.do(ctx, opObserveTeam, func(st identitystore.Store) error {
		t, err = st.ObserveTeam(ctx, org, id)
		return err
	})
	return t, err
}

// CreateTeam implements identitystore.Store.
func (s *Store) CreateTeam(ctx context.Context, t identitystore.Team) error {
	return s.do(ctx, opCreateTeam, func(st identitystore.Store) error { return st.CreateTeam(ctx, t) })
}

// UpdateTeam implements identitystore.Store.
func (s *Store) UpdateTeam(ctx context.Context, t identitystore.Team) error {
	return s.do(ctx, opUpdateTeam, func(st identitystore.Store) error { return st.UpdateTeam(ctx, t) })
}

// DeleteTeam implements identitystore.Store.
func (s *Store) DeleteTeam(ctx context.Context, org, id string) error {
	return s.do(ctx, opDeleteTeam, func(st identitystore.Store) error { return st.DeleteTeam(ctx, org, id) })
}

// ObserveMembers implements identitystore.Store.
func (s *Store) ObserveMembers(ctx context.Context, org, teamID string) (ids []string, err error) {
	err = s.do(ctx, opObserveMembers, func(st identitystore.Store) error {
		ids, err = st.ObserveMembers(ctx, org, teamID)
		return err
	})
	return ids, err
}

// AddMembers implements identitystore.Store.
func (s *Store) AddMembers(ctx context.Context, org, teamID string, userIDs []string) error {
	return s.do(ctx, opAddMembers, func(st identitystore.Store) error { return st.AddMembers(ctx, org, teamID, userIDs) })
}

// RemoveMembers implements identitystore.Store.
func (s *Store) RemoveMembers(ctx context.Context, org, teamID string, userIDs []string) error {
	return s.do(ctx, opRemoveMembers, func(st identitystore.Store) error { return st.RemoveMembers(ctx, org, teamID, userIDs) })
}

// Ping implements identitystore.Store; it opens the store if needed.
func (s *Store) Ping(ctx context.Context) error {
	return s.do(ctx, opPing, func(st identitystore.Store) error { return st.Ping(ctx) })
}

// Close closes the store if it was opened. Later operations fail.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.st == nil {
		return nil
	}
	err := s.st.Close()
	s.st = nil
	return err
}
