package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/identitystore"
	"github.com/rosterhq/roster/internal/identitystore/sqlite"
	"github.com/rosterhq/roster/internal/identitystore/storetest"
	"github.com/rosterhq/roster/internal/naming"
)

func open(t testing.TB, path string, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) identitystore.Store {
		return open(t, filepath.Join(t.TempDir(), "roster.db"))
	})
}

func BenchmarkAddMembers1000(b *testing.B) {
	storetest.BenchmarkAddMembers(b, open(b, filepath.Join(b.TempDir(), "roster.db")), 1000)
}

// rawDB opens the file the way another application reading the contract
// schema would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConcurrentOpensOfANewFile(t *testing.T) {
	// Three stores opening one new file at the same time, as processes
	// starting together would: creating the file, switching it to WAL and
	// migrating it must not fail any of them. Repeated, since it is a race.
	for range 20 {
		path := filepath.Join(t.TempDir(), "roster.db")
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				s, err := sqlite.Open(t.Context(), path)
				if err != nil {
					t.Error(err)
					return
				}
				s.Close()
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
	}
}

func TestFileIsWALAndMigratedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "roster.db")
	ctx := t.Context()
	open(t, path).Close()
	s := open(t, path) // reopened: nothing left to migrate
	if err := s.CreateUser(ctx, identitystore.User{Org: "acme", ID: "1", UserName: "a", Active: true}); err != nil {
		t.Fatal(err)
	}

	db := rawDB(t, path)
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q (%v), want wal", mode, err)
	}
	var n, max int
	if err := db.QueryRow(`SELECT count(*), max(version) FROM roster_schema_migrations`).Scan(&n, &max); err != nil {
		t.Fatal(err)
	}
	if n != max || n == 0 {
		t.Fatalf("roster_schema_migrations has %d rows up to version %d, want each version once", n, max)
	}
}

func TestDataSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.db")
	ctx := t.Context()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	u := identitystore.User{Org: "acme", ID: "1", UserName: "alice", Active: true, ManagedBy: "scim"}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMembers(ctx, "acme", "team", []string{"1", "2"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	got, err := s.ObserveUser(ctx, "acme", "1")
	if err != nil || got.UserName != "alice" || !got.Active {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
	if ids, err := s.ObserveMembers(ctx, "acme", "team"); err != nil || len(ids) != 2 {
		t.Fatalf("members after reopen: %q, %v", ids, err)
	}
}

func TestSchemaIsReadableAsDocumented(t *testing.T) {
	// What docs/identity-store.md tells other applications to expect.
	path := filepath.Join(t.TempDir(), "roster.db")
	s := open(t, path)
	ctx := t.Context()
	u := identitystore.User{Org: "acme", ID: "u1", UserName: "alice", Active: false, ManagedBy: "scim"}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMembers(ctx, "acme", "t1", []string{"u1", "u2"}); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	var active int
	var managedBy, createdAt string
	err := db.QueryRow(`SELECT active, managed_by, created_at FROM roster_users WHERE org = 'acme' AND id = 'u1'`).
		Scan(&active, &managedBy, &createdAt)
	if err != nil {
		t.Fatal(err)
	}
	if active != 0 || managedBy != "scim" {
		t.Errorf("active=%d managed_by=%q, want 0 and scim", active, managedBy)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000000Z", createdAt); err != nil {
		t.Errorf("created_at %q is not the documented format: %v", createdAt, err)
	}
	// The documented query for a team's provisioned members: u2 has no
	// user row yet, so only u1.
	rows, err := db.Query(`SELECT u.user_name FROM roster_team_members m
		JOIN roster_users u ON u.org = m.org AND u.id = m.user_id
		WHERE m.org = 'acme' AND m.team_id = 't1' ORDER BY u.user_name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if len(names) != 1 || names[0] != "alice" {
		t.Fatalf("provisioned members = %q, want [alice]", names)
	}
}

func TestLockedFileIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.db")
	s := open(t, path, sqlite.WithBusyTimeout(100*time.Millisecond))
	ctx := t.Context()

	// Another process holds the write lock.
	db := rawDB(t, path)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}

	err = s.AddMembers(ctx, "acme", "t", []string{"a"})
	if !identitystore.IsUnavailable(err) {
		t.Fatalf("AddMembers while the file is locked: %v, want an unavailable error", err)
	}
	// Reads go on: WAL readers do not wait for writers.
	if _, err := s.ObserveMembers(ctx, "acme", "t"); err != nil {
		t.Fatalf("ObserveMembers while the file is locked: %v", err)
	}

	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMembers(ctx, "acme", "t", []string{"a"}); err != nil {
		t.Fatalf("AddMembers after the lock was released: %v", err)
	}
}

func TestOpenRejectsWhatItCannotServe(t *testing.T) {
	for _, path := range []string{"", ":memory:", "/tmp/x.db?mode=ro"} {
		if s, err := sqlite.Open(t.Context(), path); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}

// version1 makes a file as a Roster with only migration 0001 left it, holding users.
func version1(t *testing.T, path string, userNames map[string]string) {
	t.Helper()
	init, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	for _, stmt := range []string{
		string(init),
		`CREATE TABLE roster_schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
			applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))`,
		`INSERT INTO roster_schema_migrations (version, name) VALUES (1, '0001_init.sql')`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	for id, userName := range userNames {
		if _, err := db.Exec(`INSERT INTO roster_users (org, id, user_name) VALUES ('acme', ?, ?)`, id, userName); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
}

// TestUpgradeFoldsExistingUserNames: opening a version-1 file fills user_name_folded with
// Roster's folding for every existing row, and uniqueness follows it from then on.
func TestUpgradeFoldsExistingUserNames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.db")
	version1(t, path, map[string]string{"u1": "ÉVA@example.de", "u2": "ΓΙΏΡΓΟΣ@example.gr", "u3": "Ada@Example.com"})
	s := open(t, path)

	rows, err := rawDB(t, path).Query(`SELECT user_name, user_name_folded FROM roster_users`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var userName, folded string
		if err := rows.Scan(&userName, &folded); err != nil {
			t.Fatal(err)
		}
		if folded != naming.Fold(userName) {
			t.Errorf("user_name_folded of %q = %q, want %q", userName, folded, naming.Fold(userName))
		}
		n++
	}
	if n != 3 {
		t.Fatalf("%d rows after the upgrade, want 3", n)
	}
	ctx := t.Context()
	err = s.CreateUser(ctx, identitystore.User{Org: "acme", ID: "u4", UserName: "éva@example.de", Active: true})
	if !errors.Is(err, identitystore.ErrConflict) {
		t.Errorf("CreateUser of another spelling of ÉVA@example.de after the upgrade: %v, want a conflict", err)
	}
	if err := s.CreateUser(ctx, identitystore.User{Org: "acme", ID: "u5", UserName: "Γιώργος@example.gr", Active: true}); err != nil {
		t.Errorf("CreateUser of a user Roster tells apart from ΓΙΏΡΓΟΣ@example.gr: %v", err)
	}
}

// TestUpgradeRefusesRowsRosterFoldsTogether: two rows the old lower() index let through but
// that are one user to Roster (only possible when written by hand) stop the upgrade, which
// changes nothing, and the error says which index.
func TestUpgradeRefusesRowsRosterFoldsTogether(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.db")
	version1(t, path, map[string]string{"u1": "ÉVA@example.de", "u2": "éva@example.de"})
	s, err := sqlite.Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open migrated a file with two rows of one user")
	}
	if !errors.Is(err, identitystore.ErrConflict) || !strings.Contains(err.Error(), "user_name_folded") {
		t.Errorf("Open: %v, want a conflict on user_name_folded", err)
	}
	var version int
	if err := rawDB(t, path).QueryRow(`SELECT max(version) FROM roster_schema_migrations`).Scan(&version); err != nil || version != 1 {
		t.Errorf("schema version after the failed upgrade = %d (%v), want 1", version, err)
	}
}

// releasedMigrations pins the SQLite schema: every released migration with the checksum
// recorded in databases it was applied to. Add a line for a new migration; never change one.
// An edited migration makes Roster refuse every database it was applied to (and this test
// fail first). Version 5 is the current schema version.
var releasedMigrations = []string{
	"1 0001_init.sql c4b584702611f56ac656a203c7f31bd3d76200010a0478809ca8bfb28c0c8c00",
	"2 0002_user_name_folded.sql c11ac1fd5ef3ddba1419b93fb9550174db8523b302379265d0608335e29d4bbe",
	"3 0003_user_name_folded_key.sql c58259d68625601418672fa51f14a799c09d0be46825c0e1d9e9ab5ed5ce6823",
	"4 0004_migration_checksums.sql b63420ecf1a6a0a27a053b7c1c122ae06c873b74739d271c29e3091558409e21",
	"5 0005_extensions.sql cea27fb58b8ca92d652864c4d8a4bf07a3887713f1cb208369f39778cb8c7a2c",
}

// recordedMigrations lists roster_schema_migrations as "version name checksum" lines.
func recordedMigrations(t *testing.T, path string) []string {
	t.Helper()
	rows, err := rawDB(t, path).Query(`SELECT version || ' ' || name || ' ' || checksum FROM roster_schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		got = append(got, line)
	}
	return got
}

func TestSchemaVersionAndChecksumsArePinned(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.db")
	open(t, path).Close()
	if got := recordedMigrations(t, path); !slices.Equal(got, releasedMigrations) {
		t.Errorf("a new database records\n%s\nwant\n%s\n(a released migration was edited, or a new one is not listed here)",
			strings.Join(got, "\n"), strings.Join(releasedMigrations, "\n"))
	}
}

// TestUpgradeRecordsChecksumsOfEarlierMigrations: a file migrated before checksums existed
// gets the checksums of its earlier migrations from the embedded files.
func TestUpgradeRecordsChecksumsOfEarlierMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.db")
	version1(t, path, map[string]string{"u1": "ada@example.com"})
	open(t, path).Close()
	if got := recordedMigrations(t, path); !slices.Equal(got, releasedMigrations) {
		t.Errorf("after the upgrade of a version-1 file:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(releasedMigrations, "\n"))
	}
}

// TestEditedMigrationIsRefused: a database whose applied migration has another checksum than
// this Roster's file (as when the file was edited after release) is not opened, the error
// names the migration, and nothing is changed.
func TestEditedMigrationIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.db")
	open(t, path).Close()
	const applied = "0000000000000000000000000000000000000000000000000000000000000002"
	db := rawDB(t, path)
	if _, err := db.Exec(`UPDATE roster_schema_migrations SET checksum = ? WHERE version = 2`, applied); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM roster_schema_migrations WHERE version = 3`); err != nil {
		t.Fatal(err) // a pending migration that must not be applied either
	}
	s, err := sqlite.Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open used a database whose migration 0002 was applied from another file")
	}
	if !strings.Contains(err.Error(), "migration 0002_user_name_folded.sql was applied with checksum "+applied) {
		t.Errorf("Open: %v, want an error naming migration 0002_user_name_folded.sql and its checksum", err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM roster_schema_migrations WHERE version = 3`).Scan(&n); err != nil || n != 0 {
		t.Errorf("migration 3 recorded %d times (%v) after the refusal, want 0: nothing may change", n, err)
	}
}
