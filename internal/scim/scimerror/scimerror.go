// Package scimerror is the one SCIM error type of Roster (RFC 7644 §3.12). Every package that
// can reject SCIM input returns *Error; the HTTP layer renders it in one place.
package scimerror

import (
	"errors"
	"fmt"
	"net/http"
)

// Schema is the URN of the SCIM error message schema.
const Schema = "urn:ietf:params:scim:api:messages:2.0:Error"

// ScimType is the RFC 7644 §3.12 detail error keyword.
type ScimType string

// The scimType keywords of RFC 7644 table 9.
const (
	InvalidFilter ScimType = "invalidFilter"
	TooMany       ScimType = "tooMany"
	Uniqueness    ScimType = "uniqueness"
	Mutability    ScimType = "mutability"
	InvalidSyntax ScimType = "invalidSyntax"
	InvalidPath   ScimType = "invalidPath"
	NoTarget      ScimType = "noTarget"
	InvalidValue  ScimType = "invalidValue"
	InvalidVers   ScimType = "invalidVers"
	Sensitive     ScimType = "sensitive"
)

// The scimTypes of RFC 9865 (cursor pagination), all with status 400.
const (
	InvalidCursor ScimType = "invalidCursor"
	ExpiredCursor ScimType = "expiredCursor"
	InvalidCount  ScimType = "invalidCount"
)

// Error is a SCIM error: an HTTP status, an optional scimType and a human-readable detail.
type Error struct {
	Status   int
	ScimType ScimType
	Detail   string
}

func (e *Error) Error() string {
	if e.ScimType != "" {
		return fmt.Sprintf("%d %s: %s", e.Status, e.ScimType, e.Detail)
	}
	return fmt.Sprintf("%d: %s", e.Status, e.Detail)
}

// Body is the JSON error body. RFC 7644 makes status a string ("404"), which Okta's spec test
// checks.
type Body struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType ScimType `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
}

// Body returns the RFC 7644 JSON representation of e.
func (e *Error) Body() Body {
	return Body{Schemas: []string{Schema}, Status: fmt.Sprint(e.Status), ScimType: e.ScimType, Detail: e.Detail}
}

// New returns an *Error with a formatted detail.
func New(status int, scimType ScimType, format string, args ...any) *Error {
	return &Error{Status: status, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

// BadRequest returns a 400 error with the given scimType.
func BadRequest(scimType ScimType, format string, args ...any) *Error {
	return New(http.StatusBadRequest, scimType, format, args...)
}

// NotFound returns a 404 error.
func NotFound(format string, args ...any) *Error {
	return New(http.StatusNotFound, "", format, args...)
}

// Conflict returns a 409 uniqueness error.
func Conflict(format string, args ...any) *Error {
	return New(http.StatusConflict, Uniqueness, format, args...)
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}
