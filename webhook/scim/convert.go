package scim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// enterpriseKey is the OrgUserSpec field that holds the enterprise extension.
const enterpriseKey = "enterprise"

// decodeObject parses a JSON object body. Bad JSON is 400 invalidSyntax.
func decodeObject(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "the body is not a valid JSON object: %v", err)
	}
	if dec.More() {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "the body has data after the JSON object")
	}
	if doc == nil {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "the body must be a JSON object")
	}
	return doc, nil
}

// readResource reads, decodes and normalizes a POST/PUT body of a resource type.
func readResource(c *gin.Context, rt schema.ResourceType) (map[string]any, error) {
	body, err := readBody(c)
	if err != nil {
		return nil, err
	}
	raw, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	return schema.Normalize(rt, raw)
}

// toMap round-trips v through JSON into a generic document.
func toMap(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", v, err)) // API types always marshal.
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if m == nil {
		m = map[string]any{}
	}
	return m
}

// resourceMeta is the SCIM meta attribute of an object.
func resourceMeta(obj metav1.Object, resourceType, location string) map[string]any {
	created := obj.GetCreationTimestamp().UTC()
	modified := created
	if t, err := time.Parse(time.RFC3339Nano, obj.GetAnnotations()[rosterv1.LastModifiedAnnotation]); err == nil {
		modified = t.UTC()
	}
	return map[string]any{
		"resourceType": resourceType,
		"created":      created.Format(time.RFC3339),
		"lastModified": modified.Format(time.RFC3339Nano),
		"location":     location,
		"version":      etag(obj),
	}
}

// etag is the weak ETag of an object: its resourceVersion, which changes on every write.
func etag(obj metav1.Object) string { return `W/"` + obj.GetResourceVersion() + `"` }

// stampModified records the time of a SCIM write.
func stampModified(obj metav1.Object, now time.Time) {
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[rosterv1.LastModifiedAnnotation] = now.UTC().Format(time.RFC3339Nano)
	obj.SetAnnotations(a)
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

// userDoc is the SCIM representation of an OrgUser.
func (s *Server) userDoc(c *gin.Context, u *rosterv1.OrgUser) map[string]any {
	doc := toMap(&u.Spec)
	schemas := []any{schema.UserSchema}
	if ext, ok := doc[enterpriseKey]; ok {
		delete(doc, enterpriseKey)
		doc[schema.EnterpriseUserSchema] = ext
		schemas = append(schemas, schema.EnterpriseUserSchema)
	}
	doc["schemas"] = schemas
	doc["id"] = u.Name
	doc["active"] = u.Spec.IsActive()
	doc["meta"] = resourceMeta(u, "User", s.resourceURL(c, "Users", u.Name))
	return doc
}

// userSpecFromDoc turns a normalized SCIM User document into an OrgUserSpec.
func userSpecFromDoc(doc map[string]any) (rosterv1.OrgUserSpec, error) {
	d := make(map[string]any, len(doc))
	for k, v := range doc {
		switch k {
		case "id", "meta", "schemas", "groups", "password":
		case schema.EnterpriseUserSchema:
			d[enterpriseKey] = v
		default:
			d[k] = v
		}
	}
	var spec rosterv1.OrgUserSpec
	b, _ := json.Marshal(d)
	if err := json.Unmarshal(b, &spec); err != nil {
		return spec, scimerror.BadRequest(scimerror.InvalidValue, "invalid User: %v", err)
	}
	if strings.TrimSpace(spec.UserName) == "" {
		return spec, scimerror.BadRequest(scimerror.InvalidValue, "userName is required")
	}
	if spec.Active == nil {
		t := true
		spec.Active = &t
	}
	return spec, nil
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
