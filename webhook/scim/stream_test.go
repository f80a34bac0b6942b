package scim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/scim/schema"
)

// oldListResponse (with oldGroup) is what the writer built before responses were streamed:
// the golden the streamed bytes are compared with.
type oldListResponse struct {
	Schemas      []string         `json:"schemas"`
	TotalResults int              `json:"totalResults"`
	StartIndex   int              `json:"startIndex"`
	ItemsPerPage int              `json:"itemsPerPage"`
	Resources    []map[string]any `json:"Resources"`
}

// fakeListing is a team of n members ("u-00000"…) in slices of capacity, as the cache would
// hold them; mess adds what the code must survive: a member listed in two slices and a slice
// that is not sorted.
func fakeListing(name string, n, capacity int, mess bool) (membership.Listing, []rosterv1.OrgTeamMemberSlice) {
	team := &rosterv1.OrgTeam{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "acme", UID: types.UID("uid-" + name), Generation: 1,
		CreationTimestamp: metav1.Date(2026, 1, 2, 3, 4, 5, 0, metav1.Now().Location())},
		Spec: rosterv1.OrgTeamSpec{DisplayName: "Team " + name, ManagedBy: rosterv1.ManagedBySCIM}}
	var sl []rosterv1.OrgTeamMemberSlice
	for from := 0; from < n; from += capacity {
		s := rosterv1.OrgTeamMemberSlice{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", name, from), Generation: 1, ResourceVersion: fmt.Sprint(10 + from)}}
		for i := from; i < min(from+capacity, n); i++ {
			s.Spec.Members = append(s.Spec.Members, fmt.Sprintf("u-%05d", i))
		}
		sl = append(sl, s)
	}
	if mess && len(sl) > 1 {
		sl[1].Spec.Members = append(sl[1].Spec.Members, sl[0].Spec.Members[0]) // listed twice
		slices.Reverse(sl[0].Spec.Members)                                     // unsorted
	}
	slices.Reverse(sl) // the cache's order is not the members' order
	return membership.NewListing(team, sl), sl
}

func testContext(w http.ResponseWriter, target string) *gin.Context {
	gin.SetMode(gin.ReleaseMode)
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest(http.MethodGet, target, nil)
	c.Params = gin.Params{{Key: "org", Value: "acme"}}
	// What authenticate leaves: the rendering reads the organization's schemas.
	org := &rosterv1.Organization{}
	org.Name = "acme"
	c.Set(orgKey, org)
	return c
}

// oldGroup renders a group as the writer did before streaming: every member ref (the union
// of the slices, sorted) in a slice, in a map of the whole document, projected as a whole.
func oldGroup(s *Server, c *gin.Context, l membership.Listing, sl []rosterv1.OrgTeamMemberSlice, attrs, excluded []string) map[string]any {
	doc := s.groupDoc(c, l.View)
	ids := membership.Members(sl).Sorted()
	refs := make([]any, len(ids))
	for i, id := range ids {
		refs[i] = map[string]any{"value": id, "$ref": s.baseURL(c) + "/scim/v2/acme/Users/" + id, "type": "User"}
	}
	if len(refs) > 0 {
		doc["members"] = refs
	}
	return schema.Project(schema.Group, doc, attrs, excluded)
}

func sameJSON(t *testing.T, got []byte, want any) {
	t.Helper()
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatalf("streamed response is not JSON: %v\n%s", err, got)
	}
	_ = json.Unmarshal(w, &b)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("streamed:\n%s\nwant (json.Marshal):\n%s", got, w)
	}
}

// TestStreamedListEqualsMarshalled: a streamed ListResponse is the JSON json.Marshal made of
// the whole response before, for groups with and without members (in several slices, one
// unsorted, one member listed twice), under projections, and for documents with characters
// JSON escapes; fields after Resources (the cursor hook) are spliced in.
func TestStreamedListEqualsMarshalled(t *testing.T) {
	s := &Server{}
	var listings []membership.Listing
	var slicesOf [][]rosterv1.OrgTeamMemberSlice
	for _, f := range []struct {
		name      string
		n, cap    int
		duplicate bool
	}{{"a", 0, 3, false}, {"b", 5, 2, true}, {"c", 7, 3, true}} {
		l, sl := fakeListing(f.name, f.n, f.cap, f.duplicate)
		listings, slicesOf = append(listings, l), append(slicesOf, sl)
	}
	for _, proj := range []struct{ attrs, excluded []string }{
		{}, {attrs: []string{"displayName", "members"}}, {excluded: []string{"members"}}, {attrs: []string{"members.value"}}, {attrs: []string{"id"}},
		{excluded: []string{"members.display"}}, {excluded: []string{"members.$ref"}}, {excluded: []string{"MEMBERS.value"}},
		{attrs: []string{"members.type", "members.$ref"}}, {attrs: []string{schema.GroupSchema}},
		{excluded: []string{"members.value", "members.$ref", "members.type"}},
	} {
		t.Run(fmt.Sprint(proj.attrs, proj.excluded), func(t *testing.T) {
			w := httptest.NewRecorder()
			c := testContext(w, "http://roster.example/scim/v2/acme/Groups")
			var items []listItem
			var docs []map[string]any
			for i, l := range listings {
				item, err := s.groupItem(c, l, schema.NewProjection(schema.Group, proj.attrs, proj.excluded))
				if err != nil {
					t.Fatal(err)
				}
				items = append(items, item)
				docs = append(docs, oldGroup(s, c, l, slicesOf[i], proj.attrs, proj.excluded))
			}
			if n := writeListPage(c, listPage{Total: 9, StartIndex: 4, Items: items}); n != len(items) {
				t.Fatalf("wrote %d of %d", n, len(items))
			}
			if w.Code != http.StatusOK || w.Header().Get("Content-Type") != ContentType {
				t.Fatalf("status %d, content type %q", w.Code, w.Header().Get("Content-Type"))
			}
			sameJSON(t, w.Body.Bytes(), oldListResponse{Schemas: []string{schema.ListResponseSchema}, TotalResults: 9, StartIndex: 4, ItemsPerPage: 3, Resources: docs})
		})
	}

	t.Run("documents and the cursor hook", func(t *testing.T) {
		w := httptest.NewRecorder()
		c := testContext(w, "http://roster.example/scim/v2/acme/Users")
		docs := []map[string]any{{"id": "x", "displayName": `<b>"Ünïcode" & \back` + "\u2028\n"}, {}}
		items, err := mapItems(docs)
		if err != nil {
			t.Fatal(err)
		}
		writeListPage(c, listPage{Total: 2, StartIndex: 1, Items: items, NextCursor: "abc", PreviousCursor: "d<e"})
		var got map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got["nextCursor"] != "abc" || got["previousCursor"] != "d<e" {
			t.Fatalf("cursor hook: %v %s", err, w.Body.Bytes())
		}
		// As json.Marshal wrote the cursors when they were a map: sorted, HTML-safe.
		if tail := `],"nextCursor":"abc","previousCursor":"d\u003ce"}`; !strings.HasSuffix(w.Body.String(), tail) {
			t.Fatalf("cursors written as %s, want the body to end with %s", w.Body.Bytes(), tail)
		}
		delete(got, "nextCursor")
		delete(got, "previousCursor")
		b, _ := json.Marshal(got)
		sameJSON(t, b, oldListResponse{Schemas: []string{schema.ListResponseSchema}, TotalResults: 2, StartIndex: 1, ItemsPerPage: 2, Resources: docs})
	})

	t.Run("empty", func(t *testing.T) {
		w := httptest.NewRecorder()
		writeList(testContext(w, "http://roster.example/scim/v2/acme/Schemas"), 0, 1, nil)
		sameJSON(t, w.Body.Bytes(), oldListResponse{Schemas: []string{schema.ListResponseSchema}, StartIndex: 1, Resources: []map[string]any{}})
	})

	t.Run("a member id that needs escaping", func(t *testing.T) {
		l, sl := fakeListing("d", 2, 5, false)
		sl[0].Spec.Members = append(sl[0].Spec.Members, `we"ird<id>`)
		l = membership.NewListing(l.Team, sl)
		w := httptest.NewRecorder()
		c := testContext(w, "http://roster.example/scim/v2/acme/Groups/d")
		item, _ := s.groupItem(c, l, schema.NewProjection(schema.Group, nil, nil))
		writeResource(c, http.StatusOK, item)
		sameJSON(t, w.Body.Bytes(), oldGroup(s, c, l, sl, nil, nil))
	})
}

// discard is a ResponseWriter that keeps nothing: the measurement must not count the body.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(p []byte) (int, error) { return len(p), nil }
func (d discard) WriteHeader(int)             {}

// renderBytes is the heap a render allocates, with the collector off: nothing it allocates is
// freed before it is counted, so this bounds the render's peak heap from above.
func renderBytes(render func()) uint64 {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	render()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestGroupOfOneHundredThousandStreams: GET of a 100,000-member team (50 slices) allocates a
// small constant amount, not the document: measured against the render of before streaming
// (oldGroup: the member refs in a map of the document, projected, json.Marshal of it).
func TestGroupOfOneHundredThousandStreams(t *testing.T) {
	const n = 100_000
	s := &Server{}
	l, sl := fakeListing("big", n, rosterv1.MaxMembersPerSlice, false)
	c := testContext(discard{http.Header{}}, "http://roster.example/scim/v2/acme/Groups/big")
	var tStreamed, tOld time.Duration
	streamed := renderBytes(func() {
		defer func(start time.Time) { tStreamed = time.Since(start) }(time.Now())
		item, err := s.groupItem(c, l, schema.NewProjection(schema.Group, nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		writeResource(c, http.StatusOK, item)
	})
	old := renderBytes(func() {
		defer func(start time.Time) { tOld = time.Since(start) }(time.Now())
		body, err := json.Marshal(oldGroup(s, c, l, sl, nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		c.Data(http.StatusOK, ContentType, body)
	})
	t.Logf("GET of a %d-member team allocates %d KiB in %v streamed, %d KiB in %v built whole", n, streamed>>10, tStreamed, old>>10, tOld)
	if streamed > 256<<10 {
		t.Fatalf("the streamed render allocated %d KiB: it grows with the members", streamed>>10)
	}
	if old < 10*streamed {
		t.Fatalf("the render built whole allocated %d KiB, streamed %d KiB: the comparison measures nothing", old>>10, streamed>>10)
	}
}
