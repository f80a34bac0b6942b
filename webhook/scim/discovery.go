package scim

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

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
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": maxPageSize},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": true},
		"etag":             map[string]any{"supported": true},
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

// schemaDocs returns the /Schemas resources, each with its meta.
func (s *Server) schemaDocs(c *gin.Context) []map[string]any {
	out := []map[string]any{}
	for _, sc := range schema.Schemas {
		doc := toMap(sc)
		doc["schemas"] = []string{schema.SchemaSchema}
		doc["meta"] = map[string]any{"resourceType": "Schema", "location": s.baseURL(c) + "/scim/v2/" + c.Param("org") + "/Schemas/" + sc.ID}
		out = append(out, doc)
	}
	return out
}

// schemas serves /Schemas as a ListResponse (Entra reads it when provisioning is saved).
func (s *Server) schemas(c *gin.Context) {
	docs := s.schemaDocs(c)
	writeList(c, len(docs), 1, docs)
}

func (s *Server) schemaByID(c *gin.Context) { writeByID(c, s.schemaDocs(c), "schema") }

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

func (s *Server) resourceTypeDocs(c *gin.Context) []map[string]any {
	out := []map[string]any{}
	for _, rt := range schema.ResourceTypes {
		doc := toMap(rt)
		doc["schemas"] = []string{schema.ResourceTypeSchema}
		doc["meta"] = map[string]any{"resourceType": "ResourceType", "location": s.baseURL(c) + "/scim/v2/" + c.Param("org") + "/ResourceTypes/" + rt.Name}
		out = append(out, doc)
	}
	return out
}

func (s *Server) resourceTypes(c *gin.Context) {
	docs := s.resourceTypeDocs(c)
	writeList(c, len(docs), 1, docs)
}

func (s *Server) resourceTypeByID(c *gin.Context) {
	writeByID(c, s.resourceTypeDocs(c), "resource type")
}
