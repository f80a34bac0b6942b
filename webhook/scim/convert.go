package scim

import (
	"fmt"
	"net"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/rosterhq/roster/internal/scim/document"
	"github.com/rosterhq/roster/internal/scim/orgschema"
	"github.com/rosterhq/roster/internal/scim/schema"
)

// readResource reads, decodes and normalizes a POST/PUT body of a resource type, counting the
// values it sends under undeclared schema URNs.
func (s *Server) readResource(c *gin.Context, rt schema.ResourceType) (map[string]any, error) {
	body, err := readBody(c)
	if err != nil {
		return nil, err
	}
	raw, err := document.Decode(body)
	if err != nil {
		return nil, err
	}
	s.noteUnknown(c, orgschema.UnknownURNs(rt, raw))
	return schema.Normalize(rt, raw)
}

// baseURL is scheme://host of the request, or the configured external URL. Behind an ingress
// the scheme comes from X-Forwarded-Proto, believed only from a trusted proxy.
func (s *Server) baseURL(c *gin.Context) string {
	if s.opts.ExternalURL != "" {
		return strings.TrimRight(s.opts.ExternalURL, "/")
	}
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	if p := c.GetHeader("X-Forwarded-Proto"); (p == "https" || p == "http") && s.fromTrustedProxy(c) {
		scheme = p
	}
	return scheme + "://" + c.Request.Host
}

// resourceURL is the absolute location of a resource of the request's organization.
func (s *Server) resourceURL(c *gin.Context, endpoint, id string) string {
	return s.baseURL(c) + "/scim/v2/" + c.Param("org") + "/" + endpoint + "/" + id
}

// fromTrustedProxy reports whether the request's peer is one of the trusted proxies.
func (s *Server) fromTrustedProxy(c *gin.Context) bool {
	host, _, err := net.SplitHostPort(c.Request.RemoteAddr)
	if err != nil {
		host = c.Request.RemoteAddr
	}
	ip := net.ParseIP(host)
	for _, n := range s.trusted {
		if ip != nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

// parseProxies turns trusted proxy addresses or CIDRs into networks.
func parseProxies(proxies []string) ([]*net.IPNet, error) {
	out := make([]*net.IPNet, 0, len(proxies))
	for _, p := range proxies {
		if !strings.Contains(p, "/") {
			if ip := net.ParseIP(p); ip != nil && ip.To4() != nil {
				p += "/32"
			} else {
				p += "/128"
			}
		}
		_, n, err := net.ParseCIDR(p)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", p, err)
		}
		out = append(out, n)
	}
	return out, nil
}
