package scim

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/rosterhq/roster/internal/directory"
	"github.com/rosterhq/roster/internal/scim/document"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

var errPreconditionFailed = scimerror.New(http.StatusPreconditionFailed, "", "the resource has changed since the version given in If-Match")

// notModified answers 304 when If-None-Match names the resource's current version.
func notModified(c *gin.Context, version string) bool {
	inm := c.GetHeader("If-None-Match")
	if inm == "" || !directory.Precondition(document.ParseETags(inm)).Allows(version) {
		return false
	}
	c.Header("ETag", document.ETag(version))
	c.Status(http.StatusNotModified)
	c.Abort()
	return true
}

// ifMatch is the request's If-Match precondition (none when the header is absent).
func ifMatch(c *gin.Context) directory.Precondition {
	return document.ParseETags(c.GetHeader("If-Match"))
}

// userErr and groupErr map the directory's errors to SCIM errors, once for every handler;
// other errors (SCIM errors from PATCH application, apiserver errors) pass through.
func userErr(err error, id string) error  { return directoryErr(err, "User", id) }
func groupErr(err error, id string) error { return directoryErr(err, "Group", id) }

func directoryErr(err error, kind, id string) error {
	var taken *directory.NameTakenError
	var deleting *directory.BeingDeletedError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, directory.ErrNotFound):
		return scimerror.NotFound("%s %q not found", kind, id)
	case errors.Is(err, directory.ErrPreconditionFailed):
		return errPreconditionFailed
	case errors.Is(err, directory.ErrContention):
		return scimerror.New(http.StatusServiceUnavailable, "", "the %s is being changed by many writers at once; retry shortly", kind)
	case errors.As(err, &taken):
		return scimerror.Conflict("%s", taken.Detail)
	case errors.As(err, &deleting):
		return scimerror.New(http.StatusServiceUnavailable, "", "%s", deleting.Detail)
	}
	return err
}

// ignoreNotFound turns "not found" into no error: a lookup by id inside a filter that finds
// nothing is an empty result, not an error.
func ignoreNotFound(err error) error {
	if errors.Is(err, directory.ErrNotFound) {
		return nil
	}
	return err
}

// audit writes one structured line per SCIM write: who (user agent), what, on which resource,
// and the result. Bodies are never logged: they can carry passwords.
func (s *Server) audit(c *gin.Context, op, resource, id string, err error) {
	c.Set(auditedKey, true)
	kv := []any{
		"audit", true, "org", c.Param("org"), "operation", op, "resourceType", resource,
		"id", id, "userAgent", c.Request.UserAgent(),
	}
	if err != nil {
		se := toSCIMError(err)
		s.opts.Log.Info("SCIM write rejected", append(kv, "result", se.Status, "scimType", se.ScimType, "detail", se.Detail)...)
		return
	}
	s.opts.Log.Info("SCIM write", append(kv, "result", "ok")...)
}

const auditedKey = "roster.audited"

// auditRejected writes the audit line for writes refused before a handler could name the
// resource (bad JSON, a body over the limit, a malformed PATCH): every SCIM write gets one.
func (s *Server) auditRejected() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		switch c.Request.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			return
		}
		if _, done := c.Get(auditedKey); done || c.Writer.Status() < 400 {
			return
		}
		s.opts.Log.Info("SCIM write rejected", "audit", true, "org", c.Param("org"),
			"operation", strings.ToLower(c.Request.Method), "resourceType", resourceOf(c.FullPath()),
			"id", c.Param("id"), "userAgent", c.Request.UserAgent(), "result", c.Writer.Status())
	}
}
