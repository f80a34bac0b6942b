package scim

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/rosterhq/roster/internal/membership"
)

// errShuttingDown is the cause of the cancellation of requests still running at the shutdown
// timeout; they are answered 503 with Retry-After.
var errShuttingDown = membership.ErrShuttingDown

// answerGrace is how long requests cancelled at the shutdown timeout get to write their 503
// before their connections are closed (cancelled apiserver calls return at once), and the
// cut group commits to finish their cleanup (membership.AbortCleanup, less than this). It is
// inside the manager's stopMargin, which terminationGracePeriodSeconds covers.
const answerGrace = 3 * time.Second

// ReadyzCheck fails until the ordered index has applied the cache's initial lists, and once
// shutdown has begun, so that the pod leaves the Service's endpoints while it still serves (a
// healthz.Checker for the manager's /readyz; the SCIM server's own /readyz answers the same).
func (s *Server) ReadyzCheck(*http.Request) error {
	if s.draining.Load() {
		return errors.New("shutting down")
	}
	if !s.opts.Directory.IndexSynced() {
		return errors.New("ordered index not synced")
	}
	return nil
}

// closeWhenDraining asks clients to close their connection after each response once shutdown
// has begun: a keep-alive connection opened through a Service stays pinned to this pod after
// the pod has left the endpoints, so the client must reconnect to reach another replica.
func (s *Server) closeWhenDraining(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

// shutdown stops the server in the order a rollout needs: readiness fails at once; the server
// keeps serving for DrainDelay while endpoints and load balancers drop the pod; then the
// listener closes and requests in flight (and the group commits they wait on) get
// ShutdownTimeout to finish. Those still running then are cancelled and answered 503 with
// Retry-After: an identity provider retries a 503, whereas a connection cut after the request
// was sent leaves it not knowing whether the write happened.
func (s *Server) shutdown(srv *http.Server, errc <-chan error, cut context.CancelCauseFunc) error {
	s.draining.Store(true)
	log := s.opts.Log
	log.Info("shutting down: not ready; serving until the endpoints drain", "drainDelay", s.opts.DrainDelay)
	if s.opts.DrainDelay > 0 {
		t := time.NewTimer(s.opts.DrainDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case err := <-errc:
			return err
		}
	}
	timeout := s.opts.ShutdownTimeout
	if timeout <= 0 {
		timeout = DefaultShutdownTimeout
	}
	log.Info("closing the SCIM listener; finishing requests in flight", "timeout", timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	waited := make(chan error, 1)
	go func() {
		if s.opts.Commits == nil {
			waited <- nil
			return
		}
		waited <- s.opts.Commits.Wait(ctx)
	}()
	err := srv.Shutdown(ctx)
	// Prompt once Shutdown returned at the deadline: Wait runs under the same ctx.
	werr := <-waited
	late := errors.Is(err, context.DeadlineExceeded)
	if !late && werr == nil {
		log.Info("SCIM server stopped")
		return err
	}
	if late {
		log.Info("requests still running at the shutdown timeout: cancelling them, each is answered 503 with Retry-After", "timeout", timeout)
	} else {
		log.Info("membership changes still in flight at the shutdown timeout: cancelling them", "reason", werr.Error())
	}
	// Whatever Wait returned: nil said only that nothing was committing at one moment, and a
	// request still running may have started a commit since. Abort cuts it, and any commit
	// a request starts from now on fails at once.
	if s.opts.Commits != nil {
		s.opts.Commits.Abort()
	}
	cut(errShuttingDown)
	answered, cancelGrace := context.WithTimeout(context.Background(), answerGrace)
	defer cancelGrace()
	if late {
		// Shutdown again: the listener is closed already, so this only waits for the
		// cancelled requests to be answered.
		if err = srv.Shutdown(answered); err != nil {
			_ = srv.Close()
			err = errors.Join(errors.New("scim: requests still running after the shutdown timeout were cut off"), err)
		}
	}
	if s.opts.Commits != nil {
		// The cut commits' cleanup (watermarks, marks) is bounded to end inside the grace.
		if werr := s.opts.Commits.Wait(answered); werr != nil {
			log.Info("membership commits still cleaning up after the grace", "reason", werr.Error())
		}
	}
	if err == nil {
		log.Info("SCIM server stopped")
	}
	return err
}

// shuttingDown reports whether err, answered for a request with context ctx, comes from
// shutdown cutting the request or the commit it waited on.
func shuttingDown(ctx context.Context, err error) bool {
	return errors.Is(err, errShuttingDown) || errors.Is(context.Cause(ctx), errShuttingDown)
}
