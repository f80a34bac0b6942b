package scim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/testutil/scimtest"
)

const searchSchema = `"urn:ietf:params:scim:api:messages:2.0:SearchRequest"`

// searchOrg creates four users and two groups (one with two members) in a fresh org.
func searchOrg(t *testing.T) (*scimtest.Client, []string, []string) {
	t.Helper()
	c, _ := newOrgClient(t)
	var users, groups []string
	for i, u := range []string{
		`{"userName":"sam@example.com","name":{"givenName":"Sam","familyName":"Employee"},"displayName":"Eng Sam","externalId":"1234","emails":[{"type":"work","value":"sam@work.example","primary":true}]}`,
		`{"userName":"olga@example.com","name":{"givenName":"Olga","familyName":"Ortiz"},"title":"Engineer","emails":[{"type":"home","value":"olga@home.example"}]}`,
		`{"userName":"Oscar@example.com","name":{"givenName":"Oscar","familyName":"Employee"},"active":false}`,
		`{"userName":"zoe@example.com","displayName":"Zoe","externalId":"ext-zoe"}`,
	} {
		r := c.Do(t, http.MethodPost, "/Users", u)
		if r.Status != http.StatusCreated {
			t.Fatalf("user %d: %d %s", i, r.Status, r.Raw)
		}
		users = append(users, r.String("id"))
	}
	for _, g := range []string{
		`{"displayName":"Eng","externalId":"ext-eng","members":[{"value":"` + users[0] + `"},{"value":"` + users[1] + `"}]}`,
		`{"displayName":"Ops"}`,
	} {
		groups = append(groups, c.Do(t, http.MethodPost, "/Groups", g).Expect(t, http.StatusCreated).String("id"))
	}
	return c, users, groups
}

// query renders SearchRequest fields as the GET query string that means the same.
func query(fields map[string]any) string {
	q := url.Values{}
	for k, v := range fields {
		switch x := v.(type) {
		case []string:
			q.Set(k, strings.Join(x, ","))
		default:
			q.Set(k, fmt.Sprint(x))
		}
	}
	return strings.ReplaceAll(q.Encode(), "+", "%20")
}

// searchBody is the SearchRequest with the given fields.
func searchBody(t *testing.T, fields map[string]any) string {
	t.Helper()
	m := map[string]any{"schemas": []string{strings.Trim(searchSchema, `"`)}}
	for k, v := range fields {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSearchEqualsGet: for each query, POST .search with the same parameters in a
// SearchRequest answers exactly the bytes the GET answers.
func TestSearchEqualsGet(t *testing.T) {
	c, users, groups := searchOrg(t)
	tests := []struct {
		endpoint string
		fields   map[string]any
		total    int // what the GET must find, so an empty answer cannot pass
	}{
		{"/Users", map[string]any{}, 4},
		{"/Users", map[string]any{"filter": `userName eq "SAM@example.com"`}, 1},
		{"/Users", map[string]any{"filter": `userName sw O`}, 2},
		{"/Users", map[string]any{"filter": `name.familyName eq Employee and active eq true`}, 1},
		{"/Users", map[string]any{"filter": `externalId eq 1234`}, 1},
		{"/Users", map[string]any{"filter": `meta.created gt 2015-10-10T14:38:21.86-07:00`, "sortBy": "userName", "sortOrder": "descending"}, 4},
		{"/Users", map[string]any{"sortBy": "name.givenName", "startIndex": 2, "count": 2}, 4},
		{"/Users", map[string]any{"attributes": []string{"userName", "emails"}, "sortBy": "userName"}, 4},
		{"/Users", map[string]any{"excludedAttributes": []string{"emails", "name", "groups"}, "count": 1, "startIndex": 3}, 4},
		{"/Users", map[string]any{"filter": `emails[type eq "work"].value pr or title pr`, "attributes": []string{"displayName"}}, 2},
		{"/Users", map[string]any{"filter": `groups eq "` + groups[0] + `"`, "count": 0}, 2},
		{"/Users", map[string]any{"filter": `id eq "` + users[3] + `"`, "excludedAttributes": []string{"meta"}}, 1},
		{"/Groups", map[string]any{}, 2},
		{"/Groups", map[string]any{"filter": `displayName eq "Eng"`, "excludedAttributes": []string{"members"}}, 1},
		{"/Groups", map[string]any{"filter": `members.value eq "` + users[1] + `"`, "attributes": []string{"displayName", "members"}}, 1},
		{"/Groups", map[string]any{"sortBy": "displayName", "sortOrder": "descending", "startIndex": 2}, 2},
		{"/Groups", map[string]any{"filter": `displayName eq Ops`}, 1},
	}
	for _, tt := range tests {
		name := tt.endpoint + "?" + query(tt.fields)
		get := c.Do(t, http.MethodGet, name, nil)
		if get.Status != http.StatusOK || get.Get("totalResults") != float64(tt.total) {
			t.Errorf("GET %s: %d, want 200 with %d results: %s", name, get.Status, tt.total, get.Raw)
			continue
		}
		post := c.Do(t, http.MethodPost, tt.endpoint+"/.search", searchBody(t, tt.fields))
		if post.Status != http.StatusOK || !bytes.Equal(post.Raw, get.Raw) {
			t.Errorf("POST %s/.search %v: %d\n%s\nGET answered\n%s", tt.endpoint, tt.fields, post.Status, post.Raw, get.Raw)
		}
	}
}

// TestSearchAtBaseURL: POST /.search spans users and groups, users first, and pages across both.
func TestSearchAtBaseURL(t *testing.T) {
	c, users, groups := searchOrg(t)
	ids := func(r *scimtest.Response) []string {
		var out []string
		res, _ := r.Get("Resources").([]any)
		for _, x := range res {
			out = append(out, x.(map[string]any)["id"].(string))
		}
		return out
	}
	su, sg := sortedIDs(users...), sortedIDs(groups...)
	search := func(fields map[string]any) *scimtest.Response {
		return c.Do(t, http.MethodPost, "/.search", searchBody(t, fields)).Expect(t, http.StatusOK)
	}
	tests := []struct {
		fields map[string]any
		total  int
		want   []string
	}{
		// displayName is in both types; users sort by userName, groups by displayName.
		{map[string]any{"filter": `displayName sw "E"`, "sortBy": "displayName"}, 2, []string{users[0], groups[0]}},
		// userName only users have; displayName only groups have a "Ops" of.
		{map[string]any{"filter": `userName eq "zoe@example.com" or displayName eq "Ops"`}, 2, []string{users[3], groups[1]}},
		{map[string]any{"filter": `members pr`}, 1, []string{groups[0]}},
		{map[string]any{"sortBy": "id", "startIndex": 4, "count": 2}, 6, []string{su[3], sg[0]}},
		{map[string]any{"sortBy": "id", "startIndex": 6}, 6, []string{sg[1]}},
		{map[string]any{"count": 0}, 6, nil},
	}
	for _, tt := range tests {
		r := search(tt.fields)
		if r.Get("totalResults") != float64(tt.total) || fmt.Sprint(ids(r)) != fmt.Sprint(tt.want) {
			t.Errorf("%v: total %v ids %v, want %d %v: %s", tt.fields, r.Get("totalResults"), ids(r), tt.total, tt.want, r.Raw)
		}
	}
	r := search(map[string]any{"filter": `userName eq "sam@example.com" or displayName eq "Eng"`, "attributes": []string{"displayName"}})
	if r.String("Resources.0.schemas.0") != "urn:ietf:params:scim:schemas:core:2.0:User" ||
		r.String("Resources.1.schemas.0") != "urn:ietf:params:scim:schemas:core:2.0:Group" ||
		r.String("Resources.1.displayName") != "Eng" || r.Get("Resources.0.userName") != nil {
		t.Fatalf("mixed resources: %s", r.Raw)
	}
}

// TestSearchAtBaseURLOneTypeAttributes: at the base URL a condition on an attribute only one
// type has selects nothing of the other, whatever wraps it: `userName ne "zoe"` must not list
// every group (a group has no userName to differ from zoe's), nor `not (members pr)` every user.
func TestSearchAtBaseURLOneTypeAttributes(t *testing.T) {
	c, users, groups := searchOrg(t)
	sam, olga, oscar, zoe, eng, ops := users[0], users[1], users[2], users[3], groups[0], groups[1]
	tests := []struct {
		filter string
		want   []string
	}{
		{`userName ne "zoe@example.com"`, []string{sam, olga, oscar}},
		{`not (userName eq "zoe@example.com")`, []string{sam, olga, oscar}},
		{`userName eq null`, nil},
		{`title eq null`, []string{sam, oscar, zoe}},
		{`userName pr`, []string{sam, olga, oscar, zoe}},
		{`not (userName pr)`, nil},
		{`members pr`, []string{eng}},
		{`not (members pr)`, []string{ops}},
		{`members ne "` + sam + `"`, []string{ops}},
		{`externalId eq null`, []string{olga, oscar, ops}},
		{`userName eq "zoe@example.com" or not (members pr)`, []string{zoe, ops}},
		{`not (userName eq "zoe@example.com" and displayName eq "Eng")`, []string{sam, olga, oscar, zoe, ops}},
	}
	for _, tt := range tests {
		r := c.Do(t, http.MethodPost, "/.search", searchBody(t, map[string]any{"filter": tt.filter, "attributes": []string{"id"}}))
		var got []string
		res, _ := r.Get("Resources").([]any)
		for _, x := range res {
			got = append(got, x.(map[string]any)["id"].(string))
		}
		if r.Status != http.StatusOK || r.Get("totalResults") != float64(len(tt.want)) ||
			fmt.Sprint(sortedIDs(got...)) != fmt.Sprint(sortedIDs(tt.want...)) {
			t.Errorf("POST /.search %s: %d, want %d resources %v: %s", tt.filter, r.Status, len(tt.want), tt.want, r.Raw)
		}
	}
}

// TestSearchBadRequests: a malformed SearchRequest is a 400 and the search does nothing else.
func TestSearchBadRequests(t *testing.T) {
	c, _ := newOrgClient(t)
	for _, endpoint := range []string{"/Users/.search", "/Groups/.search", "/.search"} {
		for _, tc := range []struct{ body, scimType string }{
			{`{"filter":"userName pr"}`, "invalidSyntax"},
			{`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`, "invalidSyntax"},
			{`{"schemas":[` + searchSchema + `],`, "invalidSyntax"},
			{`[` + searchSchema + `]`, "invalidSyntax"},
			{`{"schemas":[` + searchSchema + `],"filter":"nosuchattr eq \"x\""}`, "invalidFilter"},
			{`{"schemas":[` + searchSchema + `],"filter":"userName eq"}`, "invalidFilter"},
			{`{"schemas":[` + searchSchema + `],"count":"ten"}`, "invalidValue"},
			{`{"schemas":[` + searchSchema + `],"startIndex":1.5}`, "invalidValue"},
			{`{"schemas":[` + searchSchema + `],"attributes":"userName","excludedAttributes":[1]}`, "invalidValue"},
			{`{"schemas":[` + searchSchema + `],"sortOrder":"sideways"}`, "invalidValue"},
			{`{"schemas":[` + searchSchema + `],"cursor":7}`, "invalidValue"},
		} {
			r := c.Do(t, http.MethodPost, endpoint, tc.body)
			if r.Status != http.StatusBadRequest || r.String("scimType") != tc.scimType {
				t.Errorf("POST %s %s: %d %s, want 400 %s", endpoint, tc.body, r.Status, r.Raw, tc.scimType)
			}
		}
	}
	c.Do(t, http.MethodGet, "/Users?cursor=bogus", nil).ExpectError(t, http.StatusBadRequest, "invalidCursor")
	// Searching writes nothing: still no user.
	if r := c.Do(t, http.MethodGet, "/Users", nil); r.Get("totalResults") != float64(0) {
		t.Fatalf("users after bad searches: %s", r.Raw)
	}
}

// TestUnquotedNumericExternalID: Entra looks a user up by an unquoted numeric externalId before
// it creates one. The filter must find the user whatever the number's size or spelling; read as
// a float64, 12345678901234567890 became 12345678901234567000, the lookup found nobody, and
// Entra's POST that followed got 409 uniqueness.
func TestUnquotedNumericExternalID(t *testing.T) {
	c, _ := newOrgClient(t)
	want := map[string]string{}
	for _, ext := range []string{"12345678901234567890", "1.10", "123e4"} {
		body := `{"userName":"n` + ext + `@example.com","externalId":"` + ext + `"}`
		want[ext] = c.Do(t, http.MethodPost, "/Users", body).Expect(t, http.StatusCreated).String("id")
	}
	for ext, id := range want {
		q := url.Values{"filter": {"externalId eq " + ext}}
		for _, r := range []*scimtest.Response{
			c.Do(t, http.MethodGet, "/Users?"+q.Encode(), nil),
			c.Do(t, http.MethodPost, "/Users/.search", searchBody(t, map[string]any{"filter": "externalId eq " + ext})),
		} {
			if r.Status != http.StatusOK || r.Get("totalResults") != float64(1) || r.String("Resources.0.id") != id {
				t.Errorf("externalId eq %s: %d, want user %s: %s", ext, r.Status, id, r.Raw)
			}
		}
	}
	// The rounded number is another externalId: nobody has it.
	r := c.Do(t, http.MethodGet, "/Users?"+url.Values{"filter": {"externalId eq 12345678901234567000"}}.Encode(), nil)
	if r.Status != http.StatusOK || r.Get("totalResults") != float64(0) {
		t.Errorf("rounded externalId: %d %s, want no user", r.Status, r.Raw)
	}
}
