package scim_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/testutil/scimtest"
	"github.com/rosterhq/roster/webhook/scim"
)

// pageIDs returns the ids of a ListResponse's resources.
func pageIDs(t *testing.T, r *scimtest.Response) []string {
	t.Helper()
	list, _ := r.Get("Resources").([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, x.(map[string]any)["id"].(string))
	}
	return out
}

// postUsers creates users named <prefix><i>@example.com back to back and returns their ids.
func postUsers(t *testing.T, c *scimtest.Client, prefix string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		body := fmt.Sprintf(`{"userName":"%s%03d@example.com","externalId":"ext-%s-%03d","displayName":"%s %d"}`, prefix, i, prefix, (i*7)%n, prefix, i%5)
		ids[i] = c.Do(t, http.MethodPost, "/Users", body).Expect(t, http.StatusCreated).String("id")
	}
	return ids
}

// walkCursor pages through path by cursor (count per page) and returns the ids in order and
// the responses.
func walkCursor(t *testing.T, c *scimtest.Client, query url.Values, count int) (ids []string, pages []*scimtest.Response) {
	t.Helper()
	query.Set("count", fmt.Sprint(count))
	query.Set("cursor", "")
	for range 1000 {
		r := c.Do(t, http.MethodGet, "/Users?"+query.Encode(), nil).Expect(t, http.StatusOK)
		if r.Get("startIndex") != nil {
			t.Fatalf("cursor page with a startIndex: %s", r.Raw)
		}
		ids = append(ids, pageIDs(t, r)...)
		pages = append(pages, r)
		next := r.String("nextCursor")
		if next == "" {
			return ids, pages
		}
		query.Set("cursor", next)
	}
	t.Fatal("cursor paging did not end")
	return nil, nil
}

// TestCursorPagingUnderWrites: a client paging through /Users by cursor while another client
// creates and deletes users (by userName: users sorting before the reader's position, which an
// offset cursor would trip on) sees every user that existed throughout exactly once; paging by
// startIndex while users are only created does too.
func TestCursorPagingUnderWrites(t *testing.T) {
	c, _ := newOrgClient(t)
	stable := postUsers(t, c, "stable", 40)
	for _, mode := range []string{"cursor", "cursor-by-userName", "startIndex"} {
		churn := postUsers(t, c, "churn-"+mode, 10)
		if mode == "startIndex" {
			// The default order is creation time in seconds (what the apiserver stores), then
			// name: a user created in the same second as existing ones may sort among them.
			// startIndex paging is stable for users of earlier seconds: start the writes in
			// the next second. (A clock condition of the order, not a wait for an event.)
			last := c.Do(t, http.MethodGet, "/Users/"+churn[len(churn)-1], nil).Expect(t, http.StatusOK).String("meta.created")
			created, err := time.Parse(time.RFC3339, last)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Until(created.Add(time.Second)))
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var rounds atomic.Int32
		var createdMu sync.Mutex
		created := map[string]bool{} // by the writer, outside the reader's view of "throughout"
		wg.Add(1)
		go func() { // another client's writes, back to back with the reader's pages
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if mode == "cursor-by-userName" {
					// Two users that sort before every user the reader reads (userName
					// ascending: "aaa-" < "churn-" < "new-" < "stable-"), and a delete of a
					// churn user, which sorts before the stable ones the reader goes on to: each
					// round moves every later user at least one place down. A cursor that were
					// an offset (startIndex+count) would then start its next page before the
					// reader's last user and show users twice (and, a round that deleted a user
					// already read and created none, skip one): the duplicate checks below fail.
					// A key cursor starts after the last user read, wherever it has moved.
					c.Do(t, http.MethodPost, "/Users", fmt.Sprintf(`{"userName":"aaa-%d-a@example.com"}`, i))
					c.Do(t, http.MethodPost, "/Users", fmt.Sprintf(`{"userName":"aaa-%d-b@example.com"}`, i))
				} else {
					r := c.Do(t, http.MethodPost, "/Users", fmt.Sprintf(`{"userName":"new-%s-%d@example.com"}`, mode, i))
					createdMu.Lock()
					created[r.String("id")] = true
					createdMu.Unlock()
				}
				if mode != "startIndex" && i < len(churn) { // startIndex is stable under creates only
					c.Do(t, http.MethodDelete, "/Users/"+churn[i], nil)
				}
				rounds.Add(1)
			}
		}()
		var seen []string
		switch mode {
		case "cursor":
			seen, _ = walkCursor(t, c, url.Values{}, 6)
		case "cursor-by-userName":
			seen, _ = walkCursor(t, c, url.Values{"sortBy": {"userName"}}, 6)
		case "startIndex":
			for start := 1; ; start += 6 {
				r := c.Do(t, http.MethodGet, fmt.Sprintf("/Users?startIndex=%d&count=6", start), nil).Expect(t, http.StatusOK)
				page := pageIDs(t, r)
				seen = append(seen, page...)

				if len(page) == 0 || start > 1000 {
					break
				}
			}
		}
		close(stop)
		wg.Wait()
		if rounds.Load() == 0 {
			t.Fatalf("%s paging: the writer wrote nothing while the reader paged, the test proves nothing", mode)
		}
		count := map[string]int{}
		for _, id := range seen {
			count[id]++
		}
		for _, id := range stable {
			if count[id] != 1 {
				t.Errorf("%s paging saw stable user %s %d times, want once", mode, id, count[id])
			}
		}
		for id, n := range count {
			// By startIndex, a user the writer creates may be read twice: the default order is
			// creation second, then object name (a digest of the userName), so a user created
			// in the same second as one already read can sort before it and move it one place
			// on. Those users did not exist throughout; every user that did is checked above
			// and here. A cursor starts after the last user read: nothing is read twice.
			if n > 1 && !(mode == "startIndex" && created[id]) {
				t.Errorf("%s paging saw %s %d times", mode, id, n)
			}
		}
	}
}

// TestCursorPreviousWalksBack: previousCursor returns the pages nextCursor went through, in
// reverse.
func TestCursorPreviousWalksBack(t *testing.T) {
	c, _ := newOrgClient(t)
	postUsers(t, c, "back", 23)
	q := url.Values{"sortBy": {"displayName"}}
	_, pages := walkCursor(t, c, q, 5)
	if len(pages) != 5 {
		t.Fatalf("23 users in pages of 5: %d pages", len(pages))
	}
	if pages[0].String("previousCursor") != "" {
		t.Errorf("the first page has a previousCursor: %s", pages[0].Raw)
	}
	for i := len(pages) - 1; i > 0; i-- {
		q.Set("cursor", pages[i].String("previousCursor"))
		r := c.Do(t, http.MethodGet, "/Users?"+q.Encode(), nil).Expect(t, http.StatusOK)
		if got, want := pageIDs(t, r), pageIDs(t, pages[i-1]); !slices.Equal(got, want) {
			t.Errorf("previous of page %d = %v, want page %d = %v", i, got, i-1, want)
		}
	}
}

// TestCursorErrors: cursors this server did not issue for this query and org, or issued too
// long ago, are refused with RFC 9865's errors, as are counts out of range.
func TestCursorErrors(t *testing.T) {
	c, _ := newOrgClient(t)
	other, _ := newOrgClient(t)
	postUsers(t, c, "err", 4)
	postUsers(t, other, "err", 4)
	first := c.Do(t, http.MethodGet, "/Users?count=2&cursor=&filter="+url.QueryEscape(`userName sw "err"`), nil).Expect(t, http.StatusOK)
	next := first.String("nextCursor")
	if next == "" || len(pageIDs(t, first)) != 2 || first.Get("totalResults") != float64(4) {
		t.Fatalf("first cursor page: %s", first.Raw)
	}
	tampered := []byte(next)
	tampered[len(tampered)/2] ^= 0x01
	if tampered[len(tampered)/2] == '-' || tampered[len(tampered)/2] == '_' {
		tampered[len(tampered)/2] = 'A'
	}
	same := url.QueryEscape(`userName sw "err"`)
	for _, tc := range []struct {
		client         *scimtest.Client
		path, scimType string
	}{
		{c, "/Users?count=2&cursor=garbage&filter=" + same, "invalidCursor"},
		{c, "/Users?count=2&cursor=" + string(tampered) + "&filter=" + same, "invalidCursor"},
		{c, "/Users?count=2&cursor=" + next + "&filter=" + url.QueryEscape(`userName sw "er"`), "invalidCursor"},
		{c, "/Users?count=2&cursor=" + next + "&filter=" + same + "&sortBy=userName", "invalidCursor"},
		{c, "/Groups?count=2&cursor=" + next + "&filter=" + url.QueryEscape(`displayName sw "err"`), "invalidCursor"},
		{other, "/Users?count=2&cursor=" + next + "&filter=" + same, "invalidCursor"},
		{c, "/Users?count=0&cursor=", "invalidCount"},
		{c, "/Users?count=1001&cursor=", "invalidCount"},
		{c, "/Users?startIndex=3&cursor=", "invalidValue"},
		{c, "/Users?cursor=&sortBy=title", "invalidValue"},
	} {
		tc.client.Do(t, http.MethodGet, tc.path, nil).ExpectError(t, http.StatusBadRequest, tc.scimType)
	}
	c.Do(t, http.MethodPost, "/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"cursor":""}`).
		ExpectError(t, http.StatusBadRequest, "invalidValue")
	// The same cursor in a POST .search of the same query continues the walk.
	r := c.Do(t, http.MethodPost, "/Users/.search", searchBody(t, map[string]any{"filter": `userName sw "err"`, "count": 2, "cursor": next})).Expect(t, http.StatusOK)
	if ids := pageIDs(t, r); len(ids) != 2 || slices.ContainsFunc(ids, func(id string) bool { return slices.Contains(pageIDs(t, first), id) }) || r.String("nextCursor") != "" {
		t.Errorf("second page by POST .search: %s", r.Raw)
	}
	restore := scim.SkewCursorClock(scim.CursorTimeout + time.Minute)
	defer restore()
	c.Do(t, http.MethodGet, "/Users?count=2&cursor="+next+"&filter="+same, nil).ExpectError(t, http.StatusBadRequest, "expiredCursor")
}

// TestIndexedSortAndPrefix: sortBy userName descending (from the index) equals a sort of the
// same users, and a prefix filter answered from the index equals the same condition scanned.
func TestIndexedSortAndPrefix(t *testing.T) {
	c, _ := newOrgClient(t)
	postUsers(t, c, "Sort", 12)
	postUsers(t, c, "sortb", 9)
	postUsers(t, c, "other", 7)
	r := c.Do(t, http.MethodGet, "/Users?sortBy=userName&sortOrder=descending&count=100", nil).Expect(t, http.StatusOK)
	list, _ := r.Get("Resources").([]any)
	var got, want []string
	for _, x := range list {
		got = append(got, x.(map[string]any)["userName"].(string))
	}
	want = slices.Clone(got)
	slices.SortFunc(want, func(a, b string) int { return strings.Compare(strings.ToLower(b), strings.ToLower(a)) })
	if len(got) != 28 || !slices.Equal(got, want) {
		t.Errorf("sortBy userName descending: %v, want %v", got, want)
	}
	for _, f := range []string{`userName sw "SORT"`, `userName sw "sortb0"`, `externalId sw "ext-sort"`, `displayName sw "sortb 1"`, `userName sw "zz"`} {
		// "or" of the same term hides it from the index: a full scan.
		indexed := c.Do(t, http.MethodGet, "/Users?count=100&filter="+url.QueryEscape(f), nil).Expect(t, http.StatusOK)
		scanned := c.Do(t, http.MethodGet, "/Users?count=100&filter="+url.QueryEscape(f+" or "+f), nil).Expect(t, http.StatusOK)
		if !slices.Equal(pageIDs(t, indexed), pageIDs(t, scanned)) || indexed.Get("totalResults") != scanned.Get("totalResults") {
			t.Errorf("%s: index %v, scan %v", f, pageIDs(t, indexed), pageIDs(t, scanned))
		}
	}
	if n := c.Do(t, http.MethodGet, "/Users?filter="+url.QueryEscape(`userName sw "sort"`), nil).Get("totalResults"); n != float64(21) {
		t.Errorf(`userName sw "sort": %v users, want 21`, n)
	}
}

// TestListReadsOwnWrites: a list right after a create or a delete on the same replica shows
// it, through the ordered index (which its own informer handler feeds).
func TestListReadsOwnWrites(t *testing.T) {
	c, _ := newOrgClient(t)
	for i := range 15 {
		id := c.Do(t, http.MethodPost, "/Users", fmt.Sprintf(`{"userName":"ryw%d@example.com"}`, i)).Expect(t, http.StatusCreated).String("id")
		if ids := pageIDs(t, c.Do(t, http.MethodGet, "/Users?sortBy=userName&count=1000", nil)); !slices.Contains(ids, id) {
			t.Fatalf("round %d: the list right after the create misses %s", i, id)
		}
		if ids := pageIDs(t, c.Do(t, http.MethodGet, "/Users?cursor=&count=1000&filter="+url.QueryEscape(`userName sw "ryw"`), nil)); !slices.Contains(ids, id) {
			t.Fatalf("round %d: the prefix list right after the create misses %s", i, id)
		}
		c.Do(t, http.MethodDelete, "/Users/"+id, nil).Expect(t, http.StatusNoContent)
		if ids := pageIDs(t, c.Do(t, http.MethodGet, "/Users?count=1000", nil)); slices.Contains(ids, id) {
			t.Fatalf("round %d: the list right after the delete still has %s", i, id)
		}
	}
}

// TestServiceProviderConfigPagination: /ServiceProviderConfig advertises both paging methods
// as RFC 9865 §4 says.
func TestServiceProviderConfigPagination(t *testing.T) {
	c, _ := newOrgClient(t)
	r := c.Do(t, http.MethodGet, "/ServiceProviderConfig", nil).Expect(t, http.StatusOK)
	for path, want := range map[string]any{
		"pagination.cursor": true, "pagination.index": true, "pagination.defaultPaginationMethod": "index",
		"pagination.maxPageSize": float64(1000), "pagination.defaultPageSize": float64(1000),
		"pagination.cursorTimeout": scim.CursorTimeout.Seconds(),
	} {
		if got := r.Get(path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
}
