package scim

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/gin-gonic/gin"
)

// RequestIDHeader carries a request's id: taken from the request when a trusted proxy (the
// ingress) set a well-formed one, generated otherwise, and always set on the response.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds an id taken from a request. Ingress controllers send 32 hex digits
// (ingress-nginx's $req_id) or a UUID; 128 leaves room for any tracing scheme.
const maxRequestIDLen = 128

const requestIDKey = "roster.requestID"

// requestID gives every request an id, first in the chain, so that every response (a 401 or a
// 429 too) carries it and every log line about the request can name it.
func (s *Server) requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		// Only the ingress's id is believed: a client choosing its id could pass its log lines
		// off as another request's.
		id := c.GetHeader(RequestIDHeader)
		if op, ok := bulkOpOf(c.Request.Context()); ok {
			id = bulkRequestID(op) // an operation of a bulk request (bulk.go)
		} else if !s.fromTrustedProxy(c) || !validRequestID(id) {
			id = newRequestID()
		}
		c.Set(requestIDKey, id)
		c.Header(RequestIDHeader, id)
		c.Next()
	}
}

// requestIDOf returns the request's id ("" outside the requestID middleware).
func requestIDOf(c *gin.Context) string { return c.GetString(requestIDKey) }

// validRequestID accepts 1 to maxRequestIDLen HTTP token characters (RFC 9110 §5.6.2): the
// id goes into logs verbatim, so anything else — spaces, quotes, control characters, non-ASCII
// — is replaced, never logged.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !isTokenChar(id[i]) {
			return false
		}
	}
	return true
}

func isTokenChar(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	switch b {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// newRequestID returns 16 random bytes in hex.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error (Go 1.24+)
	return hex.EncodeToString(b[:])
}
