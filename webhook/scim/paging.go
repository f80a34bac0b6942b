package scim

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/order"
	"github.com/rosterhq/roster/internal/scim/filter"
	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// CursorTimeout is how long a cursor stays valid (advertised as pagination.cursorTimeout).
// Cursors hold no server state, so this only bounds how long one can be replayed; an hour
// covers a slow import of a large org.
const CursorTimeout = time.Hour

// selector is a directory's SelectUsers or SelectTeams.
type selector func(ctx context.Context, namespace string, q order.Query) (order.Page, error)

// selection is the page a list request selects, and how to continue from it.
type selection struct {
	order.Page
	// docs are the documents the selection built (for the filter or a sortBy the index does
	// not keep), by entry; the page reuses them.
	docs map[*order.Entry]map[string]any
	// cursors encodes the cursors of a cursor-paged request (nil: index paging).
	cursors *order.Codec
	query   string
	sort    order.Sort
}

// listedOf returns the page's objects in order, with the documents the selection built.
func listedOf[T client.Object](sel selection) []listed[T] {
	out := make([]listed[T], len(sel.Entries))
	for i, e := range sel.Entries {
		out[i] = listed[T]{obj: e.Object.(T), doc: sel.docs[e]}
	}
	return out
}

// nextCursor is the cursor of the page after the first n entries of the page (n may be less
// than len(Entries) when rendering cut the page short); "" when nothing follows or the request
// is index-paged.
func (s selection) nextCursor(n int) string {
	if s.cursors == nil || n < 1 || !s.More(n) {
		return ""
	}
	return s.cursors.Encode(s.query, order.Cursor{Key: order.KeyOf(s.sort, s.Entries[n-1]), Sort: s.sort})
}

// previousCursor is the cursor of the page before this one; "" on the first page.
func (s selection) previousCursor() string {
	if s.cursors == nil || s.Start == 0 || len(s.Entries) == 0 {
		return ""
	}
	return s.cursors.Encode(s.query, order.Cursor{Key: order.KeyOf(s.sort, s.Entries[0]), Sort: s.sort, Before: true})
}

// writeSelection streams the ListResponse of a selection whose first len(items) entries were
// rendered (a /Groups page can stop early at its member budget): the next cursor continues
// after the last of them. A cursor-paged response has no startIndex (RFC 9865 §2.2).
func writeSelection(c *gin.Context, p listParams, sel selection, items []listItem) {
	page := listPage{Total: sel.Total, StartIndex: p.StartIndex, Items: items}
	if p.Cursor != nil {
		page.StartIndex = 0
		page.NextCursor, page.PreviousCursor = sel.nextCursor(len(items)), sel.previousCursor()
	}
	writeListPage(c, page)
}

// indexedSort returns the order of the index that sortBy names for rt ("" is the default
// order), or false when the index does not keep it.
func indexedSort(rt schema.ResourceType, sortBy string) (order.Sort, bool) {
	name := strings.TrimPrefix(strings.ToLower(sortBy), strings.ToLower(rt.Schema)+":")
	switch {
	case name == "":
		return order.Created, true
	case name == "username" && rt.Name == schema.User.Name:
		return order.UserName, true
	case name == "displayname":
		return order.DisplayName, true
	case name == "externalid":
		return order.ExternalID, true
	}
	return 0, false
}

// prefixTerm returns the index order and folded prefix of a top-level `sw` conjunct of f on
// userName, displayName or externalId, if it has one.
func prefixTerm(rt schema.ResourceType, f filter.Expr) (order.Sort, string, bool) {
	for _, term := range filter.PrefixTerms(f) {
		value, ok := term.Value.(string)
		if !ok {
			continue
		}
		if s, ok := indexedSort(rt, term.Path.String()); ok && s != order.Created {
			if s != order.ExternalID { // caseExact: as stored; the others folded, as the index
				value = naming.Fold(value)
			}
			return s, value, true
		}
	}
	return 0, "", false
}

// selectPage runs the list pipeline shared by /Users and /Groups on the ordered index: q
// brings the candidates (nil: every entry, or a prefix range of the filter), doc builds the
// documents the filter and a sortBy the index does not keep need (once per entry), and match
// decides the filter for an entry, calling doc() only if it needs the document (nil:
// filter.Match on the document; users match only the attributes the filter names, groups
// decide member conditions from the slice indexes). selectPage adds the order, the window
// (startIndex or cursor) and the count.
func (s *Server) selectPage(c *gin.Context, p listParams, rt schema.ResourceType, q order.Query,
	doc func(*order.Entry) (map[string]any, error), match func(e *order.Entry, doc func() map[string]any) (bool, error),
	sel selector,
) (selection, error) {
	out := selection{docs: map[*order.Entry]map[string]any{}}
	var docErr error
	docOf := func(e *order.Entry) map[string]any {
		if d, ok := out.docs[e]; ok {
			return d
		}
		d, err := doc(e)
		docErr = cmp.Or(docErr, err)
		out.docs[e] = d
		return d
	}
	if p.Filter != nil {
		if match == nil {
			match = func(_ *order.Entry, d func() map[string]any) (bool, error) {
				return filter.Match(rt, p.Filter, d()), nil
			}
		}
		q.Match = func(e *order.Entry) bool {
			ok, err := match(e, func() map[string]any { return docOf(e) })
			docErr = cmp.Or(docErr, err)
			return ok && docErr == nil
		}
	}
	if sort, ok := indexedSort(rt, p.SortBy); ok {
		q.Sort, q.Descending = sort, p.Descending
	} else {
		// Not an order the index keeps: the matched entries are sorted by the attribute.
		q.Sort, q.Descending = order.Created, p.Descending
		q.Less = func(a, b *order.Entry) int { return schema.Compare(rt, p.SortBy, docOf(a), docOf(b)) }
	}
	if q.PrefixSort == order.Created && q.Candidates == nil {
		q.PrefixSort, q.Prefix, _ = prefixTerm(rt, p.Filter)
	}
	q.Offset, q.Count = p.StartIndex-1, p.Count
	if q.Count < 0 {
		q.Count = maxPageSize
	}
	if p.Cursor != nil {
		if q.Less != nil {
			return out, scimerror.BadRequest(scimerror.InvalidValue, "cursor paging sorts by userName, displayName, externalId or the default order, not by %q", p.SortBy)
		}
		codec := cursorCodec(c)
		out.cursors, out.sort = &codec, q.Sort
		out.query = cursorQuery(c, p, rt)
		q.Offset = 0
		if *p.Cursor != "" {
			cur, err := codec.Decode(*p.Cursor, out.query)
			switch {
			case errors.Is(err, order.ErrExpiredCursor):
				return out, scimerror.BadRequest(scimerror.ExpiredCursor, "%s (cursorTimeout %d s)", err, int(CursorTimeout.Seconds()))
			case err != nil || cur.Sort != q.Sort:
				return out, scimerror.BadRequest(scimerror.InvalidCursor, "%s", order.ErrInvalidCursor)
			}
			q.After, q.Before = &cur.Key, cur.Before
		}
	}
	page, err := sel(c.Request.Context(), orgOf(c).Spec.Namespace, q)
	out.Page = page
	return out, cmp.Or(err, docErr)
}

// cursorCodec is the organization's cursor codec. Its MAC key derives from the Organization's
// UID, which every replica reads the same and no other organization shares: a cursor is
// refused by any other organization, and by this one once re-created.
func cursorCodec(c *gin.Context) order.Codec {
	key := sha256.Sum256([]byte("roster.dev/scim-cursor/v1\x00" + string(orgOf(c).UID)))
	return order.Codec{Secret: key[:], Timeout: CursorTimeout, Now: func() time.Time {
		return time.Now().Add(time.Duration(cursorSkew.Load()))
	}}
}

// cursorSkew moves the cursors' clock (nanoseconds): tests expire cursors with it.
var cursorSkew atomic.Int64

// cursorQuery identifies the query a cursor belongs to: the resource type, the filter
// (canonical form) and the order. count and the attributes may change between pages.
func cursorQuery(c *gin.Context, p listParams, rt schema.ResourceType) string {
	f := ""
	if p.Filter != nil {
		f = p.Filter.String()
	}
	return strings.Join([]string{orgOf(c).Name, rt.Name, f, strings.ToLower(p.SortBy), strconv.FormatBool(p.Descending)}, "\x00")
}
