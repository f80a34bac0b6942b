package open

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/identitystore"
	"github.com/rosterhq/roster/internal/identitystore/postgres"
	"github.com/rosterhq/roster/internal/identitystore/sqlite"
	"github.com/rosterhq/roster/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestParse(t *testing.T) {
	tests := []struct {
		url, driver, target string
		wantErr             string
	}{
		{url: "sqlite:///var/lib/roster/roster.db", driver: "sqlite", target: "/var/lib/roster/roster.db"},
		{url: "sqlite://roster.db", driver: "sqlite", target: "roster.db"},
		{url: "sqlite://data/roster.db", driver: "sqlite", target: "data/roster.db"},
		{url: "sqlite://./roster.db", driver: "sqlite", target: "./roster.db"},
		{url: "sqlite:roster.db", driver: "sqlite", target: "roster.db"},
		{url: "SQLite:///x.db", driver: "sqlite", target: "/x.db"},
		{url: "sqlite:///my%20dir/x.db", driver: "sqlite", target: "/my dir/x.db"},
		{url: "postgres://roster:secret@db:5432/roster?sslmode=require", driver: "postgres",
			target: "postgres://roster:secret@db:5432/roster?sslmode=require"},
		{url: "postgresql:///roster?host=/run/postgresql", driver: "postgres",
			target: "postgresql:///roster?host=/run/postgresql"},
		{url: "sqlite://", wantErr: "no file path"},
		{url: "sqlite:///x.db?mode=ro", wantErr: "only a path"},
		{url: "mysql://root:secret@db/roster", wantErr: `unsupported store URL scheme "mysql"`},
		{url: "/var/lib/roster.db", wantErr: "no scheme"},
		{url: "", wantErr: "no scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			driver, target, err := parse(tt.url)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parse(%q) error = %v, want %q", tt.url, err, tt.wantErr)
				}
				if !errors.Is(err, identitystore.ErrInvalid) {
					t.Errorf("error %v does not wrap ErrInvalid", err)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil || driver != tt.driver || target != tt.target {
				t.Fatalf("parse(%q) = %q, %q, %v; want %q, %q", tt.url, driver, target, err, tt.driver, tt.target)
			}
		})
	}
}

func TestOpenSQLite(t *testing.T) {
	dir := t.TempDir()
	abs := filepath.Join(dir, "abs", "roster.db")
	s, err := Open(t.Context(), "sqlite://"+abs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*sqlite.Store); !ok {
		t.Fatalf("Open(sqlite://...) = %T, want *sqlite.Store", s)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("database file not created at %s: %v", abs, err)
	}

	t.Chdir(dir)
	rel, err := Open(t.Context(), "sqlite://rel/roster.db")
	if err != nil {
		t.Fatal(err)
	}
	defer rel.Close()
	if _, err := os.Stat(filepath.Join(dir, "rel", "roster.db")); err != nil {
		t.Fatalf("relative path not resolved against the working directory: %v", err)
	}
}

func TestOpenPostgres(t *testing.T) {
	url := pgtest.Shared(t).NewDatabase(t)
	for _, u := range []string{url, "postgresql" + strings.TrimPrefix(url, "postgres")} {
		s, err := Open(t.Context(), u)
		if err != nil {
			t.Fatalf("Open(%s): %v", u, err)
		}
		if _, ok := s.(*postgres.Store); !ok {
			t.Errorf("Open(%s) = %T, want *postgres.Store", u, s)
		}
		if err := s.Ping(t.Context()); err != nil {
			t.Error(err)
		}
		s.Close()
	}
}
