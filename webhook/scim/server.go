// Package scim is Roster's SCIM 2.0 service provider (RFC 7643/7644): a Gin server mounted at
// /scim/v2/<org> that stores Users and Groups as OrgUser and OrgTeam objects. It runs on every
// replica and keeps to HTTP: routing, middleware, limits, query parsing, rendering and thin
// handlers; users and teams are read and written by internal/directory, which owns their
// invariants across replicas.
package scim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/directory"
)

// Options configures a Server.
type Options struct {
	// Addr is the listen address, e.g. ":8080".
	Addr string
	// Client reads organizations and token Secrets from the manager's cache.
	Client client.Client
	// TokenNamespace is Roster's namespace, where the token Secrets are (internal/token).
	TokenNamespace string
	// Directory reads and writes users and teams.
	Directory *directory.Directory
	// Log receives request and audit logs.
	Log logr.Logger
	// Recorder records events on the objects a request changed (e.g. a userName change an
	// organization ignores); nil records none.
	Recorder record.EventRecorder
	// ExternalURL, when set, is the scheme://host[:port] used in meta.location; otherwise it is
	// taken from the request (honouring X-Forwarded-* from trusted proxies).
	ExternalURL string
	// TrustedProxies are the addresses or CIDRs whose X-Forwarded-For/Proto headers are
	// believed: the client address in logs is X-Forwarded-For's nearest untrusted hop only when
	// the request comes from one of them, else the peer's address.
	TrustedProxies []string
	// MaxUserBodyBytes and MaxGroupBodyBytes bound request bodies (413 beyond).
	MaxUserBodyBytes  int64
	MaxGroupBodyBytes int64
	// MaxBulkOperations and MaxBulkBodyBytes bound a /Bulk request (413 beyond); both are
	// advertised in /ServiceProviderConfig. Each operation's data is bounded again by its
	// route's limit.
	MaxBulkOperations int
	MaxBulkBodyBytes  int64
	// RateLimit is the sustained requests/s allowed per organization (0 disables the limit);
	// RateBurst the requests allowed at once. Beyond them: 429 with Retry-After.
	RateLimit float64
	RateBurst int
	// Now returns the current time; tests may replace it.
	Now func() time.Time
	// ActivityInterval is how often the organizations' status.lastRequestTime is written
	// (0: DefaultActivityInterval; negative: never).
	ActivityInterval time.Duration

	// DrainDelay is how long the server keeps serving once shutdown begins, with /readyz
	// failing (ReadyzCheck), so that endpoints, kube-proxy and the ingress stop sending it
	// requests before its listener closes (0: close at once).
	DrainDelay time.Duration
	// ShutdownTimeout bounds how long requests in flight when the listener closes may still
	// run (0: DefaultShutdownTimeout). Those still running then are cancelled and answered
	// 503 with Retry-After, never cut off.
	ShutdownTimeout time.Duration
	// Commits, when set, is work that requests wait on but that runs apart from them (the
	// membership store's group commits). Shutdown waits for it while requests finish, and
	// aborts it where it cuts the requests still running at ShutdownTimeout.
	Commits Commits
	// Serves, when set, tells the organizations this replica serves (internal/shard): any
	// other is answered exactly like an organization that does not exist.
	Serves func(*rosterv1.Organization) bool
	// Organizations, when set, reads every Organization through the index.OrgNamespace index
	// for the shared-namespace check (nil: Client). A shard's Client holds its own only, and
	// the check must see another shard's Organization naming the same namespace.
	Organizations client.Reader
}

// Commits is work in flight that shutdown waits for and cuts (membership.Store).
type Commits interface {
	// Wait returns once nothing is in flight, or with an error when ctx ends first. New
	// work may start after it returned nil.
	Wait(ctx context.Context) error
	// Abort cancels what is in flight and makes new work fail at once with
	// membership.ErrShuttingDown; its cleanup ends within membership.AbortCleanup.
	Abort()
}

// Defaults for Options.
const (
	DefaultMaxUserBodyBytes  = 1 << 20  // 1 MiB: a user is a few KiB.
	DefaultMaxGroupBodyBytes = 32 << 20 // 32 MiB: a PUT of a 100,000-member group is ~8 MiB.
	DefaultShutdownTimeout   = 15 * time.Second
)

// writeTimeout bounds a request from its headers to the end of its response: a response
// written later is lost, which is why a bulk request stops starting operations well before it
// (bulkTimeBudget).
const writeTimeout = 60 * time.Second

// Server is the SCIM server. It implements manager.Runnable.
type Server struct {
	opts     Options
	dir      *directory.Directory
	limiters *orgLimiters
	trusted  []*net.IPNet
	handler  http.Handler
	// ready is closed once the server listens; addr is then the address it listens on.
	ready chan struct{}
	addr  string
	// draining is set once shutdown begins: /readyz fails and responses close their
	// connections (shutdown.go).
	draining atomic.Bool
	// activity feeds the organizations' status.lastRequestTime (activity.go).
	activity activity
	// memberBudget is the most member refs of a /Groups list page (0: defaultMemberBudget);
	// tests lower it.
	memberBudget int
	// bulkBudget is how long a bulk request runs operations (0: bulkTimeBudget); tests lower it.
	bulkBudget time.Duration
	// unknown remembers undeclared schema URNs already logged (extensions.go).
	unknown unknownURNs
}

var (
	_ manager.Runnable               = (*Server)(nil)
	_ manager.LeaderElectionRunnable = (*Server)(nil)
)

// New returns a SCIM server.
func New(opts Options) (*Server, error) {
	if opts.Client == nil || opts.Directory == nil {
		return nil, errors.New("scim: Client and Directory are required")
	}
	if opts.MaxUserBodyBytes <= 0 {
		opts.MaxUserBodyBytes = DefaultMaxUserBodyBytes
	}
	if opts.MaxGroupBodyBytes <= 0 {
		opts.MaxGroupBodyBytes = DefaultMaxGroupBodyBytes
	}
	if opts.MaxBulkOperations <= 0 {
		opts.MaxBulkOperations = DefaultMaxBulkOperations
	}
	if opts.MaxBulkBodyBytes <= 0 {
		opts.MaxBulkBodyBytes = DefaultMaxBulkBodyBytes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, dir: opts.Directory, ready: make(chan struct{})}
	s.limiters = newOrgLimiters(opts.RateLimit, opts.RateBurst)
	trusted, err := parseProxies(opts.TrustedProxies)
	if err != nil {
		return nil, err
	}
	s.trusted = trusted
	h, err := s.routes()
	if err != nil {
		return nil, err
	}
	s.handler = h
	return s, nil
}

// Handler returns the HTTP handler, for embedding in another server or tests.
func (s *Server) Handler() http.Handler { return s.handler }

// Addr is the address the server listens on; valid once Ready is closed.
func (s *Server) Addr() string {
	<-s.ready
	return s.addr
}

// NeedLeaderElection is false: every replica serves SCIM.
func (s *Server) NeedLeaderElection() bool { return false }

// Ready is closed once the server accepts connections.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Start serves until ctx is done, then shuts down gracefully (shutdown.go). The manager starts
// it after the cache has synced; it then waits until the ordered index has applied the
// cache's initial lists too (its handlers run apart from the cache's sync), so the first
// request already reads a complete cache and a complete index.
func (s *Server) Start(ctx context.Context) error {
	if err := wait.PollUntilContextCancel(ctx, 10*time.Millisecond, true, func(context.Context) (bool, error) {
		return s.opts.Directory.IndexSynced(), nil
	}); err != nil {
		return fmt.Errorf("scim: waiting for the ordered index: %w", err)
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("scim: listen on %s: %w", s.opts.Addr, err)
	}
	// Requests run under base, not the connection's context alone, so that shutdown can cancel
	// the ones that outlast ShutdownTimeout and still answer them.
	base, cut := context.WithCancelCause(context.Background())
	defer cut(nil)
	srv := &http.Server{
		Handler:           s.closeWhenDraining(s.handler),
		BaseContext:       func(net.Listener) context.Context { return base },
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	s.addr = ln.Addr().String()
	s.opts.Log.Info("serving SCIM", "addr", s.addr)
	close(s.ready)
	if every := s.opts.ActivityInterval; every >= 0 {
		if every == 0 {
			every = DefaultActivityInterval
		}
		// Runs until Start returns (shutdown or a listener error), then flushes once.
		actx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		defer func() { <-done }()
		defer stop()
		go func() { defer close(done); s.recordActivity(actx, every) }()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return s.shutdown(srv, errc, cut)
	}
}

// routes builds the Gin engine: explicit middleware, one route group per org.
func (s *Server) routes() (http.Handler, error) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	if err := r.SetTrustedProxies(s.opts.TrustedProxies); err != nil {
		return nil, fmt.Errorf("scim: trusted proxies: %w", err)
	}
	r.Use(arrived(), s.requestID(), s.recovery(), s.requestLog(), s.observe())
	r.NoRoute(func(c *gin.Context) { writeError(c, errNotFoundRoute) })
	r.NoMethod(methodNotAllowed)
	r.GET("/readyz", func(c *gin.Context) {
		if err := s.ReadyzCheck(c.Request); err != nil {
			c.String(http.StatusServiceUnavailable, err.Error())
			return
		}
		c.String(http.StatusOK, "ok")
	})
	r.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok") })

	// The rate limit comes before everything that reads or writes for the request: an
	// authenticated flood must not reach the apiserver unthrottled.
	org := r.Group("/scim/v2/:org", s.auditWrites(), s.authenticate(), s.rateLimit(), s.requireEnabled(), s.requireSCIMContentType())
	getRoute(org, "/ServiceProviderConfig", s.serviceProviderConfig)
	getRoute(org, "/Schemas", s.schemas)
	getRoute(org, "/Schemas/:id", s.schemaByID)
	getRoute(org, "/ResourceTypes", s.resourceTypes)
	getRoute(org, "/ResourceTypes/:id", s.resourceTypeByID)
	org.Any("/Me", func(c *gin.Context) { writeError(c, errMeNotImplemented) })
	// /Bulk has the org's middleware but the rate limit, which each of its operations meets
	// as a request of its own (bulk.go).
	r.POST("/scim/v2/:org/Bulk", s.auditWrites(), s.authenticate(), s.requireEnabled(), s.requireSCIMContentType(),
		s.limitBody(s.opts.MaxBulkBodyBytes), s.bulk)
	org.POST("/.search", s.limitBody(s.opts.MaxUserBodyBytes), search(s.searchAll))

	users := org.Group("/Users", s.limitBody(s.opts.MaxUserBodyBytes))
	getRoute(users, "", s.listUsers)
	users.POST("/.search", search(s.listUsers))
	users.POST("", s.createUser)
	getRoute(users, "/:id", s.getUser)
	users.PUT("/:id", s.replaceUser)
	users.PATCH("/:id", s.patchUser)
	users.DELETE("/:id", s.deleteUser)

	// A search body is a filter and a few attributes: it gets the small limit, not the
	// group limit that a 100,000-member PUT needs.
	org.POST("/Groups/.search", s.limitBody(s.opts.MaxUserBodyBytes), search(s.listGroups))
	groups := org.Group("/Groups", s.limitBody(s.opts.MaxGroupBodyBytes))
	s.groupRoutes(groups)
	return canonicalEndpoints(r), nil
}
