package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/rosterhq/roster/internal/identitystore/internal/migrate"
	"github.com/rosterhq/roster/internal/naming"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrateSchema applies the pending migrations in one IMMEDIATE transaction:
// it holds the file's write lock, so a second process opening the same file
// waits (up to the busy timeout) and then finds nothing to do. Versions this
// Roster does not know, from a newer one, are left alone.
func migrateSchema(ctx context.Context, db *sql.DB) error {
	all, err := migrate.Load(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("identitystore: sqlite: %w", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return wrap(err, "migrate")
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS roster_schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))`); err != nil {
		return wrap(err, "create roster_schema_migrations")
	}
	applied, err := appliedMigrations(ctx, tx)
	if err != nil {
		return wrap(err, "read roster_schema_migrations")
	}
	if err := migrate.Verify(all, applied); err != nil {
		return fmt.Errorf("identitystore: sqlite: %w", err)
	}
	pending := migrate.Pending(all, migrate.Versions(applied))
	for _, m := range pending {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return wrap(err, "apply migration %s", m.Name)
		}
		if m.Version == migrate.UserNameFoldedColumn {
			if err := foldUserNames(ctx, tx); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO roster_schema_migrations (version, name) VALUES (?, ?)`,
			m.Version, m.Name); err != nil {
			return wrap(err, "record migration %s", m.Name)
		}
	}
	if len(pending) > 0 {
		// The rows just recorded, and those recorded before the checksum column existed.
		if applied, err = appliedMigrations(ctx, tx); err != nil {
			return wrap(err, "read roster_schema_migrations")
		}
		for _, m := range migrate.Backfill(all, applied) {
			if _, err := tx.ExecContext(ctx, `UPDATE roster_schema_migrations SET checksum = ? WHERE version = ?`,
				m.Checksum, m.Version); err != nil {
				return wrap(err, "record the checksum of migration %s", m.Name)
			}
		}
	}
	return wrap(tx.Commit(), "commit migrations")
}

// appliedMigrations reads roster_schema_migrations, with empty checksums while the column
// does not exist yet (before migration ChecksumColumn).
func appliedMigrations(ctx context.Context, tx *sql.Tx) ([]migrate.Applied, error) {
	var hasChecksum bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM roster_schema_migrations WHERE version = ?)`,
		migrate.ChecksumColumn).Scan(&hasChecksum); err != nil {
		return nil, err
	}
	checksum := "''"
	if hasChecksum {
		checksum = "checksum"
	}
	rows, err := tx.QueryContext(ctx, `SELECT version, name, `+checksum+` FROM roster_schema_migrations ORDER BY version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var applied []migrate.Applied
	for rows.Next() {
		var a migrate.Applied
		if err := rows.Scan(&a.Version, &a.Name, &a.Checksum); err != nil {
			return nil, err
		}
		applied = append(applied, a)
	}
	return applied, rows.Err()
}

// foldUserNames fills user_name_folded, which migration 0002 adds, for every existing row.
// The value is naming.Fold, which SQL cannot compute; migration 0003 then makes it unique.
func foldUserNames(ctx context.Context, tx *sql.Tx) error {
	type key struct{ org, id, userName string }
	rows, err := tx.QueryContext(ctx, `SELECT org, id, user_name FROM roster_users`)
	if err != nil {
		return wrap(err, "read user names to fold")
	}
	var keys []key
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.org, &k.id, &k.userName); err != nil {
			rows.Close()
			return wrap(err, "read user names to fold")
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return wrap(err, "read user names to fold")
	}
	for _, k := range keys {
		if _, err := tx.ExecContext(ctx, `UPDATE roster_users SET user_name_folded = ? WHERE org = ? AND id = ?`,
			naming.Fold(k.userName), k.org, k.id); err != nil {
			return wrap(err, "fold user name of %s/%s", k.org, k.id)
		}
	}
	return nil
}
