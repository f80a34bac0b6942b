package lazy

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rosterhq/roster/internal/identitystore"
	"github.com/rosterhq/roster/internal/identitystore/sqlite"
	"github.com/rosterhq/roster/internal/metrics"
	"github.com/rosterhq/roster/internal/testutil/metricstest"
)

// flakyOpen fails until up is true, then opens a real SQLite store.
type flakyOpen struct {
	up    bool
	calls int
	path  string
}

func (f *flakyOpen) open(ctx context.Context, _ string) (identitystore.Store, error) {
	f.calls++
	if !f.up {
		return nil, errors.New("dial unix /run/postgresql/.s.PGSQL.5432: connect: connection refused")
	}
	return sqlite.Open(ctx, f.path)
}

func TestOpensOnFirstUseAndRetries(t *testing.T) {
	ctx := context.Background()
	f := &flakyOpen{path: filepath.Join(t.TempDir(), "roster.db")}
	now := time.Unix(1000, 0)
	s := New("sqlite:///ignored", f.open)
	s.now = func() time.Time { return now }
	t.Cleanup(func() { _ = s.Close() })

	if f.calls != 0 {
		t.Fatal("New must not open the store")
	}
	if h := s.Health(); h.Known {
		t.Fatalf("health known before any operation: %+v", h)
	}
	changed := s.Changed()

	err := s.CreateUser(ctx, identitystore.User{Org: "acme", ID: "u-1", UserName: "ada", Active: true})
	if !identitystore.IsUnavailable(err) {
		t.Fatalf("CreateUser while the store cannot open: %v, want an unavailable error", err)
	}
	if h := s.Health(); !h.Known || h.Available || h.Err == nil {
		t.Fatalf("health after a failed open: %+v", h)
	}
	select {
	case <-changed:
	default:
		t.Fatal("Changed not closed when the health became known")
	}

	// Within minRetry the last error is answered without dialling again.
	f.up = true
	if err := s.Ping(ctx); !identitystore.IsUnavailable(err) || f.calls != 1 {
		t.Fatalf("Ping within the retry interval: %v after %d opens, want the cached error after 1", err, f.calls)
	}
	changed = s.Changed()
	now = now.Add(minRetry)
	if err := s.CreateUser(ctx, identitystore.User{Org: "acme", ID: "u-1", UserName: "ada", Active: true}); err != nil {
		t.Fatalf("CreateUser once the store opens: %v", err)
	}
	if h := s.Health(); !h.Available || h.Err != nil || !h.Since.Equal(now) {
		t.Fatalf("health after recovery: %+v", h)
	}
	select {
	case <-changed:
	default:
		t.Fatal("Changed not closed when the store became available")
	}
	if u, err := s.ObserveUser(ctx, "acme", "u-1"); err != nil || u.UserName != "ada" {
		t.Fatalf("ObserveUser = %+v, %v", u, err)
	}
	// Not found says nothing about reachability.
	if _, err := s.ObserveTeam(ctx, "acme", "g-1"); !identitystore.IsNotFound(err) {
		t.Fatalf("ObserveTeam: %v", err)
	}
	if !s.Health().Available {
		t.Fatal("a not-found answer made the store unavailable")
	}
	if _, err := s.Watch(ctx); !errors.Is(err, ErrNoNotifications) {
		t.Fatalf("Watch on SQLite: %v, want ErrNoNotifications", err)
	}
	if f.calls != 2 {
		t.Fatalf("opened %d times, want 2 (one failure, one success)", f.calls)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); !identitystore.IsUnavailable(err) {
		t.Fatalf("Ping after Close: %v", err)
	}
}

// TestRecordsOperations: every operation is timed by name, failures are counted by reason,
// and "not found" is not a failure.
func TestRecordsOperations(t *testing.T) {
	ctx := context.Background()
	f := &flakyOpen{path: filepath.Join(t.TempDir(), "roster.db")}
	now := time.Unix(1000, 0)
	s := New("sqlite:///ignored", f.open)
	s.now = func() time.Time { return now }
	t.Cleanup(func() { _ = s.Close() })
	timed := func(op string) uint64 {
		return metricstest.Count(t, metrics.StoreOperationDuration.WithLabelValues(op))
	}
	failed := func(op, reason string) float64 {
		return testutil.ToFloat64(metrics.StoreOperationErrors.WithLabelValues(op, reason))
	}
	creates, unavailable, conflicts := timed("CreateUser"), failed("CreateUser", "Unavailable"), failed("CreateUser", "Conflict")
	// Every reason errorReason can give: "not found" must be counted under none of them.
	failedAny := func(op string) float64 {
		var n float64
		for _, reason := range []string{"Unavailable", "Conflict", "Invalid", "Canceled", "Error"} {
			n += failed(op, reason)
		}
		return n
	}
	observes, notFound := timed("ObserveTeam"), failedAny("ObserveTeam")

	// The database is down: the create fails as unavailable.
	if err := s.CreateUser(ctx, identitystore.User{Org: "acme", ID: "u-1", UserName: "ada", Active: true}); !identitystore.IsUnavailable(err) {
		t.Fatalf("CreateUser while down: %v", err)
	}
	f.up, now = true, now.Add(minRetry)
	if err := s.CreateUser(ctx, identitystore.User{Org: "acme", ID: "u-1", UserName: "ada", Active: true}); err != nil {
		t.Fatal(err)
	}
	// Another user with the same userName: the store's uniqueness rule refuses it.
	if err := s.CreateUser(ctx, identitystore.User{Org: "acme", ID: "u-2", UserName: "ADA", Active: true}); !errors.Is(err, identitystore.ErrConflict) {
		t.Fatalf("CreateUser of a taken userName: %v, want a conflict", err)
	}
	if _, err := s.ObserveTeam(ctx, "acme", "g-1"); !identitystore.IsNotFound(err) {
		t.Fatalf("ObserveTeam of no team: %v", err)
	}

	if got := timed("CreateUser") - creates; got != 3 {
		t.Errorf("%d CreateUser operations timed, want 3", got)
	}
	if got := failed("CreateUser", "Unavailable") - unavailable; got != 1 {
		t.Errorf("%v CreateUser failures as Unavailable, want 1", got)
	}
	if got := failed("CreateUser", "Conflict") - conflicts; got != 1 {
		t.Errorf("%v CreateUser failures as Conflict, want 1", got)
	}
	if got := timed("ObserveTeam") - observes; got != 1 {
		t.Errorf("%d ObserveTeam operations timed, want 1", got)
	}
	if got := failedAny("ObserveTeam") - notFound; got != 0 {
		t.Errorf("a team not found counted as a failure")
	}
}
