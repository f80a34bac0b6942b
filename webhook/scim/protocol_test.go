package scim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
)

// TestEndpointsMatchCaseInsensitively: /users, /GROUPS, /serviceproviderconfig answer as the
// canonical spellings do (conformance suites and some clients send them).
func TestEndpointsMatchCaseInsensitively(t *testing.T) {
	c, _ := newOrgClient(t)
	id := c.Do(t, http.MethodPost, "/users", `{"userName":"case@example.com"}`).Expect(t, http.StatusCreated).String("id")
	c.Do(t, http.MethodPost, "/GROUPS", `{"displayName":"Case"}`).Expect(t, http.StatusCreated)
	for path, total := range map[string]float64{"/users": 1, "/USERS": 1, "/groups": 1, "/Schemas": 6, "/schemas": 6, "/resourcetypes": 2} {
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
		"/Bulk":                  {"POST", "OPTIONS"},
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

// TestDiscoveryValidatesAgainstItsSchemas: /Schemas describes the discovery resources too
// (RFC 7643 §8.7.2), so a schema-driven client can check /ServiceProviderConfig,
// /ResourceTypes and /Schemas themselves: every attribute they carry is defined, with the
// right plurality, in the schema their "schemas" names.
func TestDiscoveryValidatesAgainstItsSchemas(t *testing.T) {
	c, _ := newOrgClient(t)
	var docs []map[string]any
	docs = append(docs, c.Do(t, http.MethodGet, "/ServiceProviderConfig", nil).Expect(t, http.StatusOK).Body)
	for _, list := range []string{"/ResourceTypes", "/Schemas"} {
		for _, r := range c.Do(t, http.MethodGet, list, nil).Expect(t, http.StatusOK).Get("Resources").([]any) {
			docs = append(docs, r.(map[string]any))
		}
	}
	if len(docs) != 1+2+6 {
		t.Fatalf("%d discovery resources", len(docs))
	}
	for _, doc := range docs {
		urn := doc["schemas"].([]any)[0].(string)
		def := c.Do(t, http.MethodGet, "/Schemas/"+urn, nil).Expect(t, http.StatusOK).Body
		if def["id"] != urn {
			t.Fatalf("/Schemas/%s: %v", urn, def)
		}
		checkAgainst(t, urn, def["attributes"].([]any), doc)
	}
}

// checkAgainst fails for a key of doc that attrs does not define, or whose plurality differs.
// The Schema schema defines subAttributes one level deep (RFC 7643 §7: sub-attributes have no
// sub-attributes), so its own definition, which describes attributes.subAttributes, is the one
// document that nests deeper than it can describe: that level is not checked.
func checkAgainst(t *testing.T, where string, attrs []any, doc map[string]any) {
	t.Helper()
	for k, v := range doc {
		if k == "schemas" || k == "meta" || (k == "subAttributes" && strings.HasSuffix(where, ".subAttributes")) {
			continue
		}
		var def map[string]any
		for _, a := range attrs {
			if a := a.(map[string]any); strings.EqualFold(a["name"].(string), k) {
				def = a
			}
		}
		if def == nil {
			t.Errorf("%s: attribute %q is not in its schema", where, k)
			continue
		}
		values := []any{v}
		if list, isList := v.([]any); isList != def["multiValued"].(bool) {
			t.Errorf("%s: %q multiValued %v, value %v", where, k, def["multiValued"], v)
			continue
		} else if isList {
			values = list
		}
		subs, _ := def["subAttributes"].([]any)
		for _, x := range values {
			if m, ok := x.(map[string]any); ok {
				if def["type"] != "complex" {
					t.Errorf("%s: %q is an object but of type %v", where, k, def["type"])
					continue
				}
				checkAgainst(t, where+"."+k, subs, m)
			}
		}
	}
}

// fullUser sets every writable attribute Roster advertises, with primary: false and true.
const fullUser = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "userName": "round@example.com", "externalId": "ext-round", "active": false,
  "name": {"formatted": "Dr Ada B Lovelace Jr", "familyName": "Lovelace", "givenName": "Ada", "middleName": "B",
           "honorificPrefix": "Dr", "honorificSuffix": "Jr"},
  "displayName": "Ada", "nickName": "ada", "profileUrl": "https://example.com/ada", "title": "Countess",
  "userType": "Employee", "preferredLanguage": "en-GB", "locale": "en-GB", "timezone": "Europe/London",
  "emails": [{"value": "a@work.example", "type": "work", "primary": true, "display": "Work"}, {"value": "a@home.example", "type": "home", "primary": false}],
  "phoneNumbers": [{"value": "+44 20 0000 0000", "type": "work", "primary": false}, {"value": "+44 7000 000000", "type": "mobile"}],
  "ims": [{"value": "ada", "type": "xmpp", "primary": false}],
  "photos": [{"value": "https://example.com/ada.png", "type": "photo", "primary": false}, {"value": "https://example.com/t.png", "type": "thumbnail", "primary": true}],
  "addresses": [{"formatted": "1 St James's Sq", "streetAddress": "1 St James's Square", "locality": "London", "region": "Westminster",
                 "postalCode": "SW1Y 4JH", "country": "GB", "type": "home", "primary": false}],
  "entitlements": [{"value": "admin", "primary": false}],
  "roles": [{"value": "analyst", "type": "engine", "primary": false, "display": "Analyst"}],
  "x509Certificates": [{"value": "TUlJQ2VqQ0NBZU9n", "primary": false}],
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "1815", "costCenter": "4130", "organization": "Analytical",
    "division": "Engines", "department": "Difference", "manager": {"value": "u-babbage", "$ref": "https://example.com/Users/u-babbage"}}
}`

// TestEveryAttributeRoundTrips: what POST, PUT and PATCH store comes back exactly, false values
// included (a primary: false was once dropped), and absent stays absent.
func TestEveryAttributeRoundTrips(t *testing.T) {
	c, org := newOrgClient(t)
	var sent map[string]any
	if err := json.Unmarshal([]byte(fullUser), &sent); err != nil {
		t.Fatal(err)
	}
	same := func(step string, r *scimtest.Response) {
		t.Helper()
		for k, want := range sent {
			if !reflect.DeepEqual(r.Body[k], want) {
				t.Errorf("%s: %s = %v, want %v", step, k, r.Body[k], want)
			}
		}
	}
	created := c.Do(t, http.MethodPost, "/Users", fullUser).Expect(t, http.StatusCreated)
	id := created.String("id")
	same("POST response", created)
	same("GET after POST", c.Do(t, http.MethodGet, "/Users/"+id, nil).Expect(t, http.StatusOK))
	same("PUT response", c.Do(t, http.MethodPut, "/Users/"+id, fullUser).Expect(t, http.StatusOK))
	// kubectl shows false too: it is stored, not re-derived.
	var u rosterv1.OrgUser
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: org.Namespace, Name: id}, &u); err != nil {
		t.Fatal(err)
	}
	if p := u.Spec.PhoneNumbers[0].Primary; p == nil || *p {
		t.Fatalf("stored phoneNumbers[0].primary = %v, want false", p)
	}
	// A PATCH that sets one value primary clears it on the others, explicitly.
	c.Do(t, http.MethodPatch, "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"replace","path":"emails[type eq \"home\"].primary","value":true}]}`).Expect(t, http.StatusOK)
	g := c.Do(t, http.MethodGet, "/Users/"+id, nil).Expect(t, http.StatusOK)
	if g.Get("emails.0.primary") != false || g.Get("emails.1.primary") != true || g.Get("phoneNumbers.1.primary") != nil {
		t.Fatalf("after primary PATCH: %s", g.Raw)
	}
	// PUT without active leaves it absent (the user counts as active); POST without it stores true.
	g = c.Do(t, http.MethodPut, "/Users/"+id, `{"userName":"round@example.com"}`).Expect(t, http.StatusOK)
	if g.Get("active") != nil || g.Get("emails") != nil || g.Get("name") != nil {
		t.Fatalf("PUT of a bare user: %s", g.Raw)
	}
	if r := c.Do(t, http.MethodPost, "/Users", `{"userName":"bare@example.com"}`).Expect(t, http.StatusCreated); r.Get("active") != true {
		t.Fatalf("POST without active: %s", r.Raw)
	}
}
