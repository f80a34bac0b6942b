package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/scim/bulk"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// Defaults of the /Bulk limits advertised in /ServiceProviderConfig.
const (
	DefaultMaxBulkOperations = 1000
	DefaultMaxBulkBodyBytes  = 1 << 20 // 1 MiB, the user body limit: a bulk is not a group PUT.
)

// bulkTimeBudget is how long after its arrival (arrived: before its body was read) a bulk
// request runs operations. At the end of it the operation running is cut (its context
// ends with cause errBulkOutOfTime) and answered 503 — it may still be written, as at a
// shutdown cut — and the ones left are answered 503 without running, so that the response
// is written well within writeTimeout, which runs from the same moment; the identity provider
// retries exactly those. At ~130 user creates/s (docs/benchmarks.md) a 1,000-operation bulk
// takes a fraction of it; slow group commits (up to 30 s each) are what it guards against.
const bulkTimeBudget = writeTimeout * 3 / 4

// bulkResponseGrace is the least time a bulk response gets to be written after its last
// operation: should an operation return late despite its deadline, the connection's write
// deadline is moved to leave this much (never earlier than the server's own).
const bulkResponseGrace = writeTimeout - bulkTimeBudget

// maxOperationError bounds the error body kept for one operation's response entry.
const maxOperationError = 16 << 10

var errBulkOutOfTime = scimerror.New(http.StatusServiceUnavailable, "",
	"not run: the bulk request ran out of time before this operation; send it again")

// errBulkDeadline is the cause of the end of a bulk operation's context at the bulk's time
// budget; membership answers a change waiting for its commit at once (membership.ErrOutOfTime).
var errBulkDeadline = fmt.Errorf("%w: the bulk request's time budget ended", membership.ErrOutOfTime)

// errBulkCut is the answer of an operation cut at the bulk's time budget.
var errBulkCut = scimerror.New(http.StatusServiceUnavailable, "",
	"the bulk request ran out of time during this operation: it may have been applied or not; send it again")

// arrivedKey is where arrived leaves the time a request arrived.
const arrivedKey = "roster.arrived"

// arrived records when a request arrived, before anything reads its body: the server's
// write timeout runs from about then (net/http sets it once the headers are read).
func arrived() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Set(arrivedKey, time.Now())
		c.Next()
	}
}

// arrivalOf returns when the request of c arrived (now, if arrived did not run).
func arrivalOf(c *gin.Context) time.Time {
	if t, ok := c.Get(arrivedKey); ok {
		return t.(time.Time)
	}
	return time.Now()
}

// bulkCut reports whether a request's error comes from its bulk operation's time budget.
func bulkCut(ctx context.Context, err error) bool {
	return errors.Is(err, errBulkDeadline) || errors.Is(context.Cause(ctx), errBulkDeadline)
}

// bulkOpKey marks the context of a request that is one operation of a bulk request.
type bulkOpKey struct{}

// bulkOp names the bulk request an operation belongs to and its place in it.
type bulkOp struct {
	parent string
	index  int
}

// bulkOpOf returns the bulk operation a request context belongs to.
func bulkOpOf(ctx context.Context) (bulkOp, bool) {
	op, ok := ctx.Value(bulkOpKey{}).(bulkOp)
	return op, ok
}

// bulk serves POST /Bulk (RFC 7644 §3.7). Each operation is dispatched through the Gin engine
// as a request of its own — its method, its path under the org's base URL, its data as the
// body and its version as If-Match, with the outer request's headers, client address and
// context — and recorded into a buffer. So an operation takes exactly the code path of the
// single request: authentication, the rate limit (one token per operation), the SCIM switch,
// body limits, parsing, the userNameChanges policy, the directory call, the audit line, the
// request log and the metrics; a 503 at shutdown or a 429 is that operation's status. Its
// authentication is repeated: a SHA-256 and three cache reads, microseconds against the
// milliseconds of the write, and a token rotated out or a switch turned off mid-bulk stops
// the remaining operations as it would stop single requests. Its audit line carries
// requestId "<bulk request id>.<n>" and the bulk request's id.
//
// The envelope itself takes no rate-limit token (its operations do), so that a bulk arriving
// while the org is limited is answered 200 with each operation's 429, as the RFC's
// per-operation statuses intend; all it costs before its operations is parsing a body of at
// most maxPayloadSize, and it reaches the apiserver only through them.
func (s *Server) bulk(c *gin.Context) {
	body, err := readBody(c)
	if err != nil {
		writeError(c, err)
		return
	}
	req, err := bulk.Decode(body, s.opts.MaxBulkOperations)
	if err != nil {
		writeError(c, err)
		return
	}
	s.audit(c, "bulk", "Bulk", "")
	created := map[string]string{}
	results := make([]bulk.Result, 0, len(req.Operations))
	failed := 0
	budget := s.bulkBudget
	if budget <= 0 {
		budget = bulkTimeBudget
	}
	start := arrivalOf(c)
	end := start.Add(budget)
	// One deadline for every operation: the one running at the end of the budget is cut.
	ctx, cancel := context.WithDeadlineCause(c.Request.Context(), end, errBulkDeadline)
	defer cancel()
	for n, step := range bulk.Plan(req.Operations) {
		planErr := step.Err
		if planErr == nil && !time.Now().Before(end) {
			planErr = errBulkOutOfTime
		}
		res := s.runOperation(ctx, c, n+1, req.Operations[step.Index], planErr, created)
		results = append(results, res)
		if res.Failed() {
			failed++
			if req.FailOnErrors > 0 && failed >= req.FailOnErrors {
				break // the RFC: operations not run are not in the response
			}
		}
	}
	auditDetail(c, "operations", len(results), "failedOperations", failed, "requestedOperations", len(req.Operations))
	// A backstop for an operation that returned late: only ever later than the server's own
	// deadline (arrival + writeTimeout), and only for this response; single requests keep
	// theirs. A writer that cannot (ErrNotSupported) keeps the server's.
	if at := time.Now().Add(bulkResponseGrace); at.After(start.Add(writeTimeout)) {
		_ = http.NewResponseController(c.Writer).SetWriteDeadline(at)
	}
	writeJSON(c, http.StatusOK, bulk.Response(results))
}

// runOperation runs one operation (unless planErr refused it already) and returns its entry.
func (s *Server) runOperation(ctx context.Context, c *gin.Context, n int, op bulk.Operation, planErr *scimerror.Error, created map[string]string) bulk.Result {
	res := bulk.Result{Method: op.Method, BulkID: op.BulkID}
	if op.ID != "" && !strings.Contains(op.ID, bulk.RefPrefix) {
		res.Location = s.resourceURL(c, op.Endpoint, op.ID) // also when the operation does not run
	}
	fail := func(err error) bulk.Result {
		se := toSCIMError(err)
		res.Status = se.Status
		res.Response, _ = json.Marshal(se.Body())
		return res
	}
	if planErr != nil {
		return fail(planErr)
	}
	id, data, err := bulk.Resolve(op, created)
	if err != nil {
		return fail(err)
	}
	p := "/" + op.Endpoint
	if id != "" {
		p += "/" + id
		res.Location = s.resourceURL(c, op.Endpoint, id)
	}
	rec := s.dispatch(ctx, c, n, op.Method, p, data, op.Version)
	res.Status = rec.status
	res.Version = rec.header.Get("ETag")
	if loc := rec.header.Get("Location"); loc != "" {
		res.Location = loc
	}
	if rec.status >= 400 {
		res.Response = rec.body.Bytes()
		if !json.Valid(res.Response) { // cut at maxOperationError: keep the status, say so
			res.Response, _ = json.Marshal(scimerror.New(rec.status, "", "the operation's error body was too large to include").Body())
		}
		if op.Method == http.MethodPost {
			res.Location = "" // the RFC: no location for a failed POST
		}
		return res
	}
	if op.Method == http.MethodPost {
		// The created id is the last segment of Location (an id is a Kubernetes name).
		created[op.BulkID] = path.Base(res.Location)
	}
	return res
}

// dispatch serves one operation as a request to the engine and returns what it answered.
func (s *Server) dispatch(ctx context.Context, c *gin.Context, n int, method, p string, body []byte, version string) *opRecorder {
	outer := c.Request
	ctx = context.WithValue(ctx, bulkOpKey{}, bulkOp{parent: requestIDOf(c), index: n})
	r := outer.Clone(ctx)
	r.Method = method
	r.URL = &url.URL{Path: "/scim/v2/" + c.Param("org") + p}
	r.RequestURI = r.URL.RequestURI()
	for _, h := range []string{"If-Match", "If-None-Match", "Content-Length", "Content-Type", "Transfer-Encoding"} {
		r.Header.Del(h)
	}
	if version != "" {
		r.Header.Set("If-Match", version)
	}
	r.Body, r.ContentLength, r.GetBody = http.NoBody, 0, nil
	if body != nil {
		r.Body = readCloser{bytes.NewReader(body)}
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Type", "application/scim+json")
	}
	rec := &opRecorder{header: http.Header{}}
	s.handler.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// opRecorder is the response writer of one bulk operation. It keeps the headers, the status
// and an error's body; a success's body (a group can have 100,000 members) is dropped.
type opRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *opRecorder) Header() http.Header { return r.header }

func (r *opRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *opRecorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	if r.status >= 400 && r.body.Len() < maxOperationError {
		r.body.Write(b[:min(len(b), maxOperationError-r.body.Len())])
	}
	return len(b), nil
}

// bulkRequestID is the request id of the n-th operation of the bulk request parent.
func bulkRequestID(op bulkOp) string { return fmt.Sprintf("%s.%d", op.parent, op.index) }

// bulkConfig is /ServiceProviderConfig's "bulk".
func (s *Server) bulkConfig() map[string]any {
	return map[string]any{"supported": true, "maxOperations": s.opts.MaxBulkOperations, "maxPayloadSize": s.opts.MaxBulkBodyBytes}
}
