// Package open opens an identity store chosen by URL. It is a package of its
// own, rather than a function of identitystore, because it imports every
// driver and the drivers import identitystore; callers that want one driver
// only can import it directly.
//
// Supported URLs:
//
//	sqlite:///var/lib/roster/roster.db   absolute path
//	sqlite://roster.db                   relative to the working directory
//	sqlite:roster.db                     the same
//	postgres://user:pass@host:5432/db?sslmode=require
//	postgresql://...                     the same as postgres://
//
// A postgres URL is handed to pgx as it is: libpq parameters work (e.g.
// host=/run/postgresql for a Unix socket), and other parameters are sent as
// server settings (e.g. search_path=roster to use that schema).
package open

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/rosterhq/roster/internal/identitystore"
	"github.com/rosterhq/roster/internal/identitystore/postgres"
	"github.com/rosterhq/roster/internal/identitystore/sqlite"
)

// Open opens the store the URL names and applies pending schema migrations.
// An error that identitystore.IsUnavailable recognises means the database
// cannot be reached now: retry later. Error messages never contain the
// URL's password.
func Open(ctx context.Context, rawURL string) (identitystore.Store, error) {
	return openWith(ctx, rawURL)
}

// OpenAsRoster is Open for Roster's own controllers: on PostgreSQL their membership writes are
// not announced back to them (postgres.AsRoster), only other writers' are.
func OpenAsRoster(ctx context.Context, rawURL string) (identitystore.Store, error) {
	return openWith(ctx, rawURL, postgres.AsRoster())
}

func openWith(ctx context.Context, rawURL string, pgOpts ...postgres.Option) (identitystore.Store, error) {
	driver, target, err := parse(rawURL)
	if err != nil {
		return nil, err
	}
	if driver == "sqlite" {
		return sqlite.Open(ctx, target)
	}
	return postgres.Open(ctx, target, pgOpts...)
}

// Validate checks a store URL without opening anything, so a command can refuse a bad flag at
// once while the database itself may still be down.
func Validate(rawURL string) error {
	_, _, err := parse(rawURL)
	return err
}

// parse returns the driver a URL selects and what to pass to it: the file
// path for sqlite, the URL itself for postgres.
func parse(rawURL string) (driver, target string, err error) {
	scheme, _, ok := strings.Cut(rawURL, ":")
	if !ok || scheme == "" {
		return "", "", fmt.Errorf("identitystore: %w: store URL has no scheme; want sqlite:///path/to/roster.db or postgres://host/db", identitystore.ErrInvalid)
	}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		return "postgres", rawURL, nil
	case "sqlite":
		path, err := sqlitePath(rawURL)
		return "sqlite", path, err
	}
	// Only the scheme is quoted: the rest may hold a password.
	return "", "", fmt.Errorf("identitystore: %w: unsupported store URL scheme %q; want sqlite, postgres or postgresql", identitystore.ErrInvalid, scheme)
}

func sqlitePath(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		return "", fmt.Errorf("identitystore: %w: sqlite URL: %w", identitystore.ErrInvalid, err)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("identitystore: %w: sqlite URL %q: only a path is supported", identitystore.ErrInvalid, u.Redacted())
	}
	path := u.Opaque // sqlite:roster.db
	if path == "" {
		// sqlite:///abs/roster.db has no host; in sqlite://roster.db and
		// sqlite://data/roster.db the first part of a relative path
		// parses as the host.
		path = u.Host + u.Path
	}
	if path == "" {
		return "", fmt.Errorf("identitystore: %w: sqlite URL %q has no file path", identitystore.ErrInvalid, rawURL)
	}
	return path, nil
}
