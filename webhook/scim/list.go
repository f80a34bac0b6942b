package scim

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

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

// parseListParams reads and validates the query parameters. Out-of-range paging values are
// clamped as RFC 7644 §3.4.2.4 says (startIndex < 1 is 1, count < 0 is 0).
func parseListParams(c *gin.Context) (listParams, error) {
	p := listParams{StartIndex: 1, Count: -1}
	if f := c.Query("filter"); strings.TrimSpace(f) != "" {
		e, err := filter.Parse(f)
		if err != nil {
			return p, err
		}
		p.Filter = e
	}
	if v := c.Query("startIndex"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return p, scimerror.BadRequest(scimerror.InvalidValue, "startIndex must be an integer, got %q", v)
		}
		p.StartIndex = max(n, 1)
	}
	if v := c.Query("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return p, scimerror.BadRequest(scimerror.InvalidValue, "count must be an integer, got %q", v)
		}
		p.Count = min(max(n, 0), maxPageSize)
	}
	p.SortBy = c.Query("sortBy")
	switch strings.ToLower(c.Query("sortOrder")) {
	case "", "ascending":
	case "descending":
		p.Descending = true
	default:
		return p, scimerror.BadRequest(scimerror.InvalidValue, "sortOrder must be \"ascending\" or \"descending\"")
	}
	p.Attributes, p.Excluded = projection(c)
	return p, nil
}

// projection reads the attributes and excludedAttributes query parameters.
func projection(c *gin.Context) (attributes, excluded []string) {
	return schema.ParseAttributeList(c.Query("attributes")), schema.ParseAttributeList(c.Query("excludedAttributes"))
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

// listResponse is the RFC 7644 §3.4.2 ListResponse. Paging fields are JSON numbers.
type listResponse struct {
	Schemas      []string         `json:"schemas"`
	TotalResults int              `json:"totalResults"`
	StartIndex   int              `json:"startIndex"`
	ItemsPerPage int              `json:"itemsPerPage"`
	Resources    []map[string]any `json:"Resources"`
}

func writeList(c *gin.Context, total, startIndex int, resources []map[string]any) {
	if resources == nil {
		resources = []map[string]any{}
	}
	writeJSON(c, http.StatusOK, listResponse{
		Schemas:      []string{schema.ListResponseSchema},
		TotalResults: total,
		StartIndex:   startIndex,
		ItemsPerPage: len(resources),
		Resources:    resources,
	})
}
