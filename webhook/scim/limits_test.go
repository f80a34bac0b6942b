package scim_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestSearchBodyLimit: a SearchRequest is a filter and a few attributes; every .search route
// refuses a body over the user limit (1 MiB) with a SCIM 413, also under /Groups, whose
// other routes take bodies up to 32 MiB.
func TestSearchBodyLimit(t *testing.T) {
	c, _ := newOrgClient(t)
	// Valid JSON: the size is whitespace, so only the body limit can refuse it.
	huge := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],` + strings.Repeat(" ", 2<<20) +
		`"filter":"displayName eq \"none\""}`
	for _, path := range []string{"/.search", "/Users/.search", "/Groups/.search"} {
		c.Do(t, http.MethodPost, path, huge).ExpectError(t, http.StatusRequestEntityTooLarge, "")
	}
	// A search of ordinary size still works on the moved route.
	c.Do(t, http.MethodPost, "/Groups/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"displayName eq \"none\""}`).
		Expect(t, http.StatusOK)
}
