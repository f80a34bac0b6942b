package scim

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/rosterhq/roster/internal/scim/document"
	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// serviceProviderConfig serves /ServiceProviderConfig (RFC 7643 §5), truthful about what
// Roster supports.
func (s *Server) serviceProviderConfig(c *gin.Context) {
	writeJSON(c, http.StatusOK, map[string]any{
		"schemas":          []string{schema.ServiceProviderConfigSchema},
		"documentationUri": "https://github.com/rosterhq/roster#readme",
		"patch":            map[string]any{"supported": true},
		"bulk":             s.bulkConfig(),
		"filter":           map[string]any{"supported": true, "maxResults": maxPageSize},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": true},
		"etag":             map[string]any{"supported": true},
		// RFC 9865 §4: both methods; index stays the default, so that clients that know no
		// cursors (Okta, Entra) page as before.
		"pagination": map[string]any{
			"cursor": true, "index": true, "defaultPaginationMethod": "index",
			"defaultPageSize": maxPageSize, "maxPageSize": maxPageSize,
			"cursorTimeout": int(CursorTimeout.Seconds()),
		},
		"authenticationSchemes": []map[string]any{{
			"type":        "oauthbearertoken",
			"name":        "OAuth Bearer Token",
			"description": "Authentication with the organization's SCIM token in 'Authorization: Bearer <token>' (Okta: HTTP Header).",
			"primary":     true,
		}},
		"meta": map[string]any{
			"resourceType": "ServiceProviderConfig",
			"location":     s.baseURL(c) + "/scim/v2/" + c.Param("org") + "/ServiceProviderConfig",
		},
	})
}

// discoveryDocs renders discovery resources (schemas or resource types): each value's own
// JSON plus the message schema and a meta pointing at its endpoint.
func discoveryDocs[T any](s *Server, c *gin.Context, items []T, endpoint, resourceType, messageSchema string, id func(T) string) []map[string]any {
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		doc := document.ToMap(it)
		doc["schemas"] = []string{messageSchema}
		doc["meta"] = map[string]any{"resourceType": resourceType, "location": s.baseURL(c) + "/scim/v2/" + c.Param("org") + "/" + endpoint + "/" + id(it)}
		out = append(out, doc)
	}
	return out
}

func (s *Server) schemaDocs(c *gin.Context) []map[string]any {
	return discoveryDocs(s, c, schemasOf(c).Schemas(), "Schemas", "Schema", schema.SchemaSchema, func(sc *schema.Schema) string { return sc.ID })
}

func (s *Server) resourceTypeDocs(c *gin.Context) []map[string]any {
	return discoveryDocs(s, c, schemasOf(c).ResourceTypes(), "ResourceTypes", "ResourceType", schema.ResourceTypeSchema, func(rt schema.ResourceType) string { return rt.Name })
}

// schemas serves /Schemas as a ListResponse (Entra reads it when provisioning is saved).
func (s *Server) schemas(c *gin.Context) {
	docs := s.schemaDocs(c)
	writeList(c, len(docs), 1, docs)
}

func (s *Server) schemaByID(c *gin.Context) { writeByID(c, s.schemaDocs(c), "schema") }

// resourceTypes serves /ResourceTypes as a ListResponse.
func (s *Server) resourceTypes(c *gin.Context) {
	docs := s.resourceTypeDocs(c)
	writeList(c, len(docs), 1, docs)
}

func (s *Server) resourceTypeByID(c *gin.Context) {
	writeByID(c, s.resourceTypeDocs(c), "resource type")
}

// writeByID answers the document whose id is the request's, or 404.
func writeByID(c *gin.Context, docs []map[string]any, what string) {
	for _, d := range docs {
		if strings.EqualFold(d["id"].(string), c.Param("id")) {
			writeJSON(c, http.StatusOK, d)
			return
		}
	}
	writeError(c, scimerror.NotFound("%s %q not found", what, c.Param("id")))
}
