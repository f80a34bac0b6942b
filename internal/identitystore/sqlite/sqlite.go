// Package sqlite is the embedded identity store: a single SQLite file written
// through modernc.org/sqlite, pure Go without cgo. It is Roster's default and
// what `roster dev` uses.
//
// The file is in WAL mode, so readers never block the writer. All writes go
// through one connection (SQLite allows one writer at a time anyway), which
// turns concurrent writers in this process into a queue instead of
// SQLITE_BUSY errors; another process writing the same file is waited for up
// to the busy timeout. It does not implement identitystore.Notifier.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	msqlite "modernc.org/sqlite" // also registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/rosterhq/roster/internal/identitystore"
	"github.com/rosterhq/roster/internal/identitystore/internal/storeutil"
	"github.com/rosterhq/roster/internal/naming"
)

// DefaultBusyTimeout is how long a write waits for another process that
// holds the file's write lock before failing as unavailable.
const DefaultBusyTimeout = 5 * time.Second

// maxReaders bounds the read connections; SQLite readers in WAL mode run in
// parallel, but beyond the number of cores that buys nothing.
const maxReaders = 4

// timeFormat is how timestamps are stored: UTC, fixed width, microseconds,
// so that text order is time order and values round-trip exactly.
const timeFormat = "2006-01-02T15:04:05.000000Z"

// Store is an identity store in one SQLite file.
type Store struct {
	w *sql.DB // one connection: the only writer
	r *sql.DB // read-only connections
}

var _ identitystore.Store = (*Store)(nil)

type options struct {
	busyTimeout time.Duration
}

// Option changes how Open opens the file.
type Option func(*options)

// WithBusyTimeout sets how long a write waits for another process's write
// lock; the default is DefaultBusyTimeout.
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) { o.busyTimeout = d }
}

// Open opens or creates the database file at path, creating missing parent
// directories, and applies pending schema migrations. A relative path is
// relative to the working directory.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := options{busyTimeout: DefaultBusyTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") {
		// The driver reads anything after '?' as parameters, and an
		// in-memory database would not be shared by the reader and
		// writer connections.
		return nil, fmt.Errorf("identitystore: sqlite: %w: need a file path without '?' or '#', got %q", identitystore.ErrInvalid, path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("identitystore: sqlite: %w: %w", identitystore.ErrUnavailable, err)
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.busyTimeout.Milliseconds()))
	// NORMAL is durable in WAL mode except for the last transactions
	// before a power loss, which the controllers' resync repairs.
	q.Add("_pragma", "synchronous(NORMAL)")
	// Take the write lock at BEGIN: a deferred transaction that later
	// upgrades can fail with SQLITE_BUSY without waiting.
	q.Set("_txlock", "immediate")

	w, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("identitystore: sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	if err := enableWAL(ctx, w, o.busyTimeout); err != nil {
		w.Close()
		return nil, err
	}
	if err := migrateSchema(ctx, w); err != nil {
		w.Close()
		return nil, err
	}

	q.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("identitystore: sqlite: %w", err)
	}
	r.SetMaxOpenConns(maxReaders)
	return &Store{w: w, r: r}, nil
}

// enableWAL switches the file to WAL mode, which is persistent, so it is done
// once here rather than by every connection. Switching needs an exclusive
// lock and SQLite reports SQLITE_BUSY at once instead of calling the busy
// handler, e.g. while another process creates the same new file; so retry
// for as long as the busy timeout.
func enableWAL(ctx context.Context, db *sql.DB, busyTimeout time.Duration) error {
	deadline := time.Now().Add(busyTimeout)
	for {
		var mode string
		err := db.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode)
		if err == nil {
			if !strings.EqualFold(mode, "wal") {
				return fmt.Errorf("identitystore: sqlite: journal mode is %q: the file system does not support WAL", mode)
			}
			return nil
		}
		var e *msqlite.Error
		if !errors.As(err, &e) || e.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return wrap(err, "enable WAL")
		}
		select {
		case <-ctx.Done():
			return wrap(ctx.Err(), "enable WAL")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Close closes the file.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// Ping checks that the schema can be read.
func (s *Store) Ping(ctx context.Context) error {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM roster_schema_migrations`).Scan(&n)
	return wrap(err, "ping")
}

const userColumns = `org, id, user_name, external_id, display_name, given_name, family_name,
	email, active, managed_by, created_at, updated_at`

// userChanged is true when the row differs from the new values ?3..?10 and ?12,
// so that writing identical values leaves updated_at alone.
const userChanged = `(user_name, external_id, display_name, given_name, family_name,
	email, active, managed_by, user_name_folded, extensions) IS NOT (?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?12, ?13)`

// ObserveUser implements identitystore.Store.
func (s *Store) ObserveUser(ctx context.Context, org, id string) (identitystore.User, error) {
	var u identitystore.User
	if err := storeutil.Key("user", org, id); err != nil {
		return u, err
	}
	var created, updated string
	err := s.r.QueryRowContext(ctx, `SELECT `+userColumns+`, extensions FROM roster_users WHERE org = ? AND id = ?`, org, id).
		Scan(&u.Org, &u.ID, &u.UserName, &u.ExternalID, &u.DisplayName, &u.GivenName, &u.FamilyName,
			&u.Email, &u.Active, &u.ManagedBy, &created, &updated, &u.Extensions)
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("identitystore: user %s/%s: %w", org, id, identitystore.ErrNotFound)
	}
	if err == nil {
		u.CreatedAt, u.UpdatedAt, err = parseTimes(created, updated)
		u.Extensions = storeutil.Extensions(u.Extensions)
	}
	if err != nil {
		return u, wrap(err, "observe user %s/%s", org, id)
	}
	return u, nil
}

// userArgs are the values ?1..?13 of a user write; ?12 is user_name_folded, the userName
// folded as Roster folds it (naming.Fold), on which the unique index is; ?13 the extensions.
func userArgs(u identitystore.User) []any {
	return []any{u.Org, u.ID, u.UserName, u.ExternalID, u.DisplayName, u.GivenName, u.FamilyName,
		u.Email, u.Active, u.ManagedBy, now(), naming.Fold(u.UserName), storeutil.Extensions(u.Extensions)}
}

// CreateUser implements identitystore.Store.
func (s *Store) CreateUser(ctx context.Context, u identitystore.User) error {
	if err := storeutil.User(u); err != nil {
		return err
	}
	_, err := s.w.ExecContext(ctx, `
		INSERT INTO roster_users (`+userColumns+`, user_name_folded, extensions)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, ?13)
		ON CONFLICT (org, id) DO UPDATE SET
			user_name = excluded.user_name, external_id = excluded.external_id,
			display_name = excluded.display_name, given_name = excluded.given_name,
			family_name = excluded.family_name, email = excluded.email,
			active = excluded.active, managed_by = excluded.managed_by,
			updated_at = excluded.updated_at, user_name_folded = excluded.user_name_folded,
			extensions = excluded.extensions
		WHERE `+userChanged, userArgs(u)...)
	return wrap(err, "create user %s/%s", u.Org, u.ID)
}

// UpdateUser implements identitystore.Store.
func (s *Store) UpdateUser(ctx context.Context, u identitystore.User) error {
	if err := storeutil.User(u); err != nil {
		return err
	}
	res, err := s.w.ExecContext(ctx, `
		UPDATE roster_users SET
			user_name = ?3, external_id = ?4, display_name = ?5, given_name = ?6,
			family_name = ?7, email = ?8, active = ?9, managed_by = ?10, updated_at = ?11,
			user_name_folded = ?12, extensions = ?13
		WHERE org = ?1 AND id = ?2 AND `+userChanged, userArgs(u)...)
	if err != nil {
		return wrap(err, "update user %s/%s", u.Org, u.ID)
	}
	return s.mustHaveChanged(ctx, res, "roster_users", "user", u.Org, u.ID)
}

// mustHaveChanged tells an update that changed nothing because the row
// already had those values from one that found no row.
func (s *Store) mustHaveChanged(ctx context.Context, res sql.Result, table, kind, org, id string) error {
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return wrap(err, "update %s %s/%s", kind, org, id)
	}
	var ok bool
	err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+table+` WHERE org = ? AND id = ?)`, org, id).Scan(&ok)
	if err != nil {
		return wrap(err, "update %s %s/%s", kind, org, id)
	}
	if !ok {
		return fmt.Errorf("identitystore: %s %s/%s: %w", kind, org, id, identitystore.ErrNotFound)
	}
	return nil
}

// DeleteUser implements identitystore.Store. The user and its memberships
// go in one transaction.
func (s *Store) DeleteUser(ctx context.Context, org, id string) error {
	if err := storeutil.Key("user", org, id); err != nil {
		return err
	}
	return wrap(s.inTx(ctx,
		`DELETE FROM roster_team_members WHERE org = ?1 AND user_id = ?2`,
		`DELETE FROM roster_users WHERE org = ?1 AND id = ?2`,
		org, id), "delete user %s/%s", org, id)
}

// inTx runs the statements, each with args, in one write transaction.
func (s *Store) inTx(ctx context.Context, stmt1, stmt2 string, args ...any) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for _, stmt := range []string{stmt1, stmt2} {
		if _, err := tx.ExecContext(ctx, stmt, args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

const teamColumns = `org, id, display_name, external_id, managed_by, created_at, updated_at`

const teamChanged = `(display_name, external_id, managed_by, extensions) IS NOT (?3, ?4, ?5, ?7)`

// ObserveTeam implements identitystore.Store.
func (s *Store) ObserveTeam(ctx context.Context, org, id string) (identitystore.Team, error) {
	var t identitystore.Team
	if err := storeutil.Key("team", org, id); err != nil {
		return t, err
	}
	var created, updated string
	err := s.r.QueryRowContext(ctx, `SELECT `+teamColumns+`, extensions FROM roster_teams WHERE org = ? AND id = ?`, org, id).
		Scan(&t.Org, &t.ID, &t.DisplayName, &t.ExternalID, &t.ManagedBy, &created, &updated, &t.Extensions)
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("identitystore: team %s/%s: %w", org, id, identitystore.ErrNotFound)
	}
	if err == nil {
		t.CreatedAt, t.UpdatedAt, err = parseTimes(created, updated)
		t.Extensions = storeutil.Extensions(t.Extensions)
	}
	if err != nil {
		return t, wrap(err, "observe team %s/%s", org, id)
	}
	return t, nil
}

func teamArgs(t identitystore.Team) []any {
	return []any{t.Org, t.ID, t.DisplayName, t.ExternalID, t.ManagedBy, now(), storeutil.Extensions(t.Extensions)}
}

// CreateTeam implements identitystore.Store.
func (s *Store) CreateTeam(ctx context.Context, t identitystore.Team) error {
	if err := storeutil.Team(t); err != nil {
		return err
	}
	_, err := s.w.ExecContext(ctx, `
		INSERT INTO roster_teams (`+teamColumns+`, extensions)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)
		ON CONFLICT (org, id) DO UPDATE SET
			display_name = excluded.display_name, external_id = excluded.external_id,
			managed_by = excluded.managed_by, updated_at = excluded.updated_at,
			extensions = excluded.extensions
		WHERE `+teamChanged, teamArgs(t)...)
	return wrap(err, "create team %s/%s", t.Org, t.ID)
}

// UpdateTeam implements identitystore.Store.
func (s *Store) UpdateTeam(ctx context.Context, t identitystore.Team) error {
	if err := storeutil.Team(t); err != nil {
		return err
	}
	res, err := s.w.ExecContext(ctx, `
		UPDATE roster_teams SET
			display_name = ?3, external_id = ?4, managed_by = ?5, updated_at = ?6,
			extensions = ?7
		WHERE org = ?1 AND id = ?2 AND `+teamChanged, teamArgs(t)...)
	if err != nil {
		return wrap(err, "update team %s/%s", t.Org, t.ID)
	}
	return s.mustHaveChanged(ctx, res, "roster_teams", "team", t.Org, t.ID)
}

// DeleteTeam implements identitystore.Store. The team and its memberships
// go in one transaction.
func (s *Store) DeleteTeam(ctx context.Context, org, id string) error {
	if err := storeutil.Key("team", org, id); err != nil {
		return err
	}
	return wrap(s.inTx(ctx,
		`DELETE FROM roster_team_members WHERE org = ?1 AND team_id = ?2`,
		`DELETE FROM roster_teams WHERE org = ?1 AND id = ?2`,
		org, id), "delete team %s/%s", org, id)
}

// ObserveMembers implements identitystore.Store.
func (s *Store) ObserveMembers(ctx context.Context, org, teamID string) ([]string, error) {
	if err := storeutil.Key("team", org, teamID); err != nil {
		return nil, err
	}
	// BINARY collation: bytewise, straight from the primary key.
	rows, err := s.r.QueryContext(ctx, `
		SELECT user_id FROM roster_team_members
		WHERE org = ? AND team_id = ? ORDER BY user_id`, org, teamID)
	if err != nil {
		return nil, wrap(err, "observe members of team %s/%s", org, teamID)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, wrap(err, "observe members of team %s/%s", org, teamID)
		}
		ids = append(ids, id)
	}
	return ids, wrap(rows.Err(), "observe members of team %s/%s", org, teamID)
}

// AddMembers implements identitystore.Store with one INSERT that reads the
// batch from a JSON array.
func (s *Store) AddMembers(ctx context.Context, org, teamID string, userIDs []string) error {
	ids, err := storeutil.Members(org, teamID, userIDs)
	if err != nil || len(ids) == 0 {
		return err
	}
	batch, err := json.Marshal(ids)
	if err != nil {
		return fmt.Errorf("identitystore: sqlite: %w", err)
	}
	// "WHERE true" tells SQLite's parser that ON CONFLICT belongs to the
	// INSERT, not to a join in the SELECT.
	_, err = s.w.ExecContext(ctx, `
		INSERT INTO roster_team_members (org, team_id, user_id, created_at)
		SELECT ?, ?, value, ? FROM json_each(?) WHERE true
		ON CONFLICT DO NOTHING`, org, teamID, now(), string(batch))
	return wrap(err, "add %d members to team %s/%s", len(ids), org, teamID)
}

// RemoveMembers implements identitystore.Store with one DELETE.
func (s *Store) RemoveMembers(ctx context.Context, org, teamID string, userIDs []string) error {
	ids, err := storeutil.Members(org, teamID, userIDs)
	if err != nil || len(ids) == 0 {
		return err
	}
	batch, err := json.Marshal(ids)
	if err != nil {
		return fmt.Errorf("identitystore: sqlite: %w", err)
	}
	_, err = s.w.ExecContext(ctx, `
		DELETE FROM roster_team_members
		WHERE org = ? AND team_id = ? AND user_id IN (SELECT value FROM json_each(?))`,
		org, teamID, string(batch))
	return wrap(err, "remove %d members from team %s/%s", len(ids), org, teamID)
}

func now() string { return storeutil.Now().Format(timeFormat) }

func parseTimes(created, updated string) (c, u time.Time, err error) {
	if c, err = time.Parse(time.RFC3339Nano, created); err != nil {
		return c, u, fmt.Errorf("created_at: %w", err)
	}
	if u, err = time.Parse(time.RFC3339Nano, updated); err != nil {
		return c, u, fmt.Errorf("updated_at: %w", err)
	}
	return c.UTC(), u.UTC(), nil
}
