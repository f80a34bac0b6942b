package scim

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
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

// audit names a write handler's operation and resource for the request's audit line, which
// auditWrites writes once the response is known. A handler calls it once it has read and
// parsed the request, right after its directory call.
func (s *Server) audit(c *gin.Context, op, resource, id string) {
	c.Set(auditKey, auditNote{op: op, resource: resource, id: id})
}

const auditKey = "roster.audit"

// auditDetailKey holds extra key/value pairs for the request's audit line (auditDetail).
const auditDetailKey = "roster.audit.detail"

// auditDetail adds key/value pairs to the request's audit line: what the request was refused
// or what was dropped from it, beyond its status (never request values: they may be secrets).
func auditDetail(c *gin.Context, kv ...any) {
	prev, _ := c.Get(auditDetailKey)
	extra, _ := prev.([]any)
	c.Set(auditDetailKey, append(extra, kv...))
}

type auditNote struct{ op, resource, id string }

// auditWrites writes one structured line per SCIM write (POST, PUT, PATCH, DELETE), accepted
// or refused — before authentication too, so failed attempts are on record: the request id,
// the client address (X-Forwarded-For believed only from a trusted proxy), the org, the
// operation, the resource type and id, the status, and the Kubernetes objects the request
// wrote, which the apiserver's audit log names too. Bodies and headers are never logged: they
// carry passwords and tokens. A refusal's detail is logged only when it came after the
// handler's audit call (the directory's and PATCH application's details are tested free of
// request secrets); one refused before that (bad JSON, a body over the limit, a bad token)
// logs the status and scimType only: a parser's detail may quote the body.
func (s *Server) auditWrites() gin.HandlerFunc {
	return func(c *gin.Context) {
		switch c.Request.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			c.Next()
			return
		}
		if strings.HasSuffix(c.FullPath(), "/.search") {
			c.Next() // a POST, but a read
			return
		}
		ctx, written := directory.TrackWrites(c.Request.Context())
		c.Request = c.Request.WithContext(ctx)
		c.Next()

		if !s.opts.Log.Enabled() {
			return // the audit line is info-level: nothing to build when info is off
		}
		note := auditNote{op: strings.ToLower(c.Request.Method), resource: resourceKind(c.FullPath()), id: c.Param("id")}
		v, noted := c.Get(auditKey)
		if noted {
			note = v.(auditNote)
		}
		status := c.Writer.Status()
		kv := []any{
			"audit", true, "requestId", requestIDOf(c), "clientIP", c.ClientIP(), "org", c.Param("org"),
			"operation", note.op, "resourceType", note.resource, "id", note.id,
			"userAgent", c.Request.UserAgent(), "status", status, "objects", written.Objects(),
		}
		if v, ok := c.Get(orgKey); ok {
			kv = append(kv, "namespace", v.(*rosterv1.Organization).Spec.Namespace)
		}
		if op, ok := bulkOpOf(c.Request.Context()); ok {
			kv = append(kv, "bulkRequestId", op.parent, "bulkOperation", op.index)
		}
		if v, ok := c.Get(auditDetailKey); ok {
			kv = append(kv, v.([]any)...)
		}
		if status < 400 {
			s.opts.Log.Info("SCIM write", kv...)
			return
		}
		if v, ok := c.Get(scimErrorKey); ok {
			se := v.(*scimerror.Error)
			if se.ScimType != "" {
				kv = append(kv, "scimType", se.ScimType)
			}
			if noted {
				kv = append(kv, "detail", se.Detail)
			}
		}
		s.opts.Log.Info("SCIM write rejected", kv...)
	}
}

// resourceKind maps a route to the SCIM resource type it writes: ".../Users/:id" → "User".
func resourceKind(route string) string {
	switch r := resourceOf(route); r {
	case "Users":
		return "User"
	case "Groups":
		return "Group"
	default:
		return r
	}
}
