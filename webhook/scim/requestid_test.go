package scim

import (
	"strings"
	"testing"
)

// TestValidRequestID: ids that ingresses and tracers send are kept; anything that could
// mislead a log reader (spaces, quotes, control characters, non-ASCII, unbounded length) is
// not.
func TestValidRequestID(t *testing.T) {
	for id, want := range map[string]bool{
		"5f0c2b1e9a7d4c3f8e6b2a1d0c9f8e7d":     true, // ingress-nginx $req_id
		"3f1a6c2e-9b8d-4e7f-a1c2-b3d4e5f6a7b8": true, // Envoy, a UUID
		"okta-7f3a2c.1~x_y":                    true,
		strings.Repeat("a", maxRequestIDLen):   true,
		"":                                     false,
		strings.Repeat("a", maxRequestIDLen+1): false,
		"two words":                            false,
		`quote"d`:                              false,
		"tab\there":                            false,
		"new\nline":                            false,
		"caf\u00e9":                            false,
		"a=b":                                  false,
		"a/b":                                  false,
	} {
		if got := validRequestID(id); got != want {
			t.Errorf("validRequestID(%q) = %v, want %v", id, got, want)
		}
	}
	if a, b := newRequestID(), newRequestID(); !validRequestID(a) || len(a) != 32 || a == b {
		t.Errorf("generated ids %q, %q: want two different valid 32-character ids", a, b)
	}
}
