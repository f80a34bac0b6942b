package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/internal/identitystore/internal/migrate"
	"github.com/rosterhq/roster/internal/naming"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the pg_advisory_xact_lock key that serialises concurrent
// Opens, e.g. several replicas starting at once: "roster" in ASCII.
const migrationLock int64 = 0x726f73746572

// migrateSchema applies the pending migrations in one transaction, holding
// the advisory lock so that a second process waits and then finds nothing to
// do. A database migrated by a newer Roster (versions this one does not know)
// is used as is: migrations only ever add.
func migrateSchema(ctx context.Context, pool *pgxpool.Pool) error {
	all, err := migrate.Load(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("identitystore: postgres: %w", err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return wrap(err, "migrate")
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if err := applyPending(ctx, tx, all); err != nil {
		return err
	}
	return wrap(tx.Commit(ctx), "commit migrations")
}

func applyPending(ctx context.Context, tx pgx.Tx, all []migrate.Migration) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return wrap(err, "lock for migrations")
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS roster_schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return wrap(err, "create roster_schema_migrations")
	}
	applied, err := appliedMigrations(ctx, tx)
	if err != nil {
		return wrap(err, "read roster_schema_migrations")
	}
	if err := migrate.Verify(all, applied); err != nil {
		return fmt.Errorf("identitystore: postgres: %w", err)
	}
	pending := migrate.Pending(all, migrate.Versions(applied))
	for _, m := range pending {
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return wrap(err, "apply migration %s", m.Name)
		}
		if m.Version == migrate.UserNameFoldedColumn {
			if err := foldUserNames(ctx, tx); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO roster_schema_migrations (version, name) VALUES ($1, $2)`,
			m.Version, m.Name); err != nil {
			return wrap(err, "record migration %s", m.Name)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	// The rows just recorded, and those recorded before the checksum column existed.
	if applied, err = appliedMigrations(ctx, tx); err != nil {
		return wrap(err, "read roster_schema_migrations")
	}
	for _, m := range migrate.Backfill(all, applied) {
		if _, err := tx.Exec(ctx, `UPDATE roster_schema_migrations SET checksum = $1 WHERE version = $2`,
			m.Checksum, m.Version); err != nil {
			return wrap(err, "record the checksum of migration %s", m.Name)
		}
	}
	return nil
}

// appliedMigrations reads roster_schema_migrations, with empty checksums while the column
// does not exist yet (before migration ChecksumColumn).
func appliedMigrations(ctx context.Context, tx pgx.Tx) ([]migrate.Applied, error) {
	var hasChecksum bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM roster_schema_migrations WHERE version = $1)`,
		migrate.ChecksumColumn).Scan(&hasChecksum); err != nil {
		return nil, err
	}
	checksum := "''"
	if hasChecksum {
		checksum = "checksum"
	}
	rows, _ := tx.Query(ctx, `SELECT version, name, `+checksum+` FROM roster_schema_migrations ORDER BY version`)
	var applied []migrate.Applied
	var a migrate.Applied
	_, err := pgx.ForEachRow(rows, []any{&a.Version, &a.Name, &a.Checksum}, func() error {
		applied = append(applied, a)
		return nil
	})
	return applied, err
}

// foldUserNames fills user_name_folded, which migration 0002 adds, for every existing row.
// The value is naming.Fold, which SQL cannot compute; migration 0003 then makes it unique.
func foldUserNames(ctx context.Context, tx pgx.Tx) error {
	var orgs, ids, folded []string
	rows, _ := tx.Query(ctx, `SELECT org, id, user_name FROM roster_users`)
	var org, id, userName string
	_, err := pgx.ForEachRow(rows, []any{&org, &id, &userName}, func() error {
		orgs, ids, folded = append(orgs, org), append(ids, id), append(folded, naming.Fold(userName))
		return nil
	})
	if err != nil {
		return wrap(err, "read user names to fold")
	}
	_, err = tx.Exec(ctx, `
		UPDATE roster_users AS u SET user_name_folded = f.folded
		FROM unnest($1::text[], $2::text[], $3::text[]) AS f(org, id, folded)
		WHERE u.org = f.org AND u.id = f.id`, orgs, ids, folded)
	return wrap(err, "fold %d user names", len(ids))
}
