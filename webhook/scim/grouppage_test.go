package scim_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/cachewatch"
	"github.com/rosterhq/roster/internal/directory"
	"github.com/rosterhq/roster/internal/index"
	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
	"github.com/rosterhq/roster/internal/testutil/testenv"
	"github.com/rosterhq/roster/internal/token"
	"github.com/rosterhq/roster/webhook/scim"
)

// sliceReads is the shared manager's cache client, with its reads of member slices counted:
// lists by the index they go through ("" for none), and gets.
type sliceReads struct {
	client.Client
	mu    sync.Mutex
	lists map[string]int
	gets  int
}

func (r *sliceReads) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if _, ok := list.(*rosterv1.OrgTeamMemberSliceList); ok {
		var lo client.ListOptions
		lo.ApplyOptions(opts)
		field := ""
		if lo.FieldSelector != nil && !lo.FieldSelector.Empty() {
			field = lo.FieldSelector.Requirements()[0].Field
		}
		r.mu.Lock()
		r.lists[field]++
		r.mu.Unlock()
	}
	return r.Client.List(ctx, list, opts...)
}

func (r *sliceReads) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*rosterv1.OrgTeamMemberSlice); ok {
		r.mu.Lock()
		r.gets++
		r.mu.Unlock()
	}
	return r.Client.Get(ctx, key, obj, opts...)
}

// reset forgets the reads counted so far.
func (r *sliceReads) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lists, r.gets = map[string]int{}, 0
}

// counts returns the slice lists by index and the slice gets since the last reset.
func (r *sliceReads) counts() (map[string]int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return copyCounts(r.lists), r.gets
}

func copyCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// countedServer is a SCIM server of its own on the shared manager's cache: its directory
// reads through a sliceReads and its member slices hold at most capacity members, so that
// teams of a few users span several slices.
type countedServer struct {
	srv   *scim.Server
	reads *sliceReads
	// walks counts the member walks (membership.Listing.Each) of the server's listings,
	// whichever code path asked for them.
	walks *atomic.Int64
	c     *scimtest.Client
	org   testenv.Org
}

func newCountedServer(t *testing.T, capacity int) *countedServer {
	t.Helper()
	return newServerWith(t, capacity, nil, 0)
}

// newServerWith is newCountedServer with the member slices written through wrap(writer)
// (nil: the manager's client) and an HTTP server whose WriteTimeout is writeTimeout (0: none).
func newServerWith(t *testing.T, capacity int, wrap func(client.Client) client.Client, writeTimeout time.Duration) *countedServer {
	t.Helper()
	_, org := newOrgClient(t) // starts the shared manager; its org is this server's too
	mgr := sharedRoster.Manager
	reads := &sliceReads{Client: mgr.GetClient(), lists: map[string]int{}}
	var progress [3]*cachewatch.Progress
	for i, obj := range []client.Object{&rosterv1.OrgUser{}, &rosterv1.OrgTeam{}, &rosterv1.OrgTeamMemberSlice{}} {
		p, err := cachewatch.Track(context.Background(), mgr.GetCache(), obj)
		if err != nil {
			t.Fatal(err)
		}
		progress[i] = p
	}
	walks := &atomic.Int64{}
	var writer client.Client = mgr.GetClient()
	if wrap != nil {
		writer = wrap(writer)
	}
	members := &membership.Store{Cache: reads, API: mgr.GetAPIReader(), Writer: writer, Capacity: capacity, SliceProgress: progress[2],
		MemberWalks: walks}
	dir, err := directory.New(directory.Options{Client: reads, APIReader: mgr.GetAPIReader(), Members: members,
		Users: progress[0], Teams: progress[1], Slices: progress[2]})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := scim.New(scim.Options{Client: mgr.GetClient(), TokenNamespace: token.DefaultNamespace, Directory: dir, Commits: members, ActivityInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Config.WriteTimeout = writeTimeout
	ts.Start()
	t.Cleanup(ts.Close)
	c := scimtest.New(ts.URL, org.Name, org.Token)
	waitForToken(t, c)
	return &countedServer{srv: srv, reads: reads, walks: walks, c: c, org: org}
}

// newTeam creates a group with the given members and returns its id.
func (s *countedServer) newTeam(t *testing.T, name string, ids []string) string {
	t.Helper()
	body := fmt.Sprintf(`{"displayName":%q,"members":%s}`, name, memberList(ids...))
	return s.c.Do(t, http.MethodPost, "/Groups", body).Expect(t, http.StatusCreated).String("id")
}

// slicesOf counts a team's member slices in the apiserver.
func slicesOf(t *testing.T, ns, id string) int {
	t.Helper()
	var list rosterv1.OrgTeamMemberSliceList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns), client.MatchingLabels{rosterv1.TeamLabel: id}); err != nil {
		t.Fatal(err)
	}
	return len(list.Items)
}

// groupMembers returns the member ids of a group resource of a response.
func groupMembers(t *testing.T, g map[string]any) []string {
	t.Helper()
	var out []string
	ms, _ := g["members"].([]any)
	for _, m := range ms {
		out = append(out, m.(map[string]any)["value"].(string))
	}
	return out
}

// TestGroupPagesKeepToTheMemberBudget: with members shown, a cursor-paged /Groups page stops
// before the team that would pass the member budget (but holds at least one team),
// itemsPerPage says how many it holds, and the next cursor follows the last team the page
// holds; a page asked for by startIndex is never cut (Okta advances by count). Either way the
// client gets every team once, each with every member once.
// Several teams span several slices.
func TestGroupPagesKeepToTheMemberBudget(t *testing.T) {
	const capacity, budget = 4, 10
	s := newCountedServer(t, capacity)
	scim.SetMemberBudget(s.srv, budget)
	users := createUsers(t, s.c, 24, "budget")
	sizes := []int{3, 9, 24, 0, 6, 5, 11, 2} // 24 and 11 each pass the budget alone
	want := map[string][]string{}
	var order []string
	for i, n := range sizes {
		id := s.newTeam(t, fmt.Sprintf("budget-%d", i), users[:n])
		want[id] = sorted(users[:n]...)
		order = append(order, id)
	}
	if n := slicesOf(t, s.org.Namespace, order[2]); n < 24/capacity {
		t.Fatalf("the 24-member team has %d slices: the test needs several", n)
	}

	// One walk by startIndex, as Okta's import pages, or by cursor (RFC 9865); the counts are
	// asked for page by page.
	walk := func(byCursor bool) (ok bool, msg string) {
		seen := map[string][]string{}
		pages := 0
		cursor := ""
		for start := 1; ; pages++ {
			query := fmt.Sprintf("/Groups?startIndex=%d&count=100", start)
			if byCursor {
				query = "/Groups?count=100&cursor=" + url.QueryEscape(cursor)
			}
			r := s.c.Do(t, http.MethodGet, query, nil).Expect(t, http.StatusOK)
			total, items := int(r.Get("totalResults").(float64)), int(r.Get("itemsPerPage").(float64))
			res, _ := r.Get("Resources").([]any)
			if total != len(sizes) {
				return false, fmt.Sprintf("totalResults %d, want %d", total, len(sizes))
			}
			if items != len(res) {
				t.Fatalf("itemsPerPage %d for %d resources", items, len(res))
			}
			if byCursor {
				if r.Get("startIndex") != nil {
					t.Fatalf("a cursor-paged response has a startIndex: %s", r.Raw)
				}
				next, _ := r.Get("nextCursor").(string)
				if next == "" && len(seen)+items < total {
					t.Fatalf("no nextCursor after %d of %d teams", len(seen)+items, total)
				}
				if items == 0 {
					t.Fatalf("an empty cursor page: paging stalls")
				}
				cursor = next
			}
			if items == 0 {
				if start <= total {
					t.Fatalf("an empty page at startIndex %d of %d: paging stalls", start, total)
				}
				break
			}
			refs := 0
			for _, x := range res {
				g := x.(map[string]any)
				ms := groupMembers(t, g)
				refs += len(ms)
				if _, dup := seen[g["id"].(string)]; dup {
					t.Fatalf("team %s on two pages", g["id"])
				}
				seen[g["id"].(string)] = ms
			}
			switch {
			case byCursor && items > 1 && refs > budget:
				t.Fatalf("a cursor page of %d teams carries %d members, over the budget of %d", items, refs, budget)
			case !byCursor && items != min(100, total-start+1):
				// Okta advances startIndex by count: a page cut short would make it skip teams.
				t.Fatalf("a startIndex page at %d holds %d teams, want every one of the %d asked for", start, items, min(100, total-start+1))
			}
			start += items
			if byCursor && cursor == "" {
				break
			}
		}
		for id, ms := range want {
			if !slices.Equal(seen[id], ms) {
				return false, fmt.Sprintf("team %s: %d members paged, want %d", id, len(seen[id]), len(ms))
			}
		}
		if byCursor && pages < 4 {
			t.Fatalf("%d cursor pages: the budget did not cut any", pages)
		}
		return true, ""
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) { return walk(false) })
	testenv.Eventually(t, 10*time.Second, func() (bool, string) { return walk(true) })

	// Without members the budget does not apply: one page holds every team.
	r := s.c.Do(t, http.MethodGet, "/Groups?excludedAttributes=members", nil).Expect(t, http.StatusOK)
	if n := int(r.Get("itemsPerPage").(float64)); n != len(sizes) {
		t.Fatalf("itemsPerPage %d without members, want %d", n, len(sizes))
	}
}

// TestGetGroupStreamsEveryMemberOnce: GET of a team spread over many slices lists each
// member once, in order, with its $ref and type, and the ETag of the read.
func TestGetGroupStreamsEveryMemberOnce(t *testing.T) {
	s := newCountedServer(t, 3)
	users := createUsers(t, s.c, 20, "stream")
	id := s.newTeam(t, "Streamed", users)
	// Members added in two more changes, so that slices are filled and split more than once.
	patchGroup(t, s.c, id, `[{"op":"remove","path":"members[value eq \"`+users[0]+`\"]"}]`).Expect(t, http.StatusNoContent)
	patchGroup(t, s.c, id, `[{"op":"add","path":"members","value":`+memberList(users[0])+`}]`).Expect(t, http.StatusNoContent)
	if n := slicesOf(t, s.org.Namespace, id); n < 7 {
		t.Fatalf("%d slices, want at least 7", n)
	}
	r := s.c.Do(t, http.MethodGet, "/Groups/"+id, nil).Expect(t, http.StatusOK)
	got := groupMembers(t, r.Body)
	if !slices.Equal(got, sorted(users...)) {
		t.Fatalf("members %v, want %v", got, sorted(users...))
	}
	for _, m := range r.Get("members").([]any) {
		m := m.(map[string]any)
		if m["type"] != "User" || m["$ref"] != s.c.Base+"/Users/"+m["value"].(string) {
			t.Fatalf("member %v", m)
		}
	}
	if etag := r.Header.Get("ETag"); r.String("meta.version") == "" || !strings.Contains(etag, r.String("meta.version")) {
		t.Fatalf("ETag %q, meta.version %q", r.Header.Get("ETag"), r.String("meta.version"))
	}
	// The same version answers 304 (the body is not streamed at all).
	s.c.Do(t, http.MethodGet, "/Groups/"+id, nil, "If-None-Match: "+r.Header.Get("ETag")).Expect(t, http.StatusNotModified)
}

// TestMemberFiltersUseTheIndexes: member conditions of a /Groups filter are decided from the
// slice indexes — a member id from the slice member index, presence from each team's slice
// count — and never by reading any team's members (no membership.Listing.Each, counted where
// it runs, so no code path escapes the count); other conditions on the team combine with them
// by and, or and not. Teams of a few thousand members in many slices.
func TestMemberFiltersUseTheIndexes(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 3,000 users")
	}
	const n = 3000
	s := newCountedServer(t, 500)
	ids := loadUsers(t, s.org.Namespace, s.org.Name, n)
	awaitCachedUsers(t, s.org.Namespace, n)
	slices.Sort(ids)
	all := s.newTeam(t, "All", ids)
	half := s.newTeam(t, "Half", ids[:n/2])
	few := s.newTeam(t, "Few", ids[n-10:])
	empty := s.newTeam(t, "Empty", nil)
	teams := 4
	x := ids[n/2-1] // in All and Half
	y := ids[n-1]   // in All and Few

	cases := []struct {
		filter string
		want   []string
		// lookups is the most lookups of the slice team index the filter may need: one per team
		// whose count it needs, one per team on the page (its version).
		lookups int
	}{
		{`members.value eq "` + x + `"`, []string{all, half}, 2},
		{`members eq "` + y + `"`, []string{all, few}, 2},
		{`members.value eq "` + strings.ToUpper(x) + `"`, []string{all, half}, 2}, // caseExact is false
		{`members[value eq "` + y + `"]`, []string{all, few}, 2},
		{`members pr`, []string{all, half, few}, teams},
		{`not (members pr)`, []string{empty}, teams},
		{`members.value eq "` + x + `" or displayName eq "Empty"`, []string{all, half, empty}, teams},
		{`members.value eq "` + y + `" and not (displayName eq "All")`, []string{few}, teams},
		{`members.value ne "` + x + `"`, []string{few, empty}, teams},
		{`members pr and not (members.value eq "` + x + `")`, []string{few}, teams},
	}
	for _, tc := range cases {
		t.Run(tc.filter, func(t *testing.T) {
			ask := func() []string {
				s.reads.reset()
				r := s.c.Do(t, http.MethodGet, "/Groups?excludedAttributes=members&filter="+url.QueryEscape(tc.filter), nil).Expect(t, http.StatusOK)
				var got []string
				for _, g := range r.Get("Resources").([]any) {
					got = append(got, g.(map[string]any)["id"].(string))
				}
				slices.Sort(got)
				return got
			}
			want := sorted(tc.want...)
			listingWalks := s.walks.Load()
			testenv.Eventually(t, 10*time.Second, func() (bool, string) {
				got := ask()
				return slices.Equal(got, want), fmt.Sprintf("got %v, want %v", got, want)
			})
			lists, gets := s.reads.counts()
			if lists[""] != 0 || gets != 0 {
				t.Fatalf("slices read without an index: %d lists, %d gets", lists[""], gets)
			}
			if lists[index.SliceTeam] > tc.lookups {
				t.Fatalf("%d lookups of the slice team index, want at most %d", lists[index.SliceTeam], tc.lookups)
			}
			if w := s.walks.Load() - listingWalks; w != 0 {
				t.Fatalf("the members of teams were walked one by one %d times", w)
			}
		})
	}

	// sortBy=members sorts by each team's first member id, teams without members last
	// (first when descending).
	order := func(sortOrder string) []string {
		r := s.c.Do(t, http.MethodGet, "/Groups?excludedAttributes=members&sortBy=members.value&sortOrder="+sortOrder, nil).Expect(t, http.StatusOK)
		var got []string
		for _, g := range r.Get("Resources").([]any) {
			got = append(got, g.(map[string]any)["id"].(string))
		}
		return got
	}
	if got := order("ascending"); len(got) != teams || got[2] != few || got[3] != empty {
		t.Fatalf("sortBy=members ascending: %v (All %s, Half %s, Few %s, Empty %s)", got, all, half, few, empty)
	}
	if got := order("descending"); len(got) != teams || got[0] != empty || got[1] != few {
		t.Fatalf("sortBy=members descending: %v (All %s, Half %s, Few %s, Empty %s)", got, all, half, few, empty)
	}

	// A condition the indexes cannot answer reads the members, one team at a time, and is
	// still right.
	listingBefore := s.walks.Load()
	r := s.c.Do(t, http.MethodGet, "/Groups?excludedAttributes=members&filter="+url.QueryEscape(`members.value sw "`+y+`"`), nil).Expect(t, http.StatusOK)
	if got := int(r.Get("totalResults").(float64)); got != 2 {
		t.Fatalf("members.value sw: %d teams, want 2", got)
	}
	if s.walks.Load() == listingBefore {
		t.Fatal("members.value sw was answered without reading members: the walk counter is broken")
	}
}
