package scim

import (
	"context"
	"errors"
	"net"
	"syscall"
)

// isConnError reports a transport-level failure talking to the apiserver.
func isConnError(err error) bool {
	var netErr net.Error
	var opErr *net.OpError
	return errors.As(err, &netErr) || errors.As(err, &opErr) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, context.DeadlineExceeded)
}
