package postgres_test

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

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/internal/identitystore"
	"github.com/rosterhq/roster/internal/identitystore/postgres"
	"github.com/rosterhq/roster/internal/identitystore/sqlite"
	"github.com/rosterhq/roster/internal/identitystore/storetest"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(t testing.TB, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) identitystore.Store {
		return open(t, pgtest.Shared(t).NewDatabase(t))
	})
}

func BenchmarkAddMembers1000(b *testing.B) {
	storetest.BenchmarkAddMembers(b, open(b, pgtest.Shared(b).NewDatabase(b)), 1000)
}

// psql connects the way a DBA or another application would.
func psql(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func exec(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestConcurrentOpensMigrateOnce(t *testing.T) {
	// Replicas starting together all migrate the same new database.
	url := pgtest.Shared(t).NewDatabase(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), url)
			if err != nil {
				t.Error(err)
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	var n, max int
	err := psql(t, url).QueryRow(t.Context(), `SELECT count(*), max(version) FROM roster_schema_migrations`).Scan(&n, &max)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || n != max {
		t.Fatalf("roster_schema_migrations has %d rows up to version %d, want each version once", n, max)
	}
}

func TestManualEditsAreNotified(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	s := open(t, url)
	ch, err := s.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	dba := psql(t, url)
	next := func(want identitystore.Change) {
		t.Helper()
		select {
		case got, ok := <-ch:
			if !ok || got != want {
				t.Fatalf("change = %+v (open %v), want %+v", got, ok, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no change %+v within 5s", want)
		}
	}

	exec(t, dba, `INSERT INTO roster_team_members (org, team_id, user_id) VALUES ('acme', 't1', 'u1'), ('acme', 't1', 'u2')`)
	next(identitystore.Change{Org: "acme", TeamID: "t1"}) // once per statement and team, not per row
	exec(t, dba, `UPDATE roster_team_members SET team_id = 't2' WHERE user_id = 'u1'`)
	changes := []identitystore.Change{<-ch, <-ch}
	slices.SortFunc(changes, func(a, b identitystore.Change) int { return compare(a.TeamID, b.TeamID) })
	if changes[0].TeamID != "t1" || changes[1].TeamID != "t2" {
		t.Fatalf("moving a member between teams reported %+v, want t1 and t2", changes)
	}
	exec(t, dba, `DELETE FROM roster_team_members WHERE team_id = 't2'`)
	next(identitystore.Change{Org: "acme", TeamID: "t2"})
	exec(t, dba, `TRUNCATE roster_team_members`)
	next(identitystore.Change{}) // any team

	// Writes to other tables are not membership changes.
	exec(t, dba, `INSERT INTO roster_teams (org, id) VALUES ('acme', 't3')`)
	exec(t, dba, `INSERT INTO roster_team_members (org, team_id, user_id) VALUES ('acme', 't3', 'u1')`)
	next(identitystore.Change{Org: "acme", TeamID: "t3"})
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestOutage(t *testing.T) {
	// A server of its own, since this test stops it.
	srv := pgtest.Start(t)
	s := open(t, srv.URL())
	ctx := t.Context()
	ch, err := s.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddMembers(ctx, "acme", "t1", []string{"u1"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ch, identitystore.Change{Org: "acme", TeamID: "t1"})

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"Ping":       s.Ping(ctx),
		"AddMembers": s.AddMembers(ctx, "acme", "t1", []string{"u2"}),
		"CreateUser": s.CreateUser(ctx, identitystore.User{Org: "acme", ID: "u2", UserName: "bob"}),
	} {
		if !identitystore.IsUnavailable(err) {
			t.Errorf("%s while the server is down: %v, want an unavailable error", name, err)
		}
	}
	_, err = s.ObserveMembers(ctx, "acme", "t1")
	if !identitystore.IsUnavailable(err) {
		t.Errorf("ObserveMembers while the server is down: %v, want an unavailable error", err)
	}
	if _, err := postgres.Open(ctx, srv.URL()); !identitystore.IsUnavailable(err) {
		t.Errorf("Open while the server is down: %v, want an unavailable error", err)
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	// The pool may hand out a connection that died with the server once
	// more; within a few tries the store is back.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.AddMembers(ctx, "acme", "t1", []string{"u2"})
		if err == nil {
			break
		}
		if !identitystore.IsUnavailable(err) || time.Now().After(deadline) {
			t.Fatalf("AddMembers after restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ids, err := s.ObserveMembers(ctx, "acme", "t1"); err != nil || !slices.Equal(ids, []string{"u1", "u2"}) {
		t.Fatalf("members after restart = %q, %v", ids, err)
	}

	// The watch missed whatever happened while it was disconnected, so it
	// says "resync everything", then reports changes again.
	waitFor(t, ch, identitystore.Change{})
	if err := s.RemoveMembers(ctx, "acme", "t1", []string{"u1"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ch, identitystore.Change{Org: "acme", TeamID: "t1"})
}

// waitFor reads ch until want arrives.
func waitFor(t *testing.T, ch <-chan identitystore.Change, want identitystore.Change) {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case got, ok := <-ch:
			if !ok {
				t.Fatalf("change channel closed waiting for %+v", want)
			}
			if got == want {
				return
			}
		case <-timeout:
			t.Fatalf("no change %+v within 15s", want)
		}
	}
}

func TestCloseEndsWatches(t *testing.T) {
	s, err := postgres.Open(t.Context(), pgtest.Shared(t).NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	select {
	case _, ok := <-ch:
		if ok {
			// Drain: only a close is acceptable eventually.
			for range ch {
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch still running 10s after Close")
	}
}

func TestSchemaMatchesSQLite(t *testing.T) {
	// One schema, two dialects: the same tables with the same columns in
	// the same order, so that readers can switch drivers.
	url := pgtest.Shared(t).NewDatabase(t)
	open(t, url)
	pg := map[string][]string{}
	rows, err := psql(t, url).Query(t.Context(), `
		SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name LIKE 'roster\_%'
		ORDER BY table_name, ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var table, column string
		if err := rows.Scan(&table, &column); err != nil {
			t.Fatal(err)
		}
		pg[table] = append(pg[table], column)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(t.TempDir(), "roster.db")
	lite, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	lite.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for table, pgColumns := range pg {
		var columns []string
		r, err := db.Query(`SELECT name FROM pragma_table_info(?) ORDER BY cid`, table)
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			var c string
			if err := r.Scan(&c); err != nil {
				t.Fatal(err)
			}
			columns = append(columns, c)
		}
		r.Close()
		if !slices.Equal(columns, pgColumns) {
			t.Errorf("table %s: sqlite columns %q, postgres %q", table, columns, pgColumns)
		}
	}
	var tables int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'roster\_%' ESCAPE '\'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != len(pg) || len(pg) != 4 {
		t.Errorf("sqlite has %d roster_ tables, postgres %d, want 4 each", tables, len(pg))
	}
}

func TestSearchPathSelectsSchema(t *testing.T) {
	// As documented: ?search_path=... puts Roster's tables in that schema.
	url := pgtest.Shared(t).NewDatabase(t)
	exec(t, psql(t, url), `CREATE SCHEMA roster`)
	s := open(t, url+"&search_path=roster")
	if err := s.AddMembers(t.Context(), "acme", "t1", []string{"u1"}); err != nil {
		t.Fatal(err)
	}
	var n int
	err := psql(t, url).QueryRow(t.Context(), `SELECT count(*) FROM roster.roster_team_members`).Scan(&n)
	if err != nil || n != 1 {
		t.Fatalf("rows in roster.roster_team_members = %d, %v; want 1", n, err)
	}
}

// TestRosterWritesAreQuiet: membership writes through a store opened AsRoster are not
// announced (the controllers made them and know them); another writer's still are.
func TestRosterWritesAreQuiet(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	watcher := open(t, url)
	ch, err := watcher.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	roster, err := postgres.Open(t.Context(), url, postgres.AsRoster())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = roster.Close() })
	ctx := t.Context()
	// Roster writes t1 first, then someone else writes t2: notifications come in commit order,
	// so the first one seen is t2's exactly when Roster's write was not announced.
	if err := roster.AddMembers(ctx, "acme", "t1", []string{"u1"}); err != nil {
		t.Fatal(err)
	}
	if err := roster.RemoveMembers(ctx, "acme", "t1", []string{"u1"}); err != nil {
		t.Fatal(err)
	}
	if err := watcher.AddMembers(ctx, "acme", "t2", []string{"u1"}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-ch:
		if want := (identitystore.Change{Org: "acme", TeamID: "t2"}); got != want {
			t.Fatalf("first change %+v, want %+v: Roster's own writes were announced", got, want)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the other writer's change was not announced")
	}
}

// version1 makes a database as a Roster with only migration 0001 left it, holding users.
func version1(t *testing.T, url string, userNames map[string]string) {
	t.Helper()
	init, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	conn := psql(t, url)
	exec(t, conn, string(init))
	exec(t, conn, `CREATE TABLE roster_schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`)
	exec(t, conn, `INSERT INTO roster_schema_migrations (version, name) VALUES (1, '0001_init.sql')`)
	for id, userName := range userNames {
		exec(t, conn, `INSERT INTO roster_users (org, id, user_name) VALUES ('acme', $1, $2)`, id, userName)
	}
}

// TestUpgradeFoldsExistingUserNames: opening a version-1 database fills user_name_folded with
// Roster's folding for every existing row, and uniqueness follows it from then on (the test
// database has the C locale, whose lower() folds ASCII only).
func TestUpgradeFoldsExistingUserNames(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	version1(t, url, map[string]string{"u1": "ÉVA@example.de", "u2": "ΓΙΏΡΓΟΣ@example.gr", "u3": "Ada@Example.com"})
	s := open(t, url)

	rows, _ := psql(t, url).Query(t.Context(), `SELECT ARRAY[user_name, user_name_folded] FROM roster_users`)
	folded, err := pgx.CollectRows(rows, pgx.RowTo[[]string])
	if err != nil {
		t.Fatal(err)
	}
	if len(folded) != 3 {
		t.Fatalf("%d rows after the upgrade, want 3", len(folded))
	}
	for _, r := range folded {
		if r[1] != naming.Fold(r[0]) {
			t.Errorf("user_name_folded of %q = %q, want %q", r[0], r[1], naming.Fold(r[0]))
		}
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
// changes nothing, and the error names the index.
func TestUpgradeRefusesRowsRosterFoldsTogether(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	version1(t, url, map[string]string{"u1": "ÉVA@example.de", "u2": "éva@example.de"})
	s, err := postgres.Open(t.Context(), url)
	if err == nil {
		s.Close()
		t.Fatal("Open migrated a database with two rows of one user")
	}
	if !errors.Is(err, identitystore.ErrConflict) || !strings.Contains(err.Error(), "user_name_folded") {
		t.Errorf("Open: %v, want a conflict on user_name_folded", err)
	}
	var version int
	if err := psql(t, url).QueryRow(t.Context(), `SELECT max(version) FROM roster_schema_migrations`).Scan(&version); err != nil || version != 1 {
		t.Errorf("schema version after the failed upgrade = %d (%v), want 1", version, err)
	}
}

// TestUserNamesIgnoreTheDatabaseLocale runs the folding conformance test in a database whose
// lower() is ICU's: it lower-cases a final capital sigma to "ς", joining "ΓΙΏΡΓΟΣ" and
// "Γιώργος", which Roster holds to be two users, and keeps "İ" apart from "i", which Roster
// joins. The store must follow Roster, not lower().
func TestUserNamesIgnoreTheDatabaseLocale(t *testing.T) {
	srv := pgtest.Shared(t)
	admin := psql(t, srv.DatabaseURL("postgres"))
	exec(t, admin, `CREATE DATABASE roster_icu TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C' LOCALE_PROVIDER icu ICU_LOCALE 'und'`)
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), `DROP DATABASE IF EXISTS roster_icu WITH (FORCE)`)
	})
	url := srv.DatabaseURL("roster_icu")
	var joinsSigma, joinsDottedI bool
	err := psql(t, url).QueryRow(t.Context(), `SELECT lower('ΓΙΏΡΓΟΣ@example.gr') = lower('Γιώργος@example.gr'),
		lower('İlkay@example.com') = lower('ilkay@example.com')`).Scan(&joinsSigma, &joinsDottedI)
	if err != nil {
		t.Fatal(err)
	}
	if !joinsSigma || joinsDottedI {
		t.Fatalf("ICU lower() does not fold as this test assumes (sigma joined %v, dotted I joined %v)", joinsSigma, joinsDottedI)
	}
	s := open(t, url)
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateUser(ctx, identitystore.User{Org: "acme", ID: "u1", UserName: "ΓΙΏΡΓΟΣ@example.gr", Active: true}))
	if err := s.CreateUser(ctx, identitystore.User{Org: "acme", ID: "u2", UserName: "Γιώργος@example.gr", Active: true}); err != nil {
		t.Errorf("two users to Roster, one to ICU's lower(): %v", err)
	}
	must(s.CreateUser(ctx, identitystore.User{Org: "acme", ID: "u3", UserName: "İlkay@example.com", Active: true}))
	if err := s.CreateUser(ctx, identitystore.User{Org: "acme", ID: "u4", UserName: "ilkay@example.com", Active: true}); !errors.Is(err, identitystore.ErrConflict) {
		t.Errorf("one user to Roster, two to ICU's lower(): %v, want a conflict", err)
	}
}

// releasedMigrations pins the PostgreSQL schema: every released migration with the checksum
// recorded in databases it was applied to. Add a line for a new migration; never change one.
// An edited migration makes Roster refuse every database it was applied to (and this test
// fail first). Version 5 is the current schema version.
var releasedMigrations = []string{
	"1 0001_init.sql 69cd0db85299614eed343bc6fe15ea4e3dd1759b72895feab4e95c297abb395a",
	"2 0002_user_name_folded.sql ebd0bd8e09f47342015d23a49c5a57c7e40b3c36c1e4bbc2c47a3f245ea600d2",
	"3 0003_user_name_folded_key.sql dd0ed0625c5fccadaf51362c2db6a9763fe527bd1ec8a79a9d39a103e4692f40",
	"4 0004_migration_checksums.sql b0c1d67cd8ff9af1a7b770dc76ed966bd5c34979dfd110b0d08e3320445c560e",
	"5 0005_extensions.sql d644c8d48a2aebf2576df0345f2a14981d5a4413770266761b6575c06b05dea2",
}

// recordedMigrations lists roster_schema_migrations as "version name checksum" lines.
func recordedMigrations(t *testing.T, url string) []string {
	t.Helper()
	rows, _ := psql(t, url).Query(t.Context(),
		`SELECT version || ' ' || name || ' ' || checksum FROM roster_schema_migrations ORDER BY version`)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestSchemaVersionAndChecksumsArePinned(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	open(t, url).Close()
	if got := recordedMigrations(t, url); !slices.Equal(got, releasedMigrations) {
		t.Errorf("a new database records\n%s\nwant\n%s\n(a released migration was edited, or a new one is not listed here)",
			strings.Join(got, "\n"), strings.Join(releasedMigrations, "\n"))
	}
}

// TestUpgradeRecordsChecksumsOfEarlierMigrations: a database migrated before checksums
// existed gets the checksums of its earlier migrations from the embedded files.
func TestUpgradeRecordsChecksumsOfEarlierMigrations(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	version1(t, url, map[string]string{"u1": "ada@example.com"})
	open(t, url).Close()
	if got := recordedMigrations(t, url); !slices.Equal(got, releasedMigrations) {
		t.Errorf("after the upgrade of a version-1 database:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(releasedMigrations, "\n"))
	}
}

// TestEditedMigrationIsRefused: a database whose applied migration has another checksum than
// this Roster's file (as when the file was edited after release) is not opened, the error
// names the migration, and nothing is changed.
func TestEditedMigrationIsRefused(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	open(t, url).Close()
	const applied = "0000000000000000000000000000000000000000000000000000000000000002"
	conn := psql(t, url)
	exec(t, conn, `UPDATE roster_schema_migrations SET checksum = $1 WHERE version = 2`, applied)
	exec(t, conn, `DELETE FROM roster_schema_migrations WHERE version = 3`) // pending: must not be applied either
	s, err := postgres.Open(t.Context(), url)
	if err == nil {
		s.Close()
		t.Fatal("Open used a database whose migration 0002 was applied from another file")
	}
	if !strings.Contains(err.Error(), "migration 0002_user_name_folded.sql was applied with checksum "+applied) {
		t.Errorf("Open: %v, want an error naming migration 0002_user_name_folded.sql and its checksum", err)
	}
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM roster_schema_migrations WHERE version = 3`).Scan(&n); err != nil || n != 0 {
		t.Errorf("migration 3 recorded %d times (%v) after the refusal, want 0: nothing may change", n, err)
	}
}
