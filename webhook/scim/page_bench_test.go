package scim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/order"
	"github.com/rosterhq/roster/internal/slimuser"
)

// pageUsers is the size of the org the page benchmark pages through.
const pageUsers = 100_000

// pageOrg is the organization of the page benchmark and the render tests.
var pageOrg = &rosterv1.Organization{ObjectMeta: metav1.ObjectMeta{Name: "acme", UID: "4f1c0b7e-0000-4000-8000-000000000001"},
	Spec: rosterv1.OrganizationSpec{Namespace: "org-acme"}}

// acmeURN is a custom User extension some of the render tests' users carry values of.
const acmeURN = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"

// pageUser is the i-th user of the benchmark's org: what Okta pushes (userName, name,
// displayName, a work email, active, externalId), every third with a title and a phone, every
// fifth with the enterprise extension and a manager.
func pageUser(i int) *rosterv1.OrgUser {
	name := fmt.Sprintf("user%06d@example.com", (i*7919)%pageUsers)
	active, primary := true, true
	u := &rosterv1.OrgUser{ObjectMeta: metav1.ObjectMeta{
		Namespace: pageOrg.Spec.Namespace, Name: naming.UserObjectName(name), ResourceVersion: fmt.Sprint(i + 1),
		CreationTimestamp: metav1.NewTime(time.Unix(1_800_000_000, 0).Add(time.Duration(i/50) * time.Second)),
	}, Spec: rosterv1.OrgUserSpec{
		UserName: name, ExternalID: fmt.Sprintf("00u%017d", i), DisplayName: fmt.Sprintf("Given%d Family%d", i, i),
		Active: &active,
		Name:   &rosterv1.Name{GivenName: fmt.Sprintf("Given%d", i), FamilyName: fmt.Sprintf("Family%d", i)},
		Emails: []rosterv1.MultiValued{{Value: name, Type: "work", Primary: &primary}},
	}}
	// The metadata a document reads (version: generation and UID; lastModified: the
	// annotation) and some it does not (labels, finalizers), as the cache holds them.
	u.Generation, u.UID = int64(i%4+1), types.UID(fmt.Sprintf("%08x-1b2c-4d5e-8f90-%012x", i, i))
	u.Labels = map[string]string{rosterv1.OrgLabel: pageOrg.Name}
	u.Finalizers = []string{"scim.roster.dev/identity-store"}
	if i%2 == 0 {
		u.Annotations = map[string]string{rosterv1.LastModifiedAnnotation: time.Unix(1_800_000_100+int64(i), 123456789).UTC().Format(time.RFC3339Nano)}
	}
	if i%3 == 0 {
		u.Spec.Title = "Engineer"
		u.Spec.PhoneNumbers = []rosterv1.MultiValued{{Value: fmt.Sprintf("+1 555 %07d", i), Type: "mobile"}}
	}
	if i%5 == 0 {
		u.Spec.Enterprise = &rosterv1.EnterpriseUser{EmployeeNumber: fmt.Sprint(i), Department: "R&D",
			Manager: &rosterv1.Manager{Value: naming.UserObjectName("boss@example.com"), DisplayName: "The Boss"}}
	}
	return u
}

// pageIndex is an ordered index of pageUsers users of pageOrg, as the cache feeds it: compact
// users (internal/slimuser), as the SCIM server reads them.
func pageIndex(tb testing.TB) *order.Index {
	tb.Helper()
	x := order.New()
	for i := range pageUsers {
		x.PutUser(slimuser.New(pageUser(i)))
	}
	return x
}

// pageGroups stands in for the slice member index: every tenth user is in two teams.
func pageGroups(c *gin.Context, u *rosterv1.OrgUser) []any {
	if rv := u.ResourceVersion; rv == "" || rv[len(rv)-1] != '0' {
		return nil
	}
	var groups []any
	for _, t := range []string{"engineering", "everyone"} {
		groups = append(groups, map[string]any{
			"value": "team-" + t, "$ref": "http://roster.example/scim/v2/" + c.Param("org") + "/Groups/team-" + t,
			"display": t, "type": "direct",
		})
	}
	return groups
}

// counting is a ResponseWriter that keeps only the size of the body.
type counting struct {
	h http.Header
	n int
}

func (d *counting) Header() http.Header         { return d.h }
func (d *counting) Write(b []byte) (int, error) { d.n += len(b); return len(b), nil }
func (d *counting) WriteHeader(int)             {}

// pageContext is the context of GET /Users?query for pageOrg, once authenticated.
func pageContext(w http.ResponseWriter, eng *gin.Engine, query string) *gin.Context {
	return orgPageContext(w, eng, pageOrg, query)
}

// orgPageContext is pageContext for the organization org.
func orgPageContext(w http.ResponseWriter, eng *gin.Engine, org *rosterv1.Organization, query string) *gin.Context {
	c := gin.CreateTestContextOnly(w, eng)
	c.Request = httptest.NewRequest(http.MethodGet, "/scim/v2/acme/Users?"+query, nil)
	c.Request.Host = "roster.example"
	c.Params = gin.Params{{Key: "org", Value: org.Name}}
	c.Set(orgKey, org)
	return c
}

// servePage answers GET /Users?query as listUsers does, with the index selection and groups
// of the benchmark: parse, select, render, stream.
func servePage(s *Server, eng *gin.Engine, w http.ResponseWriter, x *order.Index, query string) *gin.Context {
	c := pageContext(w, eng, query)
	defer releaseBuffers(c)
	rt := userType(c)
	p, err := parseListParams(c, rt)
	if err != nil {
		writeError(c, err)
		return c
	}
	p = p.of(rt)
	sel, items, err := s.userPage(c, p, func(_ context.Context, ns string, q order.Query) (order.Page, error) {
		return x.SelectUsers(ns, q)
	}, pageGroups)
	if err != nil {
		writeError(c, err)
		return c
	}
	writeSelection(c, p, sel, items)
	return c
}

// deepCursor is the nextCursor of the page that ends at 0-based position at of the order
// sortBy names, for pageOrg.
func deepCursor(tb testing.TB, s *Server, eng *gin.Engine, x *order.Index, sortBy string, at int) string {
	tb.Helper()
	rec := httptest.NewRecorder()
	c := pageContext(rec, eng, "cursor=&sortBy="+sortBy)
	rt := userType(c)
	p, err := parseListParams(c, rt)
	if err != nil {
		tb.Fatal(err)
	}
	sort, _ := indexedSort(rt, p.SortBy)
	pg, err := x.SelectUsers(pageOrg.Spec.Namespace, order.Query{Sort: sort, Offset: at, Count: 1})
	if err != nil || len(pg.Entries) != 1 {
		tb.Fatalf("entry %d: %v", at, err)
	}
	codec := cursorCodec(c)
	return codec.Encode(cursorQuery(c, p, rt), order.Cursor{Key: order.KeyOf(sort, pg.Entries[0]), Sort: sort})
}

// BenchmarkUserPage100k is a page of 100 users of an org of 100,000, from the query string to
// the bytes written, through the functions GET /Users calls (no cluster: the index is built
// here and groups come from pageGroups): the first and 1,000th page by startIndex, the first
// and a deep page by cursor, each in the default order and with sortBy=userName, and two
// projections.
func BenchmarkUserPage100k(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	x := pageIndex(b)
	s := &Server{}
	eng := gin.New()
	cases := []struct{ name, query string }{
		{"first", "startIndex=1&count=100"},
		{"page1000", "startIndex=99901&count=100"},
		{"cursorFirst", "cursor=&count=100"},
		{"cursorDeep", "count=100&cursor=" + url.QueryEscape(deepCursor(b, s, eng, x, "", 99_799))},
		{"first/userName", "startIndex=1&count=100&sortBy=userName"},
		{"page1000/userName", "startIndex=99901&count=100&sortBy=userName"},
		{"cursorFirst/userName", "cursor=&count=100&sortBy=userName"},
		{"cursorDeep/userName", "count=100&sortBy=userName&cursor=" + url.QueryEscape(deepCursor(b, s, eng, x, "userName", 99_799))},
		{"attributes=userName", "startIndex=50001&count=100&attributes=userName"},
		{"excludedAttributes=groups", "startIndex=50001&count=100&excludedAttributes=groups"},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			w := &counting{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				w.n = 0
				c := servePage(s, eng, w, x, tc.query)
				if c.Writer.Status() != http.StatusOK || w.n < 2000 {
					b.Fatalf("status %d, %d bytes", c.Writer.Status(), w.n)
				}
			}
		})
	}
}

// TestUserPageEncodesAsDocuments: every user of a list page is the bytes of the document the
// list built before it encoded users directly (User, groups, Project, json.Marshal), for users
// with and without groups, enterprise and custom extension values (which keep the map path),
// under projections the encoder takes and ones it leaves to the map path.
func TestUserPageEncodesAsDocuments(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	x := order.New()
	var users []*rosterv1.OrgUser
	for i := range 40 {
		u := pageUser(i)
		switch i % 8 {
		case 1:
			u.Spec.DisplayName = `Zoë <"O'Brien"> & co` + "\u2028\x01"
			u.Spec.Active = nil
		case 2:
			u.Spec.Extensions = rosterv1.ExtensionValues{"urn:example:params:scim:schemas:extension:acme:2.0:User": apiextensionsv1.JSON{Raw: []byte(`{"badge":"b-1"}`)}}
		case 5:
			u.Spec.Extensions = rosterv1.ExtensionValues{acmeURN: apiextensionsv1.JSON{Raw: []byte(`{"costCenter":"4711","level":3,"nick":"n","secret":"s"}`)}}
		case 3:
			f := false
			u.Spec.Emails[0].Primary = &f
			u.Spec.Addresses = []rosterv1.Address{{Locality: "Paris", Country: "FR"}}
			u.Spec.Enterprise = &rosterv1.EnterpriseUser{}
		}
		users = append(users, u)
		x.PutUser(slimuser.New(u))
	}
	s := &Server{}
	eng := gin.New()
	// The users' custom extension values are returned only where the organization declares
	// their schema (acmeOrg): there a page decodes each user whole, once.
	acmeOrg := pageOrg.DeepCopy()
	acmeOrg.Name = "acme-declared"
	acmeOrg.Spec.ExtensionSchemas = []rosterv1.ExtensionSchema{{URN: acmeURN, ResourceType: rosterv1.ExtensionForUser, Name: "AcmeUser",
		Attributes: []rosterv1.ExtensionAttribute{
			{ExtensionAttributeCommon: rosterv1.ExtensionAttributeCommon{Name: "costCenter", Type: "string"}},
			{ExtensionAttributeCommon: rosterv1.ExtensionAttributeCommon{Name: "nick", Type: "string", Returned: "request"}},
			{ExtensionAttributeCommon: rosterv1.ExtensionAttributeCommon{Name: "secret", Type: "string", Mutability: "writeOnly", Returned: "never"}},
		}, // level is stored but no longer declared: not returned
	}}
	for _, tc := range []struct {
		org   *rosterv1.Organization
		query string
	}{
		{pageOrg, ""}, {pageOrg, "sortBy=userName&sortOrder=descending"}, {pageOrg, "cursor=&count=7"},
		{pageOrg, "attributes=userName,groups"}, {pageOrg, "excludedAttributes=groups,meta"}, {pageOrg, "attributes=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
		{pageOrg, "attributes=name.givenName,emails.value"}, {pageOrg, "attributes=urn:ietf:params:scim:schemas:core:2.0:User"}, {pageOrg, "excludedAttributes=emails.type"},
		{pageOrg, "filter=" + url.QueryEscape(`title eq "Engineer"`)}, {pageOrg, "excludedAttributes=groups.value"},
		{acmeOrg, ""}, {acmeOrg, "excludedAttributes=groups,meta"}, {acmeOrg, "attributes=userName," + acmeURN + ":nick"},
		{acmeOrg, "attributes=" + acmeURN}, {acmeOrg, "excludedAttributes=" + acmeURN + ":costCenter"},
	} {
		query := tc.query
		rec := httptest.NewRecorder()
		c := orgPageContext(rec, eng, tc.org, query)
		rt := userType(c)
		p, err := parseListParams(c, rt)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		sel, items, err := s.userPage(c, p.of(rt), func(_ context.Context, ns string, q order.Query) (order.Page, error) {
			return x.SelectUsers(ns, q)
		}, pageGroups)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		if len(items) == 0 || len(items) != len(sel.Entries) {
			t.Fatalf("%s: %d items of %d entries", query, len(items), len(sel.Entries))
		}
		custom := 0 // users whose custom extension values are returned
		for i, e := range sel.Entries {
			u := e.Object.(*slimuser.User).OrgUser()
			want, err := json.Marshal(renderUserDoc(projectionOf(c, rt), s.userDoc(c, u), func() []any { return pageGroups(c, u) }))
			if err != nil {
				t.Fatal(err)
			}
			if string(items[i].head) != string(want) {
				t.Errorf("%s %s: user %s:\n got %s\nwant %s", tc.org.Name, query, u.Name, items[i].head, want)
			}
			if strings.Contains(string(items[i].head), `"costCenter":"4711"`) {
				custom++
			}
		}
		// Undeclared, the values are not returned; declared, they are (the page takes the
		// whole decode).
		if tc.org == pageOrg && custom > 0 || tc.org == acmeOrg && query == "" && custom == 0 {
			t.Errorf("%s %s: %d users with custom extension values returned", tc.org.Name, query, custom)
		}
	}
}
