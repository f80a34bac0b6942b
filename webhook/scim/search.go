package scim

import (
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/rosterhq/roster/internal/scim/document"
	"github.com/rosterhq/roster/internal/scim/filter"
	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// searchFields maps the attributes of a SearchRequest (RFC 7644 §3.4.3) to the query
// parameters of a GET list, which they mean exactly.
var searchFields = map[string]string{
	"attributes": "attributes", "excludedattributes": "excludedAttributes", "filter": "filter",
	"sortby": "sortBy", "sortorder": "sortOrder", "startindex": "startIndex", "count": "count",
	"cursor": "cursor", // RFC 9865 §3
}

// search serves POST .search: the body's SearchRequest becomes the parameters of a GET list,
// and list answers exactly as the GET would (same parsing, filtering, paging and rendering).
func search(list gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, err := readBody(c)
		if err != nil {
			writeError(c, err)
			return
		}
		params, err := searchParams(body)
		if err != nil {
			writeError(c, err)
			return
		}
		c.Set(searchKey, params)
		list(c)
	}
}

// searchParams reads a SearchRequest body into list parameters. A body that is not a JSON
// object or does not name the SearchRequest schema is 400 invalidSyntax; a parameter of the
// wrong type is 400 invalidValue. Attribute names match case-insensitively (RFC 7643 §2.1);
// unknown ones are ignored, as unknown query parameters are.
func searchParams(body []byte) (url.Values, error) {
	doc, err := document.Decode(body)
	if err != nil {
		return nil, err
	}
	out := url.Values{}
	schemaOK := false
	for _, k := range slices.Sorted(maps.Keys(doc)) {
		v := doc[k]
		key := strings.ToLower(k)
		switch key {
		case "schemas":
			list, _ := v.([]any)
			schemaOK = slices.ContainsFunc(list, func(x any) bool {
				s, _ := x.(string)
				return strings.EqualFold(s, schema.SearchRequestSchema)
			})
			continue
		}
		name, known := searchFields[key]
		if !known || v == nil {
			continue
		}
		s, err := searchValue(name, v)
		if err != nil {
			return nil, err
		}
		out.Set(name, s)
	}
	if !schemaOK {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "a search request must have \"schemas\": [%q]", schema.SearchRequestSchema)
	}
	return out, nil
}

// searchValue renders one SearchRequest attribute as its query parameter: attributes and
// excludedAttributes are arrays of strings (a comma-separated string is accepted too),
// startIndex and count integers, the others strings.
func searchValue(name string, v any) (string, error) {
	bad := func(want string) error {
		return scimerror.BadRequest(scimerror.InvalidValue, "%q must be %s", name, want)
	}
	switch name {
	case "attributes", "excludedAttributes":
		if s, ok := v.(string); ok {
			return s, nil
		}
		list, ok := v.([]any)
		if !ok {
			return "", bad("an array of attribute names")
		}
		names := make([]string, len(list))
		for i, x := range list {
			if names[i], ok = x.(string); !ok || strings.Contains(names[i], ",") {
				return "", bad("an array of attribute names")
			}
		}
		return strings.Join(names, ","), nil
	case "startIndex", "count":
		f, ok := schema.ToFloat(v)
		if !ok || f != float64(int64(f)) {
			return "", bad("an integer")
		}
		return strconv.FormatInt(int64(f), 10), nil
	}
	s, ok := v.(string)
	if !ok {
		return "", bad("a string")
	}
	return s, nil
}

// searchAll serves POST /.search at the base URL: users and groups in one ListResponse. The
// filter applies to both; a condition on an attribute only one type has holds for no resource
// of the other, even under ne, not or eq null (filter.Restrict says exactly how). The results
// are the users, then the groups, each type in the requested order, and startIndex and count
// page across the two. Cursor paging is refused here (400 invalidValue): a cursor is a position
// in one resource type's order, and /Users/.search and /Groups/.search page by cursor.
func (s *Server) searchAll(c *gin.Context) {
	p, err := parseListParams(c, userType(c), groupType(c))
	if err != nil {
		writeError(c, err)
		return
	}
	if p.Cursor != nil {
		writeError(c, scimerror.BadRequest(scimerror.InvalidValue, "cursor paging is per resource type: use /Users/.search or /Groups/.search, or startIndex here"))
		return
	}
	// The window [from, from+n) of the users-then-groups sequence.
	from, n := p.StartIndex-1, p.Count
	if n < 0 {
		n = maxPageSize
	}
	var users, groups selection
	var page, gpage []listItem
	defer releaseBuffers(c) // once the page is written
	if up, ok := p.restrictTo(userType(c)); ok {
		up.Count = n
		if users, page, err = s.searchUsers(c, up); err != nil {
			writeError(c, err)
			return
		}
	}
	if gp, ok := p.restrictTo(groupType(c)); ok {
		gp.StartIndex = max(from-users.Total, 0) + 1
		gp.Count = n - len(page)
		if groups, gpage, err = s.searchGroups(c, gp); err != nil {
			writeError(c, err)
			return
		}
	}
	writeListPage(c, listPage{Total: users.Total + groups.Total, StartIndex: p.StartIndex, Items: append(page, gpage...)})
}

// restrictTo returns the parameters for the resources of rt in a base-URL search, and false
// when its filter can match none of them.
func (p listParams) restrictTo(rt schema.ResourceType) (listParams, bool) {
	var ok bool
	p.Filter, ok = filter.Restrict(rt, p.Filter)
	return p, ok
}
