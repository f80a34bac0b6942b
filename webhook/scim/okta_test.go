package scim_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/testutil/scimtest"
)

// TestOktaSpecTest runs the sequence of Okta's "SCIM 2.0 Spec Test", in order.
func TestOktaSpecTest(t *testing.T) {
	c, _ := newOrgClient(t)
	createUser(t, c, "seed@example.com") // the spec test needs at least one user

	// 1. List users with count=1&startIndex=1.
	r := c.Do(t, http.MethodGet, "/Users?count=1&startIndex=1", nil).Expect(t, http.StatusOK)
	if r.String("schemas.0") != "urn:ietf:params:scim:api:messages:2.0:ListResponse" {
		t.Fatalf("ListResponse schema: %s", r.Raw)
	}
	for _, f := range []string{"totalResults", "startIndex", "itemsPerPage"} {
		if _, ok := r.Get(f).(float64); !ok {
			t.Fatalf("%s must be a JSON number: %s", f, r.Raw)
		}
	}
	for _, f := range []string{"id", "name.familyName", "name.givenName", "userName", "active", "emails.0.value"} {
		if r.String("Resources.0."+f) == "" {
			t.Fatalf("Resources[0].%s empty: %s", f, r.Raw)
		}
	}
	id := r.String("Resources.0.id")
	// 2. GET that user by id.
	c.Do(t, http.MethodGet, "/Users/"+id, nil).Expect(t, http.StatusOK)
	// 3. Filter for an unknown userName: 200, totalResults 0.
	r = c.Do(t, http.MethodGet, "/Users?filter="+urlq(`userName eq "3f3c2d2a-unknown@example.com"`), nil).Expect(t, http.StatusOK)
	if r.Get("totalResults") != float64(0) {
		t.Fatalf("unknown user: %s", r.Raw)
	}
	// 4. GET an unknown id: 404 with detail, the Error schema and status "404".
	c.Do(t, http.MethodGet, "/Users/010101010101", nil).ExpectError(t, http.StatusNotFound, "")
	// 5. POST a realistic user.
	r = c.Do(t, http.MethodPost, "/Users", oktaUser("Spec.Tester@example.com")).Expect(t, http.StatusCreated)
	if r.String("userName") != "Spec.Tester@example.com" || r.String("name.givenName") != "Ada" || r.String("name.familyName") != "Lovelace" ||
		r.String("active") != "true" || r.String("schemas.0") != "urn:ietf:params:scim:schemas:core:2.0:User" {
		t.Fatalf("create echo: %s", r.Raw)
	}
	newID := r.String("id")
	// 6. GET it back.
	if g := c.Do(t, http.MethodGet, "/Users/"+newID, nil).Expect(t, http.StatusOK); g.String("userName") != "Spec.Tester@example.com" {
		t.Fatalf("read back: %s", g.Raw)
	}
	// 7. POST it again: 409.
	c.Do(t, http.MethodPost, "/Users", oktaUser("Spec.Tester@example.com")).ExpectError(t, http.StatusConflict, "uniqueness")
	// 8. Filter with the userName upper-cased: found, at once (a replica reads its own writes).
	r = c.Do(t, http.MethodGet, "/Users?filter="+urlq(`userName eq "SPEC.TESTER@EXAMPLE.COM"`), nil).Expect(t, http.StatusOK)
	if r.Get("totalResults") != float64(1) || r.String("Resources.0.id") != newID {
		t.Fatalf("case-insensitive userName: %s", r.Raw)
	}
	// 9. GET /Groups within 600 ms.
	start := time.Now()
	c.Do(t, http.MethodGet, "/Groups", nil).Expect(t, http.StatusOK)
	if d := time.Since(start); d > 600*time.Millisecond {
		t.Errorf("GET /Groups took %s; Okta allows 600ms", d)
	}
	// 10. Malformed Authorization header: 401 with detail, status "401", Error schema.
	bad := *c
	bad.Token = ""
	bad.Do(t, http.MethodGet, "/Users", nil, "Authorization: Bearer").ExpectError(t, http.StatusUnauthorized, "")
}

// TestOktaUserLifecycle follows IDP-REQUESTS.md's Okta user lifecycle: match, create, update
// by PUT and by PATCH, deactivate, reactivate, paging.
func TestOktaUserLifecycle(t *testing.T) {
	c, _ := newOrgClient(t)
	var _ *scimtest.Client = c
	r := c.Do(t, http.MethodGet, "/Users?filter="+urlq(`userName eq "life@example.com"`)+"&startIndex=1&count=100", nil).Expect(t, http.StatusOK)
	if r.Get("totalResults") != float64(0) || len(r.Get("Resources").([]any)) != 0 {
		t.Fatalf("no match must be an empty ListResponse: %s", r.Raw)
	}
	id := createUser(t, c, "life@example.com").String("id")
	got := c.Do(t, http.MethodGet, "/Users/"+id, nil).Expect(t, http.StatusOK)
	body := got.Body
	body["title"] = "Engineer"
	c.Do(t, http.MethodPut, "/Users/"+id, body).Expect(t, http.StatusOK)
	deactivate := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`
	if r := c.Do(t, http.MethodPatch, "/Users/"+id, deactivate).Expect(t, http.StatusOK); r.String("active") != "false" || r.String("title") != "Engineer" {
		t.Fatalf("deactivate: %s", r.Raw)
	}
	reactivate := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}`
	if r := c.Do(t, http.MethodPatch, "/Users/"+id, reactivate).Expect(t, http.StatusOK); r.String("active") != "true" {
		t.Fatalf("reactivate: %s", r.Raw)
	}
}
