package scim

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

var errPreconditionFailed = scimerror.New(http.StatusPreconditionFailed, "", "the resource has changed since the version given in If-Match")

// writeResource writes one resource with its ETag header.
func (s *Server) writeResource(c *gin.Context, status int, obj metav1.Object, doc map[string]any) {
	c.Header("ETag", etag(obj))
	writeJSON(c, status, doc)
}

// notModified answers 304 when If-None-Match names the object's current version.
func notModified(c *gin.Context, obj metav1.Object) bool {
	inm := c.GetHeader("If-None-Match")
	if inm == "" || !etagMatches(inm, obj) {
		return false
	}
	c.Header("ETag", etag(obj))
	c.Status(http.StatusNotModified)
	c.Abort()
	return true
}

// checkIfMatch fails with 412 when If-Match is given and names another version.
func checkIfMatch(ifMatch string, obj metav1.Object) error {
	if ifMatch == "" || etagMatches(ifMatch, obj) {
		return nil
	}
	return errPreconditionFailed
}

// etagMatches compares a list of entity tags with the object's version; weak comparison
// (RFC 7232 §2.3.2), "*" matches any.
func etagMatches(header string, obj metav1.Object) bool {
	want := obj.GetResourceVersion()
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		t = strings.TrimPrefix(t, "W/")
		if strings.Trim(t, `"`) == want {
			return true
		}
	}
	return false
}

func equalSpec(a, b *rosterv1.OrgUser) bool {
	return equality.Semantic.DeepEqual(a.Spec, b.Spec)
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

// lookup reads an object of the org by name — its SCIM id — into obj, from the cache; when
// the cache has not seen it yet (created a moment ago through another replica), or fresh is
// set (after a write conflict, when the cache may lag), one GET by name asks the apiserver.
// A missing or terminating object is not found.
func (s *Server) lookup(ctx context.Context, org *rosterv1.Organization, name string, obj client.Object, fresh bool) (found bool, err error) {
	key := types.NamespacedName{Namespace: org.Spec.Namespace, Name: name}
	if !fresh {
		err = s.opts.Client.Get(ctx, key, obj)
	}
	if fresh || apierrors.IsNotFound(err) {
		err = s.opts.APIReader.Get(ctx, key, obj)
	}
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, err
	}
	return obj.GetDeletionTimestamp() == nil, nil
}
