package scim

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/rosterhq/roster/internal/metrics"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// Defaults of the per-organization rate limit. Entra sends about 25 requests/s per tenant
// during a cycle and quarantines an app that answers with errors, 429 included, so the bound
// is far above normal traffic: it only stops a runaway client.
const (
	DefaultRateLimit = 200  // requests per second, sustained
	DefaultRateBurst = 2000 // requests at once
)

// orgLimiters holds one token bucket per organization.
type orgLimiters struct {
	mu       sync.Mutex
	limit    rate.Limit
	burst    int
	limiters map[string]*rate.Limiter
}

func newOrgLimiters(perSecond float64, burst int) *orgLimiters {
	if perSecond <= 0 {
		return nil
	}
	return &orgLimiters{limit: rate.Limit(perSecond), burst: max(burst, 1), limiters: map[string]*rate.Limiter{}}
}

func (l *orgLimiters) get(org string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.limiters[org]
	if !ok {
		lim = rate.NewLimiter(l.limit, l.burst)
		l.limiters[org] = lim
	}
	return lim
}

// rateLimit answers 429 with Retry-After when an authenticated organization exceeds its
// bound. It runs after authentication, so requests without a valid token cannot use up an
// organization's budget.
func (s *Server) rateLimit() gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.limiters == nil {
			c.Next()
			return
		}
		org := orgOf(c).Name
		r := s.limiters.get(org).Reserve()
		if delay := r.Delay(); delay > 0 {
			r.Cancel()
			metrics.SCIMRateLimited.WithLabelValues(org).Inc()
			c.Header("Retry-After", strconv.Itoa(int(math.Ceil(max(delay, time.Second).Seconds()))))
			writeError(c, scimerror.New(http.StatusTooManyRequests, "", "too many requests for organization %q; retry after the Retry-After delay", org))
			return
		}
		c.Next()
	}
}

// observe records scim_requests_total and scim_request_duration_seconds.
func (s *Server) observe() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		resource := resourceOf(c.FullPath())
		if resource == "" {
			return // health probes and unknown routes
		}
		org := ""
		if v, ok := c.Get(orgKey); ok {
			org = orgName(v)
		}
		metrics.SCIMRequests.WithLabelValues(org, resource, c.Request.Method, strconv.Itoa(c.Writer.Status())).Inc()
		metrics.SCIMRequestDuration.WithLabelValues(resource, c.Request.Method).Observe(time.Since(start).Seconds())
	}
}

// resourceOf maps a route to its SCIM resource: "/scim/v2/:org/Users/:id" → "Users".
func resourceOf(route string) string {
	rest, ok := strings.CutPrefix(route, "/scim/v2/:org/")
	if !ok {
		return ""
	}
	resource, _, _ := strings.Cut(rest, "/")
	return resource
}

func orgName(v any) string {
	if o, ok := v.(interface{ GetName() string }); ok {
		return o.GetName()
	}
	return fmt.Sprint(v)
}
