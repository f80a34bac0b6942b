// Package scimtest is a small SCIM HTTP client for tests: it sends exactly the bytes a test
// gives it, as Okta or Entra would, and decodes the answer.
package scimtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Client talks to one organization's SCIM base URL.
type Client struct {
	// Base is http://host:port/scim/v2/<org>.
	Base  string
	Token string
	// UserAgent defaults to Okta's.
	UserAgent string
	HTTP      *http.Client
}

// New returns a client for org on a server at baseURL (http://host:port).
func New(baseURL, org, token string) *Client {
	return &Client{Base: baseURL + "/scim/v2/" + org, Token: token, UserAgent: "Okta SCIM Client 1.0.0", HTTP: http.DefaultClient}
}

// Response is a decoded answer.
type Response struct {
	Status int
	Header http.Header
	Raw    []byte
	// Body is the JSON object answered, or nil.
	Body map[string]any
}

// Do sends a request. body may be nil, a string (sent verbatim) or any value (JSON-encoded).
// Extra headers come as "Name: value" strings.
func (c *Client) Do(t testing.TB, method, path string, body any, headers ...string) *Response {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encoding body: %v", err)
		}
		r = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, c.Base+path, r)
	if err != nil {
		t.Fatalf("building request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json; charset=utf-8")
	}
	req.Header.Set("Accept", "application/scim+json")
	req.Header.Set("User-Agent", c.UserAgent)
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := &Response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &out.Body)
	}
	return out
}

// Expect fails the test unless the status is want.
func (r *Response) Expect(t testing.TB, want int) *Response {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d; body: %s", r.Status, want, r.Raw)
	}
	return r
}

// String returns the string at a dotted path of the body ("name.givenName", "Resources.0.id").
func (r *Response) String(path string) string {
	v := r.Get(path)
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// Get returns the value at a dotted path of the body; numeric segments index arrays, and a
// schema URN key (which contains dots itself, "…:2.0:User") is one segment.
func (r *Response) Get(path string) any {
	var cur any = r.Body
	for path != "" {
		var seg string
		switch v := cur.(type) {
		case map[string]any:
			seg = longestKeyPrefix(v, path)
			cur = v[seg]
		case []any:
			seg, _, _ = strings.Cut(path, ".")
			var i int
			if _, err := fmt.Sscan(seg, &i); err != nil || i < 0 || i >= len(v) {
				return nil
			}
			cur = v[i]
		default:
			return nil
		}
		path = strings.TrimPrefix(strings.TrimPrefix(path, seg), ".")
	}
	return cur
}

// longestKeyPrefix returns the longest key of m that path starts with as a whole segment.
func longestKeyPrefix(m map[string]any, path string) string {
	best, _, _ := strings.Cut(path, ".")
	for k := range m {
		if len(k) > len(best) && strings.HasPrefix(path, k) && (len(path) == len(k) || path[len(k)] == '.') {
			best = k
		}
	}
	return best
}

// ExpectError checks the RFC 7644 error body: status as a string, the error schema, a detail,
// and the scimType when want is not empty.
func (r *Response) ExpectError(t testing.TB, status int, scimType string) *Response {
	t.Helper()
	r.Expect(t, status)
	if got := r.String("status"); got != fmt.Sprint(status) {
		t.Errorf("error body status = %q, want %q (a string)", got, fmt.Sprint(status))
	}
	if _, isString := r.Get("status").(string); !isString {
		t.Errorf("error body status must be a JSON string: %s", r.Raw)
	}
	if s := r.String("schemas.0"); s != "urn:ietf:params:scim:api:messages:2.0:Error" {
		t.Errorf("error body schema = %q: %s", s, r.Raw)
	}
	if r.String("detail") == "" {
		t.Errorf("error body without detail: %s", r.Raw)
	}
	if scimType != "" && r.String("scimType") != scimType {
		t.Errorf("scimType = %q, want %q; body %s", r.String("scimType"), scimType, r.Raw)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
		t.Errorf("Content-Type = %q", ct)
	}
	return r
}
