// Package postgres is the PostgreSQL driver of the identity store, built on
// pgx. It creates and migrates its schema at Open and implements
// identitystore.Notifier with LISTEN/NOTIFY.
package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/internal/identitystore"
	"github.com/rosterhq/roster/internal/identitystore/internal/storeutil"
	"github.com/rosterhq/roster/internal/naming"
)

// Store is an identity store in a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	// done is closed by Close; it stops running watches.
	done   context.Context
	cancel context.CancelFunc
}

var (
	_ identitystore.Store    = (*Store)(nil)
	_ identitystore.Notifier = (*Store)(nil)
)

// Open connects to the database named by connString (a postgres:// URL or a
// libpq key=value string) and applies pending schema migrations. When the
// server cannot be reached the error satisfies identitystore.IsUnavailable;
// retry later.
func Open(ctx context.Context, connString string, opts ...Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		// pgx masks passwords in this message on a best-effort basis.
		return nil, fmt.Errorf("identitystore: postgres: %w: %w", identitystore.ErrInvalid, err)
	}
	for _, o := range opts {
		o(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, wrap(err, "connect")
	}
	if err := migrateSchema(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	done, cancel := context.WithCancel(context.Background())
	return &Store{pool: pool, done: done, cancel: cancel}, nil
}

// Option adjusts how Open connects.
type Option func(*pgxpool.Config)

// AsRoster marks the connections as Roster's own: their membership writes are not announced
// on the notification channel (the trigger skips them), so Roster's controllers are woken only by
// changes someone else made. Writers without it (a DBA, another application) are announced.
func AsRoster() Option {
	return func(c *pgxpool.Config) { c.ConnConfig.RuntimeParams["roster.writer"] = "roster" }
}

// Close stops running watches and closes all connections.
func (s *Store) Close() error {
	s.cancel()
	s.pool.Close()
	return nil
}

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error {
	return wrap(s.pool.Ping(ctx), "ping")
}

const userColumns = `org, id, user_name, external_id, display_name, given_name, family_name,
	email, active, managed_by, created_at, updated_at`

// userChanged is true when the row differs from the new values $3..$10 and $12, so
// that writing identical values leaves updated_at alone.
const userChanged = `(u.user_name, u.external_id, u.display_name, u.given_name, u.family_name,
	u.email, u.active, u.managed_by, u.user_name_folded, u.extensions) IS DISTINCT FROM
	($3::text, $4::text, $5::text, $6::text, $7::text, $8::text, $9::boolean, $10::text, $12::text, $13::jsonb)`

// ObserveUser implements identitystore.Store.
func (s *Store) ObserveUser(ctx context.Context, org, id string) (identitystore.User, error) {
	var u identitystore.User
	if err := storeutil.Key("user", org, id); err != nil {
		return u, err
	}
	err := s.pool.QueryRow(ctx, `SELECT `+userColumns+`, extensions::text FROM roster_users WHERE org = $1 AND id = $2`, org, id).
		Scan(&u.Org, &u.ID, &u.UserName, &u.ExternalID, &u.DisplayName, &u.GivenName, &u.FamilyName,
			&u.Email, &u.Active, &u.ManagedBy, &u.CreatedAt, &u.UpdatedAt, &u.Extensions)
	if errors.Is(err, pgx.ErrNoRows) {
		return u, fmt.Errorf("identitystore: user %s/%s: %w", org, id, identitystore.ErrNotFound)
	}
	if err != nil {
		return u, wrap(err, "observe user %s/%s", org, id)
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	u.Extensions = storeutil.Extensions(u.Extensions) // jsonb's text reorders keys and adds blanks
	return u, nil
}

// userArgs are the values $1..$13 of a user write; $12 is user_name_folded, the userName
// folded as Roster folds it (naming.Fold), on which the unique index is; $13 the extensions.
func userArgs(u identitystore.User) []any {
	return []any{u.Org, u.ID, u.UserName, u.ExternalID, u.DisplayName, u.GivenName, u.FamilyName,
		u.Email, u.Active, u.ManagedBy, storeutil.Now(), naming.Fold(u.UserName), storeutil.Extensions(u.Extensions)}
}

// CreateUser implements identitystore.Store.
func (s *Store) CreateUser(ctx context.Context, u identitystore.User) error {
	if err := storeutil.User(u); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO roster_users AS u (`+userColumns+`, user_name_folded, extensions)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13::jsonb)
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
	tag, err := s.pool.Exec(ctx, `
		UPDATE roster_users AS u SET
			user_name = $3, external_id = $4, display_name = $5, given_name = $6,
			family_name = $7, email = $8, active = $9, managed_by = $10, updated_at = $11,
			user_name_folded = $12, extensions = $13::jsonb
		WHERE org = $1 AND id = $2 AND `+userChanged, userArgs(u)...)
	if err != nil {
		return wrap(err, "update user %s/%s", u.Org, u.ID)
	}
	if tag.RowsAffected() == 0 {
		return s.mustExist(ctx, "roster_users", "user", u.Org, u.ID)
	}
	return nil
}

// mustExist tells an update that changed nothing because the row already
// had those values from one that found no row.
func (s *Store) mustExist(ctx context.Context, table, kind, org, id string) error {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+table+` WHERE org = $1 AND id = $2)`, org, id).Scan(&ok)
	if err != nil {
		return wrap(err, "update %s %s/%s", kind, org, id)
	}
	if !ok {
		return fmt.Errorf("identitystore: %s %s/%s: %w", kind, org, id, identitystore.ErrNotFound)
	}
	return nil
}

// DeleteUser implements identitystore.Store. The user and its memberships
// go in one statement.
func (s *Store) DeleteUser(ctx context.Context, org, id string) error {
	if err := storeutil.Key("user", org, id); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `
		WITH m AS (DELETE FROM roster_team_members WHERE org = $1 AND user_id = $2)
		DELETE FROM roster_users WHERE org = $1 AND id = $2`, org, id)
	return wrap(err, "delete user %s/%s", org, id)
}

const teamColumns = `org, id, display_name, external_id, managed_by, created_at, updated_at`

const teamChanged = `(t.display_name, t.external_id, t.managed_by, t.extensions) IS DISTINCT FROM
	($3::text, $4::text, $5::text, $7::jsonb)`

// ObserveTeam implements identitystore.Store.
func (s *Store) ObserveTeam(ctx context.Context, org, id string) (identitystore.Team, error) {
	var t identitystore.Team
	if err := storeutil.Key("team", org, id); err != nil {
		return t, err
	}
	err := s.pool.QueryRow(ctx, `SELECT `+teamColumns+`, extensions::text FROM roster_teams WHERE org = $1 AND id = $2`, org, id).
		Scan(&t.Org, &t.ID, &t.DisplayName, &t.ExternalID, &t.ManagedBy, &t.CreatedAt, &t.UpdatedAt, &t.Extensions)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, fmt.Errorf("identitystore: team %s/%s: %w", org, id, identitystore.ErrNotFound)
	}
	if err != nil {
		return t, wrap(err, "observe team %s/%s", org, id)
	}
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	t.Extensions = storeutil.Extensions(t.Extensions)
	return t, nil
}

func teamArgs(t identitystore.Team) []any {
	return []any{t.Org, t.ID, t.DisplayName, t.ExternalID, t.ManagedBy, storeutil.Now(), storeutil.Extensions(t.Extensions)}
}

// CreateTeam implements identitystore.Store.
func (s *Store) CreateTeam(ctx context.Context, t identitystore.Team) error {
	if err := storeutil.Team(t); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO roster_teams AS t (`+teamColumns+`, extensions)
		VALUES ($1, $2, $3, $4, $5, $6, $6, $7::jsonb)
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
	tag, err := s.pool.Exec(ctx, `
		UPDATE roster_teams AS t SET
			display_name = $3, external_id = $4, managed_by = $5, updated_at = $6,
			extensions = $7::jsonb
		WHERE org = $1 AND id = $2 AND `+teamChanged, teamArgs(t)...)
	if err != nil {
		return wrap(err, "update team %s/%s", t.Org, t.ID)
	}
	if tag.RowsAffected() == 0 {
		return s.mustExist(ctx, "roster_teams", "team", t.Org, t.ID)
	}
	return nil
}

// DeleteTeam implements identitystore.Store. The team and its memberships
// go in one statement.
func (s *Store) DeleteTeam(ctx context.Context, org, id string) error {
	if err := storeutil.Key("team", org, id); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `
		WITH m AS (DELETE FROM roster_team_members WHERE org = $1 AND team_id = $2)
		DELETE FROM roster_teams WHERE org = $1 AND id = $2`, org, id)
	return wrap(err, "delete team %s/%s", org, id)
}

// ObserveMembers implements identitystore.Store.
func (s *Store) ObserveMembers(ctx context.Context, org, teamID string) ([]string, error) {
	if err := storeutil.Key("team", org, teamID); err != nil {
		return nil, err
	}
	// user_id has the "C" collation: this order is bytewise.
	rows, _ := s.pool.Query(ctx, `
		SELECT user_id FROM roster_team_members
		WHERE org = $1 AND team_id = $2 ORDER BY user_id`, org, teamID)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap(err, "observe members of team %s/%s", org, teamID)
	}
	return ids, nil
}

// AddMembers implements identitystore.Store with one INSERT of the whole,
// sorted batch.
func (s *Store) AddMembers(ctx context.Context, org, teamID string, userIDs []string) error {
	ids, err := storeutil.Members(org, teamID, userIDs)
	if err != nil || len(ids) == 0 {
		return err
	}
	_, err = s.pool.Exec(ctx, `
		INSERT INTO roster_team_members (org, team_id, user_id, created_at)
		SELECT $1, $2, u, $4 FROM unnest($3::text[]) AS u
		ON CONFLICT DO NOTHING`, org, teamID, ids, storeutil.Now())
	return wrap(err, "add %d members to team %s/%s", len(ids), org, teamID)
}

// RemoveMembers implements identitystore.Store with one DELETE.
func (s *Store) RemoveMembers(ctx context.Context, org, teamID string, userIDs []string) error {
	ids, err := storeutil.Members(org, teamID, userIDs)
	if err != nil || len(ids) == 0 {
		return err
	}
	_, err = s.pool.Exec(ctx, `
		DELETE FROM roster_team_members
		WHERE org = $1 AND team_id = $2 AND user_id = ANY ($3::text[])`, org, teamID, ids)
	return wrap(err, "remove %d members from team %s/%s", len(ids), org, teamID)
}
