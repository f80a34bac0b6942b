// Package migrate reads a driver's embedded schema migrations.
//
// Migrations are files named NNNN_description.sql, numbered from 1 without
// gaps. Each driver applies the ones its roster_schema_migrations table does
// not list yet, in order, inside one transaction that also serialises
// concurrent Opens.
//
// A migration is never edited once released: a change is a new migration. The
// table records each applied migration's checksum (the SHA-256 of its file), and
// Open refuses a database where an applied migration's checksum differs from the
// embedded file's, naming the migration (see Verify).
package migrate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
)

// UserNameFoldedColumn is the migration that adds roster_users.user_name_folded. Its value is
// naming.Fold of user_name, which SQL cannot compute: each driver fills it for the existing
// rows right after applying this migration, before the next one makes it NOT NULL and unique.
const UserNameFoldedColumn = 2

// ChecksumColumn is the migration that adds roster_schema_migrations.checksum. Migrations
// applied before it have no checksum: each driver fills theirs from the embedded files in
// the transaction that applies it (Backfill), trusting that those files were not edited.
const ChecksumColumn = 4

// Migration is one numbered schema change.
type Migration struct {
	Version  int
	Name     string // file name, recorded next to the version
	SQL      string
	Checksum string // hex SHA-256 of the file, recorded next to the version
}

// Applied is one row of roster_schema_migrations. Checksum is empty for a row recorded
// before migration ChecksumColumn, until Backfill fills it.
type Applied struct {
	Version  int
	Name     string
	Checksum string
}

// Checksum returns the checksum Roster records for a migration's SQL: the hex SHA-256 of
// the file's bytes.
func Checksum(sql string) string {
	sum := sha256.Sum256([]byte(sql))
	return hex.EncodeToString(sum[:])
}

var fileName = regexp.MustCompile(`^([0-9]{4})_[a-z0-9_]+\.sql$`)

// Load returns the migrations in dir of fsys, sorted by version. It fails on
// a file that is not a migration, a duplicate version or a gap, so that a
// mistake shows up in the driver's tests rather than in production.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() {
			return nil, fmt.Errorf("migrations: %q is not named NNNN_description.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration: %w", err)
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(b), Checksum: Checksum(string(b))})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrations: %s: expected version %04d (numbered from 1 without gaps or duplicates)", m.Name, i+1)
		}
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("migrations: none in %q", dir)
	}
	return ms, nil
}

// Pending returns the migrations whose version is not in applied.
func Pending(all []Migration, applied map[int]bool) []Migration {
	var p []Migration
	for _, m := range all {
		if !applied[m.Version] {
			p = append(p, m)
		}
	}
	return p
}

// Verify checks that every applied migration this Roster knows is the one it embeds: an
// applied migration whose recorded checksum differs from its file's was edited after it was
// applied (or the database was migrated by a build with a different file), so the schema may
// not be what this Roster's statements expect. The error names the migration. Rows without a
// checksum (not backfilled yet) and versions this Roster does not know (from a newer one) are
// not checked.
func Verify(all []Migration, applied []Applied) error {
	byVersion := make(map[int]Migration, len(all))
	for _, m := range all {
		byVersion[m.Version] = m
	}
	for _, a := range applied {
		m, known := byVersion[a.Version]
		if !known || a.Checksum == "" || a.Checksum == m.Checksum {
			continue
		}
		return fmt.Errorf("migration %s was applied with checksum %s, but this Roster's %s has checksum %s: "+
			"a migration was edited after it was applied; restore the file as released "+
			"(a schema change is a new migration, never an edit)", a.Name, a.Checksum, m.Name, m.Checksum)
	}
	return nil
}

// Backfill returns the migrations among all that are applied without a checksum yet, whose
// checksums a driver then records from the embedded files.
func Backfill(all []Migration, applied []Applied) []Migration {
	missing := map[int]bool{}
	for _, a := range applied {
		if a.Checksum == "" {
			missing[a.Version] = true
		}
	}
	var b []Migration
	for _, m := range all {
		if missing[m.Version] {
			b = append(b, m)
		}
	}
	return b
}

// Versions returns the set of applied versions.
func Versions(applied []Applied) map[int]bool {
	v := make(map[int]bool, len(applied))
	for _, a := range applied {
		v[a.Version] = true
	}
	return v
}
