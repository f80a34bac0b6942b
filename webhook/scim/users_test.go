package scim_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
)

// oktaUser is the body Okta sends to create a user, password included.
func oktaUser(userName string) string {
	return fmt.Sprintf(`{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
  "userName": %q,
  "name": {"givenName": "Ada", "familyName": "Lovelace"},
  "emails": [{"primary": true, "value": %q, "type": "work"}],
  "displayName": "Ada Lovelace",
  "locale": "en-US",
  "externalId": "00u1abcdEFGH",
  "groups": [],
  "password": "Sup3rSecret!pw",
  "active": true
}`, userName, userName)
}

// createUser creates a user; a list on the same replica shows it at once (read-your-writes:
// the list waits for the replica's cache to hold the replica's own writes).
func createUser(t *testing.T, c *scimtest.Client, userName string) *scimtest.Response {
	t.Helper()
	r := c.Do(t, http.MethodPost, "/Users", oktaUser(userName)).Expect(t, http.StatusCreated)
	if l := c.Do(t, http.MethodGet, "/Users?filter="+urlq(`userName eq "`+userName+`"`), nil); l.Get("totalResults") != float64(1) {
		t.Fatalf("a list right after the 201 does not show %s: %s", userName, l.Raw)
	}
	return r
}

// awaitListed waits until a filter on userName finds the user.
func awaitListed(t *testing.T, c *scimtest.Client, userName string) {
	t.Helper()
	eventually(t, 5*time.Second, func() bool {
		return c.Do(t, http.MethodGet, "/Users?filter="+urlq(`userName eq "`+userName+`"`), nil).Get("totalResults") == float64(1)
	}, "user %s never listed", userName)
}

func TestCreateUserReturnsFullUser(t *testing.T) {
	c, org := newOrgClient(t)
	r := createUser(t, c, "ada@example.com")
	id := r.String("id")
	for path, want := range map[string]string{
		"userName": "ada@example.com", "name.givenName": "Ada", "name.familyName": "Lovelace",
		"emails.0.value": "ada@example.com", "emails.0.type": "work", "displayName": "Ada Lovelace",
		"externalId": "00u1abcdEFGH", "active": "true", "schemas.0": "urn:ietf:params:scim:schemas:core:2.0:User",
		"meta.resourceType": "User", "meta.location": c.Base + "/Users/" + id,
	} {
		if got := r.String(path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if strings.Contains(string(r.Raw), "Sup3rSecret") || r.Get("password") != nil {
		t.Fatalf("password echoed: %s", r.Raw)
	}
	if r.Header.Get("Location") != c.Base+"/Users/"+id {
		t.Errorf("Location = %q", r.Header.Get("Location"))
	}
	if v := r.String("meta.version"); v == "" || v != r.Header.Get("ETag") || !strings.HasPrefix(v, `W/"`) {
		t.Errorf("meta.version %q, ETag %q", v, r.Header.Get("ETag"))
	}
	for _, f := range []string{"meta.created", "meta.lastModified"} {
		if _, err := time.Parse(time.RFC3339, r.String(f)); err != nil {
			t.Errorf("%s = %q is not a date: %v", f, r.String(f), err)
		}
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
		t.Errorf("Content-Type = %q", ct)
	}
	// The password never reaches the apiserver.
	var u rosterv1.OrgUser
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: org.Namespace, Name: id}, &u); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(fmt.Sprintf("%+v", u), "Sup3rSecret") {
		t.Fatal("password stored in the OrgUser")
	}
	if u.Spec.UserName != "ada@example.com" || u.Labels[rosterv1.OrgLabel] != org.Name {
		t.Errorf("stored user %+v", u)
	}
}

func TestCreateDuplicateUserName(t *testing.T) {
	c, _ := newOrgClient(t)
	createUser(t, c, "dup@example.com")
	c.Do(t, http.MethodPost, "/Users", oktaUser("dup@example.com")).ExpectError(t, http.StatusConflict, "uniqueness")
	c.Do(t, http.MethodPost, "/Users", oktaUser("DUP@Example.com")).ExpectError(t, http.StatusConflict, "uniqueness")
	r := c.Do(t, http.MethodGet, "/Users", nil).Expect(t, http.StatusOK)
	if r.Get("totalResults") != float64(1) {
		t.Fatalf("want exactly one user: %s", r.Raw)
	}
}

func TestFilterUsers(t *testing.T) {
	c, _ := newOrgClient(t)
	ada := createUser(t, c, "ada@example.com").String("id")
	bob := c.Do(t, http.MethodPost, "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob@example.com","externalId":"ext-bob","emails":[{"type":"work","value":"Bob@Work.example"}],"active":true}`).Expect(t, http.StatusCreated).String("id")
	cases := []struct {
		filter string
		want   []string
	}{
		{`userName eq "ada@example.com"`, []string{ada}},
		{`userName eq "ADA@EXAMPLE.COM"`, []string{ada}},
		{`UserName EQ "ada@example.com"`, []string{ada}},
		{`userName eq "nobody@example.com"`, nil},
		{`externalId eq "ext-bob"`, []string{bob}},
		{`externalId eq "EXT-BOB"`, nil}, // externalId is caseExact
		{`id eq "` + bob + `"`, []string{bob}},
		{`id eq "u-00000000000000000000000000000000"`, nil},
		{`emails[type eq "work"].value eq "bob@work.example"`, []string{bob}},
		{`emails[type eq "home"].value eq "bob@work.example"`, nil},
		{`userName eq "bob@example.com" and active eq true`, []string{bob}},
		{`userName eq "bob@example.com" and active eq false`, nil},
		{`userName sw "ada" or userName sw "bob"`, []string{ada, bob}},
		{`name.FamilyName eq "lovelace"`, []string{ada}},
		// Entra's unquoted values.
		{`externalId eq ext-bob`, []string{bob}},
		{`userName sw ADA`, []string{ada}},
		{`name.familyName eq Lovelace`, []string{ada}},
		{`meta.created gt 2015-10-10T14:38:21.86-07:00`, []string{ada, bob}},
		{`emails[type eq work].value eq bob@work.example`, []string{bob}},
	}
	for _, tc := range cases {
		t.Run(tc.filter, func(t *testing.T) {
			r := c.Do(t, http.MethodGet, "/Users?filter="+urlq(tc.filter)+"&startIndex=1&count=100", nil).Expect(t, http.StatusOK)
			if r.Get("totalResults") != float64(len(tc.want)) || r.Get("itemsPerPage") != float64(len(tc.want)) || r.Get("startIndex") != float64(1) {
				t.Fatalf("paging fields wrong for %d results: %s", len(tc.want), r.Raw)
			}
			if r.String("schemas.0") != "urn:ietf:params:scim:api:messages:2.0:ListResponse" {
				t.Fatalf("not a ListResponse: %s", r.Raw)
			}
			if res, ok := r.Get("Resources").([]any); !ok || len(res) != len(tc.want) {
				t.Fatalf("Resources must be a list of %d: %s", len(tc.want), r.Raw)
			}
			// Filters select; the order is the paging test's business.
			var got []string
			for i := range tc.want {
				got = append(got, r.String(fmt.Sprintf("Resources.%d.id", i)))
			}
			if fmt.Sprint(sortedIDs(got...)) != fmt.Sprint(sortedIDs(tc.want...)) {
				t.Errorf("ids %v, want %v", got, tc.want)
			}
		})
	}
	for _, bad := range []string{`userName eq`, `userName xx "a"`, `(userName eq "a"`, `emails[type eq "work"`, `"unterminated`,
		`userName eq and`, `title eq Senior Engineer`, `userName eq a"b"`, `externalId eq (x)`} {
		c.Do(t, http.MethodGet, "/Users?filter="+urlq(bad), nil).ExpectError(t, http.StatusBadRequest, "invalidFilter")
	}
}

func TestPagingIsStable(t *testing.T) {
	c, _ := newOrgClient(t)
	var want []string
	for i := range 7 {
		want = append(want, createUser(t, c, fmt.Sprintf("user%02d@example.com", i)).String("id"))
	}
	var got []string
	for start := 1; start <= 7; start += 3 {
		r := c.Do(t, http.MethodGet, fmt.Sprintf("/Users?startIndex=%d&count=3", start), nil).Expect(t, http.StatusOK)
		if r.Get("totalResults") != float64(7) || r.Get("startIndex") != float64(start) {
			t.Fatalf("page at %d: %s", start, r.Raw)
		}
		for _, res := range r.Get("Resources").([]any) {
			got = append(got, res.(map[string]any)["id"].(string))
		}
	}
	all := c.Do(t, http.MethodGet, "/Users", nil).Expect(t, http.StatusOK)
	var unpaged []string
	for _, res := range all.Get("Resources").([]any) {
		unpaged = append(unpaged, res.(map[string]any)["id"].(string))
	}
	if fmt.Sprint(got) != fmt.Sprint(unpaged) {
		t.Fatalf("paging must follow one stable order: pages %v, unpaged %v", got, unpaged)
	}
	seen := map[string]bool{}
	for _, id := range got {
		seen[id] = true
	}
	for _, id := range want {
		if !seen[id] {
			t.Fatalf("user %s missing from the pages %v", id, got)
		}
	}
	r := c.Do(t, http.MethodGet, "/Users?count=0", nil).Expect(t, http.StatusOK)
	if r.Get("totalResults") != float64(7) || len(r.Get("Resources").([]any)) != 0 {
		t.Fatalf("count=0 must return only totalResults: %s", r.Raw)
	}
	r = c.Do(t, http.MethodGet, "/Users?sortBy=userName&sortOrder=descending&count=1", nil).Expect(t, http.StatusOK)
	if r.String("Resources.0.userName") != "user06@example.com" {
		t.Fatalf("sortBy userName descending: %s", r.Raw)
	}
}

func TestAttributesProjection(t *testing.T) {
	c, _ := newOrgClient(t)
	id := createUser(t, c, "proj@example.com").String("id")
	r := c.Do(t, http.MethodGet, "/Users/"+id+"?attributes=userName,name.givenName", nil).Expect(t, http.StatusOK)
	if r.String("id") != id || r.String("userName") != "proj@example.com" || r.String("name.givenName") != "Ada" {
		t.Fatalf("requested attributes missing: %s", r.Raw)
	}
	if r.Get("emails") != nil || r.Get("name.familyName") != nil || r.Get("displayName") != nil {
		t.Fatalf("unrequested attributes returned: %s", r.Raw)
	}
	r = c.Do(t, http.MethodGet, "/Users?filter="+urlq(`userName eq "proj@example.com"`)+"&excludedAttributes=emails,name", nil).Expect(t, http.StatusOK)
	if r.Get("Resources.0.emails") != nil || r.Get("Resources.0.name") != nil || r.String("Resources.0.userName") == "" {
		t.Fatalf("excludedAttributes not honoured: %s", r.Raw)
	}
}

func TestPutUser(t *testing.T) {
	c, _ := newOrgClient(t)
	created := createUser(t, c, "put@example.com")
	id := created.String("id")
	body := created.Body
	body["displayName"] = "Countess"
	body["name"] = map[string]any{"givenName": "Augusta", "familyName": "King"}
	delete(body, "emails")
	r := c.Do(t, http.MethodPut, "/Users/"+id, body).Expect(t, http.StatusOK)
	if r.String("displayName") != "Countess" || r.String("name.givenName") != "Augusta" || r.Get("emails") != nil {
		t.Fatalf("PUT is a full replace: %s", r.Raw)
	}
	if r.String("meta.version") == created.String("meta.version") {
		t.Fatal("version must change on update")
	}
	// Okta's custom apps deactivate with PUT.
	body["active"] = false
	c.Do(t, http.MethodPut, "/Users/"+id, body).Expect(t, http.StatusOK)
	if g := c.Do(t, http.MethodGet, "/Users/"+id, nil).Expect(t, http.StatusOK); g.String("active") != "false" {
		t.Fatalf("deactivated by PUT: %s", g.Raw)
	}
	// userName is immutable.
	body["userName"] = "renamed@example.com"
	c.Do(t, http.MethodPut, "/Users/"+id, body).ExpectError(t, http.StatusBadRequest, "mutability")
	if g := c.Do(t, http.MethodGet, "/Users/"+id, nil); g.String("userName") != "put@example.com" {
		t.Fatalf("userName changed: %s", g.Raw)
	}
	c.Do(t, http.MethodPut, "/Users/u-00000000000000000000000000000000", oktaUser("x@example.com")).ExpectError(t, http.StatusNotFound, "")
}

func TestPatchUserShapes(t *testing.T) {
	c, _ := newOrgClient(t)
	id := createUser(t, c, "patch@example.com").String("id")
	patch := func(ops string) *scimtest.Response {
		return c.Do(t, http.MethodPatch, "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":`+ops+`}`)
	}
	steps := []struct {
		name  string
		ops   string
		check map[string]string
	}{
		{"okta deactivate, no path", `[{"op":"replace","value":{"active":false}}]`, map[string]string{"active": "false"}},
		{"okta reactivate", `[{"op":"replace","value":{"active":true}}]`, map[string]string{"active": "true"}},
		{"entra string boolean", `[{"op":"Replace","path":"active","value":"False"}]`, map[string]string{"active": "false"}},
		{"entra capitalised add", `[{"op":"Add","path":"active","value":"True"}]`, map[string]string{"active": "true"}},
		{"entra dotted and URN keys", `[{"op":"replace","value":{"displayName":"x","name.givenName":"y","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"7"}}]`,
			map[string]string{"displayName": "x", "name.givenName": "y", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.employeeNumber": "7", "name.familyName": "Lovelace"}},
		{"entra value path add", `[{"op":"Add","path":"emails[type eq \"work\"].value","value":"new@work.example"}]`, map[string]string{"emails.0.value": "new@work.example", "emails.0.type": "work"}},
		{"entra familyName path", `[{"op":"Replace","path":"name.familyName","value":"King"}]`, map[string]string{"name.familyName": "King"}},
		{"entra address locality", `[{"op":"Add","path":"addresses[type eq \"work\"].locality","value":"London"}]`, map[string]string{"addresses.0.locality": "London", "addresses.0.type": "work"}},
		{"entra manager as string", `[{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"u-boss"}]`,
			map[string]string{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.manager.value": "u-boss"}},
		{"remove attribute", `[{"op":"remove","path":"displayName"}]`, map[string]string{"displayName": ""}},
		{"entra replace through a value path that matches nothing adds the value", `[{"op":"Replace","path":"phoneNumbers[type eq \"work\"].value","value":"+1 555 0100"}]`,
			map[string]string{"phoneNumbers.0.value": "+1 555 0100", "phoneNumbers.0.type": "work", "emails.0.value": "new@work.example"}},
		{"entra replace of a work email beside a home one adds it", `[{"op":"Add","path":"emails","value":[{"type":"home","value":"h@home.example"}]},{"op":"Remove","path":"emails[type eq \"work\"]"},{"op":"Replace","path":"emails[type eq \"work\"].value","value":"w@work.example"}]`,
			map[string]string{"emails.0.value": "h@home.example", "emails.1.value": "w@work.example", "emails.1.type": "work"}},
		{"remove active leaves it absent", `[{"op":"remove","path":"active"}]`, map[string]string{"active": ""}},
		{"remove the enterprise extension leaves it absent", `[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}]`,
			map[string]string{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": "", "schemas.1": ""}},
		{"emails emptied are left out", `[{"op":"remove","path":"emails"}]`, map[string]string{"emails": ""}},
	}
	for _, st := range steps {
		r := patch(st.ops)
		if r.Status != http.StatusOK {
			t.Fatalf("%s: status %d: %s", st.name, r.Status, r.Raw)
		}
		g := c.Do(t, http.MethodGet, "/Users/"+id, nil).Expect(t, http.StatusOK)
		for path, want := range st.check {
			if got := g.String(path); got != want {
				t.Errorf("%s: %s = %q, want %q (%s)", st.name, path, got, want, g.Raw)
			}
		}
	}
	before := c.Do(t, http.MethodGet, "/Users/"+id, nil).Expect(t, http.StatusOK)
	// Bad PATCHes change nothing.
	patch(`[{"op":"replace","path":"userName","value":"other@example.com"}]`).ExpectError(t, http.StatusBadRequest, "mutability")
	patch(`[{"op":"replace","path":"displayName","value":"ok"},{"op":"frobnicate","path":"title","value":"x"}]`).ExpectError(t, http.StatusBadRequest, "")
	patch(`[{"op":"replace","path":"emails[type eq","value":"x"}]`).ExpectError(t, http.StatusBadRequest, "invalidPath")
	patch(`[{"op":"remove"}]`).ExpectError(t, http.StatusBadRequest, "noTarget")
	c.Do(t, http.MethodPatch, "/Users/"+id, `{"Operations": [`).ExpectError(t, http.StatusBadRequest, "invalidSyntax")
	after := c.Do(t, http.MethodGet, "/Users/"+id, nil).Expect(t, http.StatusOK)
	if after.String("meta.version") != before.String("meta.version") || after.String("displayName") != before.String("displayName") {
		t.Fatalf("a rejected PATCH wrote something: before %s after %s", before.Raw, after.Raw)
	}
}

func TestSoftDeleteAndDelete(t *testing.T) {
	c, _ := newOrgClient(t)
	id := createUser(t, c, "soft@example.com").String("id")
	c.Do(t, http.MethodPatch, "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`).Expect(t, http.StatusOK)
	if r := c.Do(t, http.MethodGet, "/Users/"+id, nil).Expect(t, http.StatusOK); r.String("active") != "false" {
		t.Fatalf("deactivated user must stay readable: %s", r.Raw)
	}
	r := c.Do(t, http.MethodGet, "/Users?filter="+urlq(`userName eq "soft@example.com"`), nil).Expect(t, http.StatusOK)
	if r.Get("totalResults") != float64(1) {
		t.Fatalf("deactivated user must stay findable: %s", r.Raw)
	}
	c.Do(t, http.MethodDelete, "/Users/"+id, nil).Expect(t, http.StatusNoContent)
	c.Do(t, http.MethodGet, "/Users/"+id, nil).ExpectError(t, http.StatusNotFound, "")
	c.Do(t, http.MethodDelete, "/Users/"+id, nil).ExpectError(t, http.StatusNotFound, "")
}

func TestETags(t *testing.T) {
	c, _ := newOrgClient(t)
	created := createUser(t, c, "etag@example.com")
	id, v1 := created.String("id"), created.Header.Get("ETag")
	c.Do(t, http.MethodGet, "/Users/"+id, nil, "If-None-Match: "+v1).Expect(t, http.StatusNotModified)
	c.Do(t, http.MethodPatch, "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"a"}]}`, "If-Match: "+v1).Expect(t, http.StatusOK)
	c.Do(t, http.MethodPatch, "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"b"}]}`, "If-Match: "+v1).ExpectError(t, http.StatusPreconditionFailed, "")
	c.Do(t, http.MethodDelete, "/Users/"+id, nil, "If-Match: "+v1).ExpectError(t, http.StatusPreconditionFailed, "")
	if r := c.Do(t, http.MethodGet, "/Users/"+id, nil).Expect(t, http.StatusOK); r.String("title") != "a" {
		t.Fatalf("stale If-Match must not write: %s", r.Raw)
	}
}

func TestBadInput(t *testing.T) {
	c, _ := newOrgClient(t)
	c.Do(t, http.MethodPost, "/Users", `{"userName": `).ExpectError(t, http.StatusBadRequest, "invalidSyntax")
	c.Do(t, http.MethodPost, "/Users", `[1,2]`).ExpectError(t, http.StatusBadRequest, "invalidSyntax")
	c.Do(t, http.MethodPost, "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"displayName":"no userName"}`).ExpectError(t, http.StatusBadRequest, "invalidValue")
	c.Do(t, http.MethodPost, "/Users", `{"userName":"typed@example.com","active":"maybe"}`).ExpectError(t, http.StatusBadRequest, "invalidValue")
	c.Do(t, http.MethodPost, "/Users", `{"userName":"typed@example.com","name":"not an object"}`).ExpectError(t, http.StatusBadRequest, "invalidValue")
	huge := `{"userName":"big@example.com","displayName":"` + strings.Repeat("x", 2<<20) + `"}`
	c.Do(t, http.MethodPost, "/Users", huge).ExpectError(t, http.StatusRequestEntityTooLarge, "")
	c.Do(t, http.MethodPost, "/Users", `userName=x`, "Content-Type: application/x-www-form-urlencoded").ExpectError(t, http.StatusUnsupportedMediaType, "")
	// Plain application/json and unknown extension URNs are accepted.
	r := c.Do(t, http.MethodPost, "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:example:custom:1.0"],"userName":"json@example.com","urn:example:custom:1.0":{"x":1},"active":"True"}`, "Content-Type: application/json").Expect(t, http.StatusCreated)
	if r.String("active") != "true" {
		t.Fatalf("string boolean on POST: %s", r.Raw)
	}
	// Exactly the one good user exists, listed at once by the replica that created it.
	if l := c.Do(t, http.MethodGet, "/Users", nil); l.Get("totalResults") != float64(1) {
		t.Fatalf("bad input must write nothing, and the good user must be listed: %s", l.Raw)
	}
	if list := c.Do(t, http.MethodGet, "/Users", nil); list.String("Resources.0.userName") != "json@example.com" {
		t.Fatalf("unexpected users: %s", list.Raw)
	}
}

func TestDiscoveryEndpoints(t *testing.T) {
	c, _ := newOrgClient(t)
	r := c.Do(t, http.MethodGet, "/ServiceProviderConfig", nil).Expect(t, http.StatusOK)
	if r.Get("patch.supported") != true || r.Get("bulk.supported") != true || r.Get("filter.supported") != true || r.Get("etag.supported") != true {
		t.Fatalf("ServiceProviderConfig: %s", r.Raw)
	}
	if r.String("authenticationSchemes.0.type") != "oauthbearertoken" {
		t.Fatalf("auth scheme: %s", r.Raw)
	}
	s := c.Do(t, http.MethodGet, "/Schemas", nil).Expect(t, http.StatusOK)
	if s.String("schemas.0") != "urn:ietf:params:scim:api:messages:2.0:ListResponse" || s.Get("totalResults") != float64(6) {
		t.Fatalf("/Schemas must be a ListResponse of 6 (3 resource schemas, 3 discovery schemas): %s", s.Raw)
	}
	ids := map[string]bool{}
	for _, res := range s.Get("Resources").([]any) {
		ids[res.(map[string]any)["id"].(string)] = true
	}
	for _, want := range []string{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "urn:ietf:params:scim:schemas:core:2.0:Group"} {
		if !ids[want] {
			t.Errorf("/Schemas lacks %s", want)
		}
	}
	c.Do(t, http.MethodGet, "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", nil).Expect(t, http.StatusOK)
	rt := c.Do(t, http.MethodGet, "/ResourceTypes", nil).Expect(t, http.StatusOK)
	if rt.Get("totalResults") != float64(2) || rt.String("Resources.0.endpoint") != "/Users" {
		t.Fatalf("/ResourceTypes: %s", rt.Raw)
	}
	c.Do(t, http.MethodGet, "/Me", nil).ExpectError(t, http.StatusNotImplemented, "")
	c.Do(t, http.MethodGet, "/Nope", nil).ExpectError(t, http.StatusNotFound, "")
}

func urlq(s string) string {
	return strings.NewReplacer("%", "%25", " ", "%20", `"`, "%22", "&", "%26", "+", "%2B", "[", "%5B", "]", "%5D", "#", "%23").Replace(s)
}

// sortedIDs returns a sorted copy of ids.
func sortedIDs(ids ...string) []string {
	out := append([]string(nil), ids...)
	sort.Strings(out)
	return out
}

// TestRecreateWhileDeleting: a userName whose previous user is still being deleted (a
// finalizer waits, e.g. for the identity store) answers 503 with Retry-After, not 409, and
// succeeds once the deletion completes.
func TestRecreateWhileDeleting(t *testing.T) {
	c, org := newOrgClient(t)
	id := createUser(t, c, "again@example.com").String("id")
	ctx := context.Background()
	key := types.NamespacedName{Namespace: org.Namespace, Name: id}
	var u rosterv1.OrgUser
	if err := env.Client.Get(ctx, key, &u); err != nil {
		t.Fatal(err)
	}
	u.Finalizers = append(u.Finalizers, "test.roster.dev/hold")
	if err := env.Client.Update(ctx, &u); err != nil {
		t.Fatal(err)
	}
	c.Do(t, http.MethodDelete, "/Users/"+id, nil).Expect(t, http.StatusNoContent)
	r := c.Do(t, http.MethodPost, "/Users", oktaUser("again@example.com")).ExpectError(t, http.StatusServiceUnavailable, "")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	if err := env.Client.Get(ctx, key, &u); err != nil {
		t.Fatal(err)
	}
	u.Finalizers = nil
	if err := env.Client.Update(ctx, &u); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() bool {
		return c.Do(t, http.MethodPost, "/Users", oktaUser("again@example.com")).Status == http.StatusCreated
	}, "re-create after the deletion completed")
}

// TestFilterOnUnknownAttribute: a misspelt attribute is 400 invalidFilter naming it. Matched as
// is, `userNme ne "x"` would select every user of the org.
func TestFilterOnUnknownAttribute(t *testing.T) {
	c, _ := newOrgClient(t)
	createUser(t, c, "typo@example.com")
	r := c.Do(t, http.MethodGet, "/Users?filter="+urlq(`userNme ne "x"`), nil).ExpectError(t, http.StatusBadRequest, "invalidFilter")
	if !strings.Contains(r.String("detail"), "userNme") {
		t.Errorf("detail does not name the attribute: %s", r.Raw)
	}
	r = c.Do(t, http.MethodGet, "/Groups?filter="+urlq(`userName eq "typo@example.com"`), nil).ExpectError(t, http.StatusBadRequest, "invalidFilter")
	if !strings.Contains(r.String("detail"), "userName") {
		t.Errorf("detail does not name the attribute: %s", r.Raw)
	}
	// What identity providers send still passes.
	for _, f := range []string{
		`userName eq "TYPO@example.com"`,
		`emails[type eq "work"].value eq "typo@example.com"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7"`,
		`groups eq "g-00000000000000000000000000000000"`,
		`meta.lastModified gt "2001-01-01T00:00:00Z"`,
	} {
		c.Do(t, http.MethodGet, "/Users?filter="+urlq(f), nil).Expect(t, http.StatusOK)
	}
	c.Do(t, http.MethodGet, "/Groups?filter="+urlq(`members.value eq "u-1" or displayName eq "Eng"`), nil).Expect(t, http.StatusOK)
}

// TestNonASCIINamesFoldOneWay: the SCIM id, the 409 on a duplicate, the filter, userName
// immutability and group display-name uniqueness agree on which non-ASCII spellings are one
// name (naming.Fold). strings.EqualFold would join "Σ" and "ς" and keep "İ" and "i" apart.
func TestNonASCIINamesFoldOneWay(t *testing.T) {
	c, _ := newOrgClient(t)
	ilkay := createUser(t, c, "ilkay@example.com")
	// One user: POST is a conflict, the filter finds it, PUT keeps the stored spelling.
	c.Do(t, http.MethodPost, "/Users", oktaUser("İlkay@example.com")).ExpectError(t, http.StatusConflict, "uniqueness")
	r := c.Do(t, http.MethodGet, "/Users?filter="+urlq(`userName eq "İLKAY@EXAMPLE.COM"`), nil).Expect(t, http.StatusOK)
	if r.Get("totalResults") != float64(1) || r.String("Resources.0.id") != ilkay.String("id") {
		t.Fatalf("filter on another spelling of the same user: %s", r.Raw)
	}
	body := ilkay.Body
	body["userName"] = "İlkay@example.com"
	if p := c.Do(t, http.MethodPut, "/Users/"+ilkay.String("id"), body).Expect(t, http.StatusOK); p.String("userName") != "ilkay@example.com" {
		t.Fatalf("a change of case only keeps the stored spelling: %s", p.Raw)
	}

	// Two users: final sigma is not capital sigma.
	final := createUser(t, c, "Γιώργος@example.gr")
	capital := c.Do(t, http.MethodPost, "/Users", oktaUser("ΓΙΏΡΓΟΣ@example.gr")).Expect(t, http.StatusCreated)
	if final.String("id") == capital.String("id") {
		t.Fatal("two names, one id")
	}
	r = c.Do(t, http.MethodGet, "/Users?filter="+urlq(`userName eq "ΓΙΏΡΓΟΣ@example.gr"`), nil).Expect(t, http.StatusOK)
	if r.Get("totalResults") != float64(1) || r.String("Resources.0.id") != capital.String("id") {
		t.Fatalf("the filter must select only the capital-sigma user: %s", r.Raw)
	}
	body = final.Body
	body["userName"] = "ΓΙΏΡΓΟΣ@example.gr"
	c.Do(t, http.MethodPut, "/Users/"+final.String("id"), body).ExpectError(t, http.StatusBadRequest, "mutability")

	// Group names: the same spellings, the same answers.
	c.Do(t, http.MethodPost, "/Groups", `{"displayName":"İnfra"}`).Expect(t, http.StatusCreated)
	c.Do(t, http.MethodPost, "/Groups", `{"displayName":"infra"}`).ExpectError(t, http.StatusConflict, "uniqueness")
	a := c.Do(t, http.MethodPost, "/Groups", `{"displayName":"Σύλλογος"}`).Expect(t, http.StatusCreated).String("id")
	c.Do(t, http.MethodPost, "/Groups", `{"displayName":"ΣΎΛΛΟΓΟΣ"}`).Expect(t, http.StatusCreated)
	// Renaming onto the other one's name is a rename, and that name is taken.
	c.Do(t, http.MethodPatch, "/Groups/"+a, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"ΣΎΛΛΟΓΟΣ"}]}`).
		ExpectError(t, http.StatusConflict, "uniqueness")
}
