package scim

import (
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rosterhq/roster/internal/scim/filter"
	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// maxPageSize caps count; /ServiceProviderConfig advertises it as filter.maxResults.
const maxPageSize = 1000

// listParams are the query parameters of a SCIM list request (RFC 7644 §3.4.2).
type listParams struct {
	Filter     filter.Expr // nil: no filter
	StartIndex int         // 1-based
	Count      int         // -1: not given
	SortBy     string
	Descending bool
	Attributes []string
	Excluded   []string
}

// parseListParams reads and validates the parameters of a list of rt, or at the base URL of
// several types (POST /.search): from the query string of a GET, or from the body of a POST
// .search, which searchParams turned into the same parameters. Out-of-range paging values are
// clamped as RFC 7644 §3.4.2.4 says (startIndex < 1 is 1, count < 0 is 0). A filter naming an
// attribute none of rts has is 400 invalidFilter: matched as is, it would select nothing, or
// with ne or not every resource. The filter is kept as parsed: each list coerces it to its
// own type (filter.Coerce).
func parseListParams(c *gin.Context, rts ...schema.ResourceType) (listParams, error) {
	p := listParams{StartIndex: 1, Count: -1}
	if f := param(c, "filter"); strings.TrimSpace(f) != "" {
		e, err := filter.Parse(f)
		if err != nil {
			return p, err
		}
		if err := filter.ValidateAny(rts, e); err != nil {
			return p, err
		}
		p.Filter = e
	}
	// Cursor paging (RFC 9865) would be read here (and its body field in searchParams); until it
	// exists a cursor is refused rather than ignored, so that a client walking pages by cursor
	// cannot loop on the first page.
	if _, asked := c.GetQuery("cursor"); asked {
		return p, scimerror.BadRequest(scimerror.InvalidValue, "cursor paging is not supported: page with startIndex and count")
	}
	if v := param(c, "startIndex"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return p, scimerror.BadRequest(scimerror.InvalidValue, "startIndex must be an integer, got %q", v)
		}
		p.StartIndex = max(n, 1)
	}
	if v := param(c, "count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return p, scimerror.BadRequest(scimerror.InvalidValue, "count must be an integer, got %q", v)
		}
		p.Count = min(max(n, 0), maxPageSize)
	}
	p.SortBy = param(c, "sortBy")
	switch strings.ToLower(param(c, "sortOrder")) {
	case "", "ascending":
	case "descending":
		p.Descending = true
	default:
		return p, scimerror.BadRequest(scimerror.InvalidValue, "sortOrder must be \"ascending\" or \"descending\"")
	}
	p.Attributes, p.Excluded = projection(c)
	return p, nil
}

// of returns the parameters for a list of rt alone: the filter coerced to its attribute types.
func (p listParams) of(rt schema.ResourceType) listParams {
	if p.Filter != nil {
		p.Filter = filter.Coerce(rt, p.Filter)
	}
	return p
}

// searchKey is where POST .search leaves the parameters of its body.
const searchKey = "roster.search"

// param returns a list parameter: from the body of a POST .search, else from the query string.
func param(c *gin.Context, name string) string {
	if v, ok := c.Get(searchKey); ok {
		return v.(url.Values).Get(name)
	}
	return c.Query(name)
}

// projection reads the attributes and excludedAttributes parameters.
func projection(c *gin.Context) (attributes, excluded []string) {
	return schema.ParseAttributeList(param(c, "attributes")), schema.ParseAttributeList(param(c, "excludedAttributes"))
}

// project applies the request's attributes/excludedAttributes to a single resource.
func project(c *gin.Context, rt schema.ResourceType, doc map[string]any) map[string]any {
	attrs, excluded := projection(c)
	return schema.Project(rt, doc, attrs, excluded)
}

// page returns the requested window of n results: [from, to).
func (p listParams) page(n int) (from, to int) {
	from = min(p.StartIndex-1, n)
	to = n
	if p.Count >= 0 {
		to = min(from+p.Count, n)
	}
	if p.Count < 0 {
		to = min(from+maxPageSize, n)
	}
	return from, to
}

// listed is an object of a list request, with its document once a filter or sort built it.
type listed[T client.Object] struct {
	obj T
	doc map[string]any
}

// selectPage is the selection of the list pipeline shared by /Users and /Groups: drop
// terminating objects, build documents only when a filter or sort needs them, filter, order,
// page. It returns the number of resources selected and the page's objects in order (with
// their documents when a filter or sort built them); the caller renders them (stream.go).
// match decides the filter for an object (nil: filter.Match on its document).
//
// The default order is creation time (seconds), then object name: one total order, so an
// identity provider walking pages with startIndex sees each resource once, and resources
// created later sort after those of earlier seconds.
func selectPage[T client.Object](p listParams, rt schema.ResourceType, objs []T,
	doc func(T) (map[string]any, error), match func(T, map[string]any) (bool, error),
) (total int, page []listed[T], err error) {
	if match == nil {
		match = func(_ T, d map[string]any) (bool, error) { return filter.Match(rt, p.Filter, d), nil }
	}
	entries := make([]listed[T], 0, len(objs))
	for _, o := range objs {
		if o.GetDeletionTimestamp() != nil {
			continue
		}
		e := listed[T]{obj: o}
		if p.Filter != nil || p.SortBy != "" {
			if e.doc, err = doc(o); err != nil {
				return 0, nil, err
			}
			if p.Filter != nil {
				ok, err := match(o, e.doc)
				if err != nil {
					return 0, nil, err
				}
				if !ok {
					continue
				}
			}
		}
		entries = append(entries, e)
	}
	sort.SliceStable(entries, func(i, j int) bool {
		if p.SortBy != "" {
			if c := schema.Compare(rt, p.SortBy, entries[i].doc, entries[j].doc); c != 0 {
				return (c < 0) != p.Descending
			}
		}
		a, b := entries[i].obj.GetCreationTimestamp(), entries[j].obj.GetCreationTimestamp()
		if !a.Equal(&b) {
			return a.Before(&b)
		}
		return entries[i].obj.GetName() < entries[j].obj.GetName()
	})
	from, to := p.page(len(entries))
	return len(entries), entries[from:to], nil
}
