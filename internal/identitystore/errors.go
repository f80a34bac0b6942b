package identitystore

import "errors"

var (
	// ErrNotFound is returned (wrapped) by Observe and Update when the row
	// does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned (wrapped) when a write would break a uniqueness
	// rule of the schema, e.g. two users of one org with the same userName.
	// Retrying the same write cannot succeed until the other row changes.
	ErrConflict = errors.New("conflict")
	// ErrInvalid is returned (wrapped) for input the store refuses, such as
	// an empty org or id. Retrying cannot fix it.
	ErrInvalid = errors.New("invalid")
	// ErrUnavailable is returned (wrapped, next to the driver's own error)
	// when the database cannot be reached or refuses work for now: the
	// server is down, restarting, overloaded, or the file is locked.
	// Controllers report it in a condition and retry with back-off.
	ErrUnavailable = errors.New("identity store unavailable")
)

// IsNotFound reports whether err means the row does not exist.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsUnavailable reports whether err means the database is unreachable or
// temporarily refusing work, so that the operation is worth retrying later.
func IsUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }
