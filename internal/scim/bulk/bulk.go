// Package bulk is the SCIM document side of /Bulk (RFC 7644 §3.7): it decodes and checks a
// BulkRequest, orders its operations so that every bulkId is created before an operation
// refers to it, substitutes the created ids for "bulkId:<id>" references, and shapes the
// BulkResponse. It runs nothing: the HTTP room dispatches each operation as a request of its
// own.
package bulk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// RefPrefix starts a reference to the resource another operation of the request creates
// ("bulkId:qwerty"), in a path or anywhere in an operation's data.
const RefPrefix = "bulkId:"

// MaxBulkIDLen bounds a bulkId: it is a client's surrogate key, not data.
const MaxBulkIDLen = 256

// Request is a decoded BulkRequest.
type Request struct {
	// FailOnErrors is the number of failed operations after which the rest are not run
	// (0: run every operation).
	FailOnErrors int
	Operations   []Operation
}

// Operation is one operation of a BulkRequest, checked: Method is POST, PUT, PATCH or
// DELETE; Endpoint is "Users" or "Groups"; ID is empty for POST and set otherwise (it may be
// a bulkId reference).
type Operation struct {
	Method   string
	BulkID   string
	Version  string
	Endpoint string
	ID       string
	// Data is the operation's resource or PATCH document, numbers kept as sent; nil for DELETE.
	Data map[string]any
	// Refs are the bulkIds the operation refers to, in its path or its data, sorted.
	Refs []string
}

// Result is one operation's entry in a BulkResponse.
type Result struct {
	Method   string `json:"method"`
	BulkID   string `json:"bulkId,omitempty"`
	Version  string `json:"version,omitempty"`
	Location string `json:"location,omitempty"`
	// Status is the operation's HTTP status as a string, like the error schema's (RFC 7644 §3.7.3).
	Status int `json:"-"`
	// Response is the operation's error body; a success's body is left out (the RFC allows
	// it), so a response stays small whatever the operations answered.
	Response json.RawMessage `json:"response,omitempty"`
}

// MarshalJSON writes status as a string ("201"), as RFC 7644's examples do.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	return json.Marshal(struct {
		plain
		Status string `json:"status"`
	}{plain(r), fmt.Sprint(r.Status)})
}

// Failed reports whether the operation counts as an error for failOnErrors.
func (r Result) Failed() bool { return r.Status >= 400 }

// Response is the BulkResponse document for results.
func Response(results []Result) map[string]any {
	if results == nil {
		results = []Result{}
	}
	return map[string]any{"schemas": []string{schema.BulkResponseSchema}, "Operations": results}
}

// TooManyOperations is the 413 of a request with more operations than maxOperations
// (RFC 7644 §3.7.4: no scimType, the limit in the detail).
func TooManyOperations(n, limit int) *scimerror.Error {
	return scimerror.New(http.StatusRequestEntityTooLarge, "", "the bulk request has %d operations, more than maxOperations (%d)", n, limit)
}

func invalid(format string, args ...any) *scimerror.Error {
	return scimerror.BadRequest(scimerror.InvalidValue, format, args...)
}

// Decode reads a BulkRequest. A body that is not one JSON object or does not name the
// BulkRequest schema is 400 invalidSyntax; more than maxOperations operations is 413; any
// malformed operation (unknown method, a path outside /Users and /Groups, a POST without a
// bulkId, a duplicate bulkId, missing data) is 400 invalidValue for the whole request, so a
// malformed request runs nothing. Attribute names match case-insensitively (RFC 7643 §2.1).
func Decode(body []byte, maxOperations int) (*Request, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // numbers reach the operation exactly as sent
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil || doc == nil {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "the body is not a JSON object")
	}
	if dec.More() {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "the body has data after the JSON object")
	}
	fields := lowerKeys(doc)
	list, _ := fields["schemas"].([]any)
	if !slices.ContainsFunc(list, func(x any) bool { s, _ := x.(string); return strings.EqualFold(s, schema.BulkRequestSchema) }) {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "a bulk request must have \"schemas\": [%q]", schema.BulkRequestSchema)
	}
	rawOps, ok := fields["operations"].([]any)
	if !ok {
		return nil, invalid("a bulk request must have an \"Operations\" array")
	}
	if len(rawOps) > maxOperations {
		return nil, TooManyOperations(len(rawOps), maxOperations)
	}
	if len(rawOps) == 0 {
		return nil, invalid("a bulk request must have at least one operation")
	}
	req := &Request{Operations: make([]Operation, 0, len(rawOps))}
	if v, ok := fields["failonerrors"]; ok && v != nil {
		n, ok := v.(json.Number)
		i, err := n.Int64()
		if !ok || err != nil || i < 1 {
			return nil, invalid("\"failOnErrors\" must be a positive integer")
		}
		req.FailOnErrors = int(min(i, int64(len(rawOps))))
	}
	created := map[string]bool{}
	for i, raw := range rawOps {
		op, err := decodeOperation(raw)
		if err != nil {
			return nil, invalid("operation %d: %s", i+1, err.(*scimerror.Error).Detail)
		}
		if op.Method == http.MethodPost {
			if created[op.BulkID] {
				return nil, invalid("operation %d: bulkId %q is used by another POST of the request", i+1, op.BulkID)
			}
			created[op.BulkID] = true
		}
		req.Operations = append(req.Operations, op)
	}
	return req, nil
}

// decodeOperation checks one operation (RFC 7644 §3.7: method, bulkId REQUIRED for POST,
// version, path, data REQUIRED for POST, PUT and PATCH).
func decodeOperation(raw any) (Operation, error) {
	obj, ok := raw.(map[string]any)
	if !ok {
		return Operation{}, invalid("an operation must be a JSON object")
	}
	f := lowerKeys(obj)
	str := func(name string) (string, error) {
		v, present := f[strings.ToLower(name)]
		if !present || v == nil {
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", invalid("%q must be a string", name)
		}
		return s, nil
	}
	var op Operation
	method, err := str("method")
	if err != nil {
		return op, err
	}
	op.Method = strings.ToUpper(method)
	switch op.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return op, invalid("\"method\" must be POST, PUT, PATCH or DELETE")
	}
	if op.BulkID, err = str("bulkId"); err != nil {
		return op, err
	}
	if op.Method == http.MethodPost && op.BulkID == "" {
		return op, invalid("a POST must have a \"bulkId\"")
	}
	if op.BulkID != "" && (len(op.BulkID) > MaxBulkIDLen || refEnd(op.BulkID, 0) != len(op.BulkID)) {
		return op, invalid("\"bulkId\" must be 1 to %d letters, digits, '-', '_', '.' or '~'", MaxBulkIDLen)
	}
	if op.Version, err = str("version"); err != nil {
		return op, err
	}
	path, err := str("path")
	if err != nil {
		return op, err
	}
	if op.Endpoint, op.ID, err = parsePath(op.Method, path); err != nil {
		return op, err
	}
	if op.Method != http.MethodDelete {
		if op.Data, ok = f["data"].(map[string]any); !ok {
			return op, invalid("a %s must have \"data\", a JSON object", op.Method)
		}
	}
	refs := map[string]bool{}
	collectRefs(op.ID, refs)
	collectRefs(op.Data, refs)
	for r := range refs {
		op.Refs = append(op.Refs, r)
	}
	slices.Sort(op.Refs)
	return op, nil
}

// parsePath checks an operation's path, relative to the base URL: "/Users" or "/Groups" for a
// POST, "/Users/<id>" or "/Groups/<id>" otherwise. Endpoints match case-insensitively, as
// the server's routes do.
func parsePath(method, path string) (endpoint, id string, err error) {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok || strings.ContainsAny(path, "?#%\\") {
		return "", "", invalid("\"path\" must be /Users or /Groups, followed by /<id> unless the method is POST")
	}
	seg, id, hasID := strings.Cut(rest, "/")
	switch strings.ToLower(seg) {
	case "users":
		endpoint = "Users"
	case "groups":
		endpoint = "Groups"
	default:
		return "", "", invalid("\"path\" must name /Users or /Groups: only they can be written in bulk")
	}
	switch {
	case method == http.MethodPost && hasID:
		return "", "", invalid("a POST's \"path\" is the resource type's endpoint, /%s", endpoint)
	case method != http.MethodPost && (id == "" || strings.Contains(id, "/") || id == "." || id == ".." || strings.EqualFold(id, ".search")):
		return "", "", invalid("a %s's \"path\" names one resource: /%s/<id>", method, endpoint)
	}
	return endpoint, id, nil
}

// lowerKeys indexes a JSON object's members by lower-cased name.
func lowerKeys(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

// isIDChar reports the characters of a bulkId: RFC 3986's unreserved ones, so that a
// reference ends unambiguously inside any string and a path stays a path.
func isIDChar(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_' || b == '.' || b == '~'
}

// refEnd returns where the bulkId starting at s[i] ends.
func refEnd(s string, i int) int {
	j := i
	for j < len(s) && isIDChar(s[j]) {
		j++
	}
	return j
}

// eachRef calls f for every "bulkId:<id>" in s with the reference's bounds and id.
func eachRef(s string, f func(start, end int, id string)) {
	for from := 0; ; {
		k := strings.Index(s[from:], RefPrefix)
		if k < 0 {
			return
		}
		start := from + k
		idStart := start + len(RefPrefix)
		end := refEnd(s, idStart)
		if end > idStart {
			f(start, end, s[idStart:end])
		}
		from = max(end, idStart)
	}
}

// collectRefs adds the bulkIds that strings in v refer to.
func collectRefs(v any, into map[string]bool) {
	switch x := v.(type) {
	case string:
		eachRef(x, func(_, _ int, id string) { into[id] = true })
	case map[string]any:
		for _, e := range x {
			collectRefs(e, into)
		}
	case []any:
		for _, e := range x {
			collectRefs(e, into)
		}
	}
}
