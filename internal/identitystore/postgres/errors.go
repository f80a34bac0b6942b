package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rosterhq/roster/internal/identitystore"
)

// wrap adds context to err and marks it with the identitystore sentinel that
// says what a caller can do about it. It returns nil for a nil err.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	msg := "identitystore: postgres: " + fmt.Sprintf(format, args...)
	switch {
	case isUniqueViolation(err):
		return fmt.Errorf("%s: %w: %w", msg, identitystore.ErrConflict, err)
	case unavailable(err):
		return fmt.Errorf("%s: %w: %w", msg, identitystore.ErrUnavailable, err)
	default:
		return fmt.Errorf("%s: %w", msg, err)
	}
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// unavailable reports whether err means the server cannot be reached or
// refuses work for now, as opposed to a bad query, bad data, bad credentials
// or a caller that gave up.
func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return unavailableCode(pgErr.Code)
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) ||
		errors.As(err, &netErr) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) ||
		pgconn.Timeout(err)
}

// unavailableCode is true for SQLSTATEs of a server that is shutting down,
// starting up, or out of connections or resources.
func unavailableCode(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"): // connection_exception
		return true
	case strings.HasPrefix(code, "53"): // insufficient_resources, e.g. too_many_connections
		return true
	case code == "57P01", code == "57P02", code == "57P03": // admin/crash shutdown, cannot_connect_now
		return true
	}
	return false
}
