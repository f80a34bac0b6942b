package scim_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestEndpointsMatchCaseInsensitively: /users, /GROUPS, /serviceproviderconfig answer as the
// canonical spellings do (conformance suites and some clients send them).
func TestEndpointsMatchCaseInsensitively(t *testing.T) {
	c, _ := newOrgClient(t)
	id := c.Do(t, http.MethodPost, "/users", `{"userName":"case@example.com"}`).Expect(t, http.StatusCreated).String("id")
	c.Do(t, http.MethodPost, "/GROUPS", `{"displayName":"Case"}`).Expect(t, http.StatusCreated)
	for path, total := range map[string]float64{"/users": 1, "/USERS": 1, "/groups": 1, "/Schemas": 3, "/schemas": 3, "/resourcetypes": 2} {
		if r := c.Do(t, http.MethodGet, path, nil).Expect(t, http.StatusOK); r.Get("totalResults") != total {
			t.Errorf("GET %s: %s", path, r.Raw)
		}
	}
	c.Do(t, http.MethodGet, "/serviceproviderconfig", nil).Expect(t, http.StatusOK)
	c.Do(t, http.MethodGet, "/resourceTypes/user", nil).Expect(t, http.StatusOK)
	if r := c.Do(t, http.MethodGet, "/uSeRs/"+id, nil).Expect(t, http.StatusOK); r.String("userName") != "case@example.com" {
		t.Fatalf("GET /uSeRs/{id}: %s", r.Raw)
	}
	if r := c.Do(t, http.MethodPost, "/users/.SEARCH", `{"schemas":[`+searchSchema+`]}`).Expect(t, http.StatusOK); r.Get("totalResults") != float64(1) {
		t.Fatalf("POST /users/.SEARCH: %s", r.Raw)
	}
	c.Do(t, http.MethodPatch, "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"x"}]}`).Expect(t, http.StatusOK)
	// Ids are not endpoints: their case is kept (a user id in upper case is another id).
	c.Do(t, http.MethodGet, "/Users/"+strings.ToUpper(id), nil).ExpectError(t, http.StatusNotFound, "")
	c.Do(t, http.MethodGet, "/me", nil).ExpectError(t, http.StatusNotImplemented, "")
}

// TestMethods: HEAD is GET without a body; OPTIONS is 204 with Allow; any other method a path
// does not support is a SCIM 405 with Allow, discovery endpoints included; /Me is 501 for
// every method; every unknown path under the base URL is a SCIM 404.
func TestMethods(t *testing.T) {
	c, _ := newOrgClient(t)
	id := c.Do(t, http.MethodPost, "/Users", `{"userName":"head@example.com"}`).Expect(t, http.StatusCreated).String("id")
	get := c.Do(t, http.MethodGet, "/Users/"+id, nil).Expect(t, http.StatusOK)
	head := c.Do(t, http.MethodHead, "/Users/"+id, nil).Expect(t, http.StatusOK)
	if len(head.Raw) != 0 || head.Header.Get("ETag") == "" || head.Header.Get("ETag") != get.Header.Get("ETag") ||
		head.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
		t.Fatalf("HEAD: headers %v, body %q; GET headers %v", head.Header, head.Raw, get.Header)
	}
	for _, p := range []string{"/Users", "/Groups", "/ServiceProviderConfig", "/Schemas", "/ResourceTypes/User"} {
		if r := c.Do(t, http.MethodHead, p, nil); r.Status != http.StatusOK || len(r.Raw) != 0 {
			t.Errorf("HEAD %s: %d %q", p, r.Status, r.Raw)
		}
	}
	c.Do(t, http.MethodHead, "/Users/u-00000000000000000000000000000000", nil).Expect(t, http.StatusNotFound)

	allow := func(r *http.Header) map[string]bool {
		out := map[string]bool{}
		for _, m := range strings.Split(r.Get("Allow"), ",") {
			out[strings.TrimSpace(m)] = true
		}
		return out
	}
	for path, want := range map[string][]string{
		"/Users":                 {"GET", "HEAD", "POST", "OPTIONS"},
		"/Users/" + id:           {"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"},
		"/Groups/g-1":            {"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"},
		"/ServiceProviderConfig": {"GET", "HEAD", "OPTIONS"},
		"/Schemas/x":             {"GET", "HEAD", "OPTIONS"},
	} {
		r := c.Do(t, http.MethodOptions, path, nil).Expect(t, http.StatusNoContent)
		got := allow(&r.Header)
		for _, m := range want {
			if !got[m] {
				t.Errorf("OPTIONS %s: Allow %q lacks %s", path, r.Header.Get("Allow"), m)
			}
		}
		if len(got) != len(want) {
			t.Errorf("OPTIONS %s: Allow %q, want %v", path, r.Header.Get("Allow"), want)
		}
	}
	for _, path := range []string{"/ServiceProviderConfig", "/Schemas", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", "/ResourceTypes", "/ResourceTypes/User"} {
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			r := c.Do(t, m, path, `{}`).ExpectError(t, http.StatusMethodNotAllowed, "")
			if got := allow(&r.Header); !got["GET"] || got["POST"] {
				t.Errorf("%s %s: Allow %q", m, path, r.Header.Get("Allow"))
			}
		}
	}
	r := c.Do(t, http.MethodDelete, "/Users", nil).ExpectError(t, http.StatusMethodNotAllowed, "")
	if got := allow(&r.Header); !got["GET"] || !got["POST"] || got["DELETE"] {
		t.Errorf("DELETE /Users: Allow %q", r.Header.Get("Allow"))
	}
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		c.Do(t, m, "/Me", `{}`).ExpectError(t, http.StatusNotImplemented, "")
	}
	for _, path := range []string{"/Nope", "/Users/" + id + "/extra", "/Schemas/a/b", "/Groups/x/members", "", "/", "/v2/Users"} {
		r := c.Do(t, http.MethodGet, path, nil).ExpectError(t, http.StatusNotFound, "")
		if r.String("status") != "404" {
			t.Errorf("GET %q: %s", path, r.Raw)
		}
	}
	// The user is untouched by all of the above.
	if r := c.Do(t, http.MethodGet, "/Users/"+id, nil).Expect(t, http.StatusOK); r.Header.Get("ETag") != get.Header.Get("ETag") {
		t.Fatalf("the user changed: %s", r.Raw)
	}
}
