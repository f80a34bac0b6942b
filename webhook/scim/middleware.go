package scim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/index"
	"github.com/rosterhq/roster/internal/scim/scimerror"
	"github.com/rosterhq/roster/internal/token"
)

var (
	errNotFoundRoute    = scimerror.NotFound("no such SCIM endpoint; the base URL is /scim/v2/<organization>")
	errMethodNotAllowed = scimerror.New(http.StatusMethodNotAllowed, "", "method not allowed on this endpoint")
	errMeNotImplemented = scimerror.New(http.StatusNotImplemented, "", "/Me is not supported: the identity provider is not a user")
	errUnauthorized     = scimerror.New(http.StatusUnauthorized, "", "a valid bearer token for this organization is required (Authorization: Bearer <token>)")
	errMalformedAuth    = scimerror.New(http.StatusUnauthorized, "", "malformed Authorization header: expected \"Bearer <token>\"")
)

// orgKey is where authenticate leaves the request's Organization.
const orgKey = "roster.org"

// recovery turns a panic into a SCIM 500 without leaking the panic value to the client.
func (s *Server) recovery() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				s.opts.Log.Error(fmt.Errorf("panic: %v", r), "SCIM handler panicked", "path", c.FullPath(), "method", c.Request.Method,
					"requestId", requestIDOf(c))
				writeError(c, errors.New("panic"))
			}
		}()
		c.Next()
	}
}

// requestLog writes one line per request, with its id and client address. Request bodies,
// headers and the query (a filter names users) are never logged: they carry passwords (Okta
// sends one) and bearer tokens.
func (s *Server) requestLog() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		failed := len(c.Errors) > 0
		if !failed && !s.opts.Log.V(1).Enabled() {
			return // the line is debug-level: build its fields only when someone reads them
		}
		kv := []any{
			"requestId", requestIDOf(c), "clientIP", c.ClientIP(),
			"method", c.Request.Method, "path", c.Request.URL.Path, "route", c.FullPath(), "org", c.Param("org"),
			"status", c.Writer.Status(), "duration", time.Since(start).String(),
			"userAgent", c.Request.UserAgent(),
		}
		if failed {
			s.opts.Log.Error(c.Errors.Last().Err, "SCIM request failed", kv...)
			return
		}
		s.opts.Log.V(1).Info("SCIM request", kv...)
	}
}

// authenticate checks the bearer token against the hash in the organization's token Secret,
// read from the cache (so a rotation reaches every replica through its watch within seconds).
// An unknown org answers exactly like a wrong token: org names are not probed this way.
func (s *Server) authenticate() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.GetHeader("Authorization")
		scheme, presented, ok := strings.Cut(h, " ")
		if h == "" {
			writeError(c, errUnauthorized)
			return
		}
		presented = strings.TrimSpace(presented)
		if !ok || !strings.EqualFold(scheme, "Bearer") || presented == "" || strings.ContainsAny(presented, " \t") {
			writeError(c, errMalformedAuth)
			return
		}
		ctx := c.Request.Context()
		var org rosterv1.Organization
		if err := s.opts.Client.Get(ctx, types.NamespacedName{Name: c.Param("org")}, &org); err != nil {
			if apierrors.IsNotFound(err) {
				writeError(c, errUnauthorized)
			} else {
				writeError(c, err)
			}
			return
		}
		if s.opts.Serves != nil && !s.opts.Serves(&org) {
			writeError(c, errUnauthorized) // another shard's: no hint that it exists
			return
		}
		var secret corev1.Secret
		if err := s.opts.Client.Get(ctx, token.SecretKey(s.opts.TokenNamespace, org.Name), &secret); err != nil && !apierrors.IsNotFound(err) {
			writeError(c, err)
			return
		}
		if !token.ForOrg(&secret, org.Name) || !token.Valid(&secret, presented, s.opts.Now()) {
			c.Header("WWW-Authenticate", `Bearer realm="roster"`)
			writeError(c, errUnauthorized)
			return
		}
		if err := s.ownsNamespace(ctx, &org); err != nil {
			writeError(c, err)
			return
		}
		c.Set(orgKey, &org)
		s.activity.note(org.Name, s.opts.Now())
		c.Next()
	}
}

// requireEnabled answers 403 while SCIM is disabled for the organization (spec.scim:
// Disabled), after authentication, so a caller without the token learns nothing new.
func (s *Server) requireEnabled() gin.HandlerFunc {
	return func(c *gin.Context) {
		// From the cache, like authentication: a replica refuses within its watch's lag of the
		// switch. What must not slip through that window is checked where it is written: a
		// membership change reads the team live in its fence and refuses a team the switch
		// released to manual management; a spec change is resourceVersion-checked against a
		// live read. (A live read of the Organization per write cost a third of the POST
		// throughput here, and still left a window between the check and the write.)
		if org := orgOf(c); org.SCIMDisabled() {
			writeError(c, scimerror.New(http.StatusForbidden, "", "SCIM is disabled for organization %q: an administrator set spec.scim: Disabled "+
				"on the Organization, and its teams are now managed by hand; turn provisioning off in the identity provider, "+
				"or ask the administrator to set spec.scim: Enabled", org.Name))
			return
		}
		c.Next()
	}
}

// orgOf returns the authenticated request's Organization.
func orgOf(c *gin.Context) *rosterv1.Organization {
	return c.MustGet(orgKey).(*rosterv1.Organization)
}

// requireSCIMContentType accepts application/scim+json and application/json bodies (Okta
// sends either, with or without a charset) and refuses anything else with 415.
func (s *Server) requireSCIMContentType() gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength == 0 || c.Request.Method == http.MethodGet || c.Request.Method == http.MethodDelete {
			c.Next()
			return
		}
		ct := c.GetHeader("Content-Type")
		if ct == "" {
			c.Next() // Lenient: some clients omit it; the body must still be JSON.
			return
		}
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/scim+json" && mt != "application/json") {
			writeError(c, scimerror.New(http.StatusUnsupportedMediaType, "", "unsupported Content-Type %q: use application/scim+json or application/json", ct))
			return
		}
		c.Next()
	}
}

// limitBody bounds the request body; readBody turns the overflow into 413.
func (s *Server) limitBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > n {
			writeError(c, tooLarge(n))
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		c.Next()
	}
}

// bodyProbe is how much of a body must arrive before its announced length is allocated.
const bodyProbe = 1 << 20

// readAnnounced reads r to its end: like io.ReadAll, but with a body announced as n bytes (n
// > 0; -1: unknown) read into one buffer of n bytes once the first bodyProbe of them arrived.
func readAnnounced(r io.Reader, n int64) ([]byte, error) {
	if n <= bodyProbe {
		return io.ReadAll(r)
	}
	first := bytes.NewBuffer(make([]byte, 0, bodyProbe+bytes.MinRead))
	if _, err := first.ReadFrom(io.LimitReader(r, bodyProbe)); err != nil || first.Len() < bodyProbe {
		return first.Bytes(), err // io.ReadAll's answer: a clean end is no error
	}
	buf := bytes.NewBuffer(make([]byte, 0, n+bytes.MinRead))
	buf.Write(first.Bytes())
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

func tooLarge(n int64) *scimerror.Error {
	return scimerror.New(http.StatusRequestEntityTooLarge, "", "request body exceeds the limit of %d bytes", n)
}

// readBody reads the whole (limited) request body. A large body is read into one buffer of
// its announced length (limitBody has refused a longer announcement) once its first MiB has
// arrived: io.ReadAll grows its buffer step by step, allocating twice the body (10 MB for a
// 5.6 MB PUT of 100,000 members), and allocating the announced length before any byte came
// would let a client pin 32 MiB per request by trickling its body.
func readBody(c *gin.Context) ([]byte, error) {
	b, err := readAnnounced(c.Request.Body, c.Request.ContentLength)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, tooLarge(mbe.Limit)
	}
	if err != nil {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "reading the request body: %v", err)
	}
	return b, nil
}

// ownsNamespace refuses to serve an organization whose namespace another Organization also
// names: every read and write is scoped by namespace, so a shared one would let one org's
// token reach the other's users. The Organization's Ready condition says the same. Every
// Organization is looked at, another shard's included (Options.Organizations).
func (s *Server) ownsNamespace(ctx context.Context, org *rosterv1.Organization) error {
	every := s.opts.Organizations
	if every == nil {
		every = s.opts.Client
	}
	orgs, err := index.OrgsUsingNamespace(ctx, every, org.Spec.Namespace)
	if err != nil {
		return err
	}
	for _, other := range orgs {
		if other.Name != org.Name {
			return scimerror.New(http.StatusServiceUnavailable, "", "organization %q is misconfigured: its namespace is also used by another organization; an administrator must give each organization its own namespace", org.Name)
		}
	}
	return nil
}
