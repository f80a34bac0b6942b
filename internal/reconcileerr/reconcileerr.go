// Package reconcileerr holds the typed errors Roster's reconcilers return: each carries the
// reason that the object's condition and the Warning event report, and says whether a retry
// can help (after Flux source-controller's internal/error).
package reconcileerr

import (
	"errors"

	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Error is a failed reconcile that a retry may fix (the database comes back, a conflict
// goes away). The controller retries it with back-off.
type Error struct {
	// Reason is a CamelCase reason for conditions and events, e.g. "StoreUnavailable".
	Reason string
	// Err is the cause.
	Err error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Stalling is a failed reconcile that a retry cannot fix until the object (or the
// configuration) changes, e.g. data the store refuses. The controller does not retry it.
type Stalling struct {
	Reason string
	Err    error
}

func (e *Stalling) Error() string { return e.Err.Error() }
func (e *Stalling) Unwrap() error { return e.Err }

// New returns an Error with a reason; nil if err is nil.
func New(reason string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Reason: reason, Err: err}
}

// NewStalling returns a Stalling error with a reason; nil if err is nil.
func NewStalling(reason string, err error) error {
	if err == nil {
		return nil
	}
	return &Stalling{Reason: reason, Err: err}
}

// Reason returns the reason of the first typed error in err's chain, or fallback.
func Reason(err error, fallback string) string {
	var e *Error
	var s *Stalling
	switch {
	case errors.As(err, &e):
		return e.Reason
	case errors.As(err, &s):
		return s.Reason
	}
	return fallback
}

// IsStalling reports whether err (or one it wraps) is a Stalling error.
func IsStalling(err error) bool {
	var s *Stalling
	return errors.As(err, &s)
}

// Result turns err into what a Reconcile returns: Stalling errors become terminal (logged,
// not retried), every other error is returned as it is, for a retry with back-off.
func Result(err error) error {
	if err != nil && IsStalling(err) {
		return reconcile.TerminalError(err)
	}
	return err
}
