package scim

import (
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/go-logr/logr"

	"github.com/rosterhq/roster/internal/metrics"
	"github.com/rosterhq/roster/internal/scim/orgschema"
	"github.com/rosterhq/roster/internal/scim/schema"
)

// schemaSetKey caches the request's schema set in the gin context.
const schemaSetKey = "roster.schemaSet"

// schemasOf returns the schema set of the request's organization: Roster's schemas plus the
// extension schemas the Organization declares (built once per request).
func schemasOf(c *gin.Context) orgschema.Set {
	if v, ok := c.Get(schemaSetKey); ok {
		return v.(orgschema.Set)
	}
	set := orgschema.For(orgOf(c))
	c.Set(schemaSetKey, set)
	return set
}

// userType and groupType are the request's organization's User and Group resource types.
func userType(c *gin.Context) schema.ResourceType  { return schemasOf(c).User }
func groupType(c *gin.Context) schema.ResourceType { return schemasOf(c).Group }

// maxUnknownURNsPerOrg bounds both the URNs logged per organization and the values of the urn
// label of roster_scim_unknown_schema_attributes_total: past it, a new URN is counted as
// "other" and not logged, so a client sending random URNs can neither flood the log nor grow
// the metric without bound.
const maxUnknownURNsPerOrg = 16

// unknownURNs remembers, per organization, the undeclared schema URNs it has seen.
type unknownURNs struct {
	mu   sync.Mutex
	seen map[string]map[string]bool // org → URN
}

// note counts the values a request sent under undeclared schema URNs (dropped, as before
// extensions could be declared: IdPs send URNs the server does not know and must not fail),
// and logs the first time each URN shows up for the organization.
func (u *unknownURNs) note(log logr.Logger, org string, urns []string) {
	if len(urns) == 0 {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.seen == nil {
		u.seen = map[string]map[string]bool{}
	}
	seen := u.seen[org]
	if seen == nil {
		seen = map[string]bool{}
		u.seen[org] = seen
	}
	for _, urn := range urns {
		label := urn
		switch {
		case seen[urn]:
		case len(seen) < maxUnknownURNsPerOrg:
			seen[urn] = true
			log.Info("ignoring attributes under a schema URN the organization does not declare; declare it in the Organization's spec.extensionSchemas to keep them",
				"org", org, "urn", urn)
		default:
			label = "other"
		}
		metrics.UnknownSchemaAttributes.WithLabelValues(org, label).Inc()
	}
}

// noteUnknown records the undeclared URNs of a request of the request's organization.
func (s *Server) noteUnknown(c *gin.Context, urns []string) {
	s.unknown.note(s.opts.Log, orgOf(c).Name, urns)
}
