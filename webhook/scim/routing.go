package scim

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// endpoints are the canonical spellings of the endpoints under an organization's base URL.
var endpoints = func() map[string]string {
	m := map[string]string{}
	for _, e := range []string{"Users", "Groups", "Me", "Bulk", "ServiceProviderConfig", "Schemas", "ResourceTypes", ".search"} {
		m[strings.ToLower(e)] = e
	}
	return m
}()

// canonicalEndpoints matches endpoints case-insensitively, as other SCIM servers do (clients
// and conformance suites send /users and /serviceproviderconfig): it rewrites the segment
// after /scim/v2/<org>/ to its canonical spelling before Gin routes the request, and a
// ".search" after it. Organization names stay as they are: they are Kubernetes names, lower
// case already, and resource ids are left alone.
func canonicalEndpoints(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := canonicalPath(r.URL.Path); ok {
			u := *r.URL
			u.Path, u.RawPath = p, ""
			r2 := *r
			r2.URL = &u
			r = &r2
		}
		next.ServeHTTP(w, r)
	})
}

// canonicalPath returns path with its endpoint segments canonical, and whether that changed it.
func canonicalPath(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/scim/v2/")
	if !ok {
		return path, false
	}
	segs := strings.Split(rest, "/")
	changed := false
	for i := 1; i < len(segs) && i <= 2; i++ {
		canon, known := endpoints[strings.ToLower(segs[i])]
		if !known || (i == 2 && canon != ".search") {
			break
		}
		if canon != segs[i] {
			segs[i], changed = canon, true
		}
	}
	return "/scim/v2/" + strings.Join(segs, "/"), changed
}

// getRoute serves a GET route and answers HEAD on it the same way; net/http drops the body
// of a HEAD response, so the headers (ETag included) are exactly the GET's.
func getRoute(g gin.IRoutes, path string, h ...gin.HandlerFunc) {
	g.GET(path, h...)
	g.HEAD(path, h...)
}

// methodNotAllowed answers a method a path does not support: OPTIONS with 204, anything else
// with a SCIM 405. Gin has put the path's methods in the Allow header; OPTIONS joins them.
func methodNotAllowed(c *gin.Context) {
	allow := c.Writer.Header().Get("Allow")
	c.Header("Allow", allow+", OPTIONS")
	if c.Request.Method == http.MethodOptions {
		c.Status(http.StatusNoContent)
		c.Abort()
		return
	}
	writeError(c, errMethodNotAllowed)
}
