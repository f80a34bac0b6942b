package scim

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// ContentType is the media type of every SCIM response (RFC 7644 §3.1).
const ContentType = "application/scim+json; charset=utf-8"

// scimErrorKey is where writeError leaves the *scimerror.Error it answered with.
const scimErrorKey = "roster.scimError"

// writeJSON renders v as a SCIM response with the given status.
func writeJSON(c *gin.Context, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Data(status, ContentType, body)
}

// writeError renders err with the SCIM error schema. It is the only place errors become HTTP
// responses: SCIM errors keep their status and scimType, apiserver errors are translated,
// anything else is a 500 whose detail does not leak internals.
func writeError(c *gin.Context, err error) {
	se := toSCIMError(err)
	if se.Status >= 500 && shuttingDown(c.Request.Context(), err) {
		// Cut at the shutdown timeout (shutdown.go): another replica answers the retry.
		se = scimerror.New(http.StatusServiceUnavailable, "", "this replica is shutting down; retry")
	} else if se.Status >= 500 && bulkCut(c.Request.Context(), err) {
		se = errBulkCut // a bulk operation cut at the bulk's time budget (bulk.go)
	}
	c.Set(scimErrorKey, se)
	if se.Status >= 500 {
		c.Error(err) //nolint:errcheck // recorded for the request log
	}
	if (se.Status == http.StatusServiceUnavailable || se.Status == http.StatusTooManyRequests) && c.Writer.Header().Get("Retry-After") == "" {
		c.Header("Retry-After", "5") // the rate limiter sets its own, exact delay
	}
	body, _ := json.Marshal(se.Body())
	c.Data(se.Status, ContentType, body)
	c.Abort()
}

// toSCIMError maps an error to the SCIM error a client should see.
func toSCIMError(err error) *scimerror.Error {
	if se, ok := scimerror.As(err); ok {
		return se
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		switch {
		case apierrors.IsAlreadyExists(err):
			return scimerror.Conflict("a resource with the same unique attribute already exists")
		case apierrors.IsConflict(err):
			// Conflicts are retried; one that outlasts the retries is contention, not a stale
			// If-Match (that is answered 412 where it is checked): ask the client to come back.
			return scimerror.New(http.StatusServiceUnavailable, "", "the resource is being changed by many writers at once; retry shortly")
		case apierrors.IsNotFound(err):
			return scimerror.NotFound("resource not found")
		case apierrors.IsInvalid(err):
			return scimerror.BadRequest(scimerror.InvalidValue, "%s", status.Status().Message)
		case apierrors.IsRequestEntityTooLargeError(err):
			return scimerror.New(http.StatusRequestEntityTooLarge, "", "the resource is too large")
		case apierrors.IsForbidden(err):
			return scimerror.New(http.StatusServiceUnavailable, "", "Roster is not allowed to write this resource; check its RBAC")
		}
	}
	if isUnavailable(err) {
		return scimerror.New(http.StatusServiceUnavailable, "", "the Kubernetes API server is unavailable; retry later")
	}
	return scimerror.New(http.StatusInternalServerError, "", "internal error")
}

// isUnavailable reports errors that mean the apiserver cannot be reached or is overloaded:
// clients should retry, so these are 503, never 500.
func isUnavailable(err error) bool {
	return apierrors.IsServiceUnavailable(err) || apierrors.IsTimeout(err) ||
		apierrors.IsServerTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsInternalError(err) || isConnError(err)
}
