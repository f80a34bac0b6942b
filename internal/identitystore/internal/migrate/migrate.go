// Package migrate reads a driver's embedded schema migrations.
//
// Migrations are files named NNNN_description.sql, numbered from 1 without
// gaps. Each driver applies the ones its roster_schema_migrations table does
// not list yet, in order, inside one transaction that also serialises
// concurrent Opens.
package migrate

import (
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

// Migration is one numbered schema change.
type Migration struct {
	Version int
	Name    string // file name, recorded next to the version
	SQL     string
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
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(b)})
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
