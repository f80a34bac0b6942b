package sqlite

import (
	"context"
	"errors"
	"fmt"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/rosterhq/roster/internal/identitystore"
)

// wrap adds context to err and marks it with the identitystore sentinel that
// says what a caller can do about it. It returns nil for a nil err.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	msg := "identitystore: sqlite: " + fmt.Sprintf(format, args...)
	var e *msqlite.Error
	if !errors.As(err, &e) {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%s: %w: %w", msg, identitystore.ErrUnavailable, err)
		}
		return fmt.Errorf("%s: %w", msg, err)
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fmt.Errorf("%s: %w: %w", msg, identitystore.ErrConflict, err)
	}
	switch e.Code() & 0xff { // the primary result code
	case sqlite3.SQLITE_BUSY, // another process holds the lock past the busy timeout
		sqlite3.SQLITE_LOCKED,
		sqlite3.SQLITE_CANTOPEN, // file or directory missing or not accessible
		sqlite3.SQLITE_IOERR,
		sqlite3.SQLITE_FULL, // disk full
		sqlite3.SQLITE_READONLY:
		return fmt.Errorf("%s: %w: %w", msg, identitystore.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", msg, err)
}
