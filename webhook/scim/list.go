package scim

import (
	"net/url"
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
	// Cursor is the RFC 9865 cursor ("" for the first page); nil: index paging.
	Cursor *string
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
	// Cursor paging (RFC 9865): a cursor parameter, empty for the first page, asks for it.
	if v, asked := paramOK(c, "cursor"); asked {
		p.Cursor = &v
		if param(c, "startIndex") != "" {
			return p, scimerror.BadRequest(scimerror.InvalidValue, "page with either cursor or startIndex, not both")
		}
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
		if p.Cursor != nil && (n < 1 || n > maxPageSize) {
			// RFC 9865 §2.1: with cursors, count is a positive integer up to maxPageSize.
			return p, scimerror.BadRequest(scimerror.InvalidCount, "count must be between 1 and %d with cursor paging, got %d", maxPageSize, n)
		}
		p.Count = min(max(n, 0), maxPageSize)
	}
	p.SortBy = param(c, "sortBy")
	if err := schema.CheckSortBy(p.SortBy, rts...); err != nil {
		return p, err
	}
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
	v, _ := paramOK(c, name)
	return v
}

// paramOK is param, and whether the parameter was given at all (even empty).
func paramOK(c *gin.Context, name string) (string, bool) {
	if v, ok := c.Get(searchKey); ok {
		vs, given := v.(url.Values)[name]
		if !given || len(vs) == 0 {
			return "", given
		}
		return vs[0], true
	}
	return c.GetQuery(name)
}

// projection reads the attributes and excludedAttributes parameters.
func projection(c *gin.Context) (attributes, excluded []string) {
	return schema.ParseAttributeList(param(c, "attributes")), schema.ParseAttributeList(param(c, "excludedAttributes"))
}

// projectionOf resolves the request's attributes/excludedAttributes for rt.
func projectionOf(c *gin.Context, rt schema.ResourceType) schema.Projection {
	attrs, excluded := projection(c)
	return schema.NewProjection(rt, attrs, excluded)
}

// project applies the request's attributes/excludedAttributes to a single resource.
func project(c *gin.Context, rt schema.ResourceType, doc map[string]any) map[string]any {
	return projectionOf(c, rt).Apply(doc)
}

// listed is an object of a list page, with its document when the selection built one (for a
// filter or a sortBy the index does not keep).
type listed[T client.Object] struct {
	obj T
	doc map[string]any
}
