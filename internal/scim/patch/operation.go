package patch

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// MaxOperations is the most operations one PATCH request may carry. Okta sends up to about 256
// member changes per request.
const MaxOperations = 1000

// Op is a PATCH operation name, lower-cased.
type Op string

// The operations of RFC 7644 §3.5.2.
const (
	Add     Op = "add"
	Replace Op = "replace"
	Remove  Op = "remove"
)

// Operation is one parsed PATCH operation.
type Operation struct {
	Op Op
	// Path is nil when the operation has none (a path-less add or replace).
	Path *Path
	// Value is the decoded JSON value (numbers as float64); nil when absent or null.
	Value any
}

type rawOperation struct {
	Op    *string         `json:"op"`
	Path  *string         `json:"path"`
	Value json.RawMessage `json:"value"`
}

// Parse parses a PatchOp request body (RFC 7644 §3.5.2). Member names match
// case-insensitively, as encoding/json does.
//
//   - "schemas" must contain the PatchOp URN (other URNs are ignored); otherwise 400
//     invalidSyntax.
//   - "Operations" must hold 1 to MaxOperations operations (400 invalidSyntax, or 400 tooMany
//     above the cap).
//   - "op" is add, replace or remove in any case (Entra sends "Replace"); anything else is 400
//     invalidSyntax.
//   - "path" is parsed by ParsePath (400 invalidPath); an empty path counts as none.
//   - add and replace need a "value" member (null is allowed for replace: it unsets); a
//     path-less add or replace needs an object value (400 invalidValue); remove needs a path
//     (400 noTarget).
func Parse(body []byte) ([]Operation, error) {
	var req struct {
		Schemas    []string          `json:"schemas"`
		Operations []json.RawMessage `json:"Operations"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "request body is not a PatchOp: %v", err)
	}
	if !hasPatchSchema(req.Schemas) {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "schemas must contain %q", schema.PatchOpSchema)
	}
	switch n := len(req.Operations); {
	case n == 0:
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "Operations must contain at least one operation")
	case n > MaxOperations:
		return nil, scimerror.BadRequest(scimerror.TooMany, "%d operations in one request; at most %d are allowed", n, MaxOperations)
	}
	ops := make([]Operation, 0, len(req.Operations))
	for i, raw := range req.Operations {
		op, err := parseOperation(raw)
		if err != nil {
			return nil, atOperation(i, err)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

func hasPatchSchema(schemas []string) bool {
	for _, s := range schemas {
		if strings.EqualFold(s, schema.PatchOpSchema) {
			return true
		}
	}
	return false
}

func parseOperation(raw json.RawMessage) (Operation, error) {
	var r rawOperation
	if err := json.Unmarshal(raw, &r); err != nil {
		return Operation{}, scimerror.BadRequest(scimerror.InvalidSyntax, "invalid operation: %v", err)
	}
	if r.Op == nil {
		return Operation{}, scimerror.BadRequest(scimerror.InvalidSyntax, `"op" is required`)
	}
	op := Operation{Op: Op(strings.ToLower(*r.Op))}
	switch op.Op {
	case Add, Replace, Remove:
	default:
		return Operation{}, scimerror.BadRequest(scimerror.InvalidSyntax, "unknown op %s: want add, replace or remove", quote(*r.Op))
	}
	if r.Path != nil && *r.Path != "" {
		p, err := ParsePath(*r.Path)
		if err != nil {
			return Operation{}, err
		}
		op.Path = &p
	}
	hasValue := len(r.Value) > 0
	if hasValue {
		if err := json.Unmarshal(r.Value, &op.Value); err != nil {
			return Operation{}, scimerror.BadRequest(scimerror.InvalidSyntax, "invalid value: %v", err)
		}
	}
	switch {
	case op.Op == Remove && op.Path == nil:
		return Operation{}, scimerror.BadRequest(scimerror.NoTarget, "remove needs a path")
	case op.Op != Remove && !hasValue:
		return Operation{}, scimerror.BadRequest(scimerror.InvalidSyntax, "%s needs a value", op.Op)
	case op.Op == Add && op.Value == nil:
		return Operation{}, scimerror.BadRequest(scimerror.InvalidValue, "add needs a non-null value")
	case op.Op != Remove && op.Path == nil:
		if _, ok := op.Value.(map[string]any); !ok {
			return Operation{}, scimerror.BadRequest(scimerror.InvalidValue, "%s without a path needs an object value", op.Op)
		}
	}
	return op, nil
}

// atOperation prefixes a *scimerror.Error's detail with the index of the operation at fault.
func atOperation(i int, err error) error {
	se, ok := scimerror.As(err)
	if !ok {
		return err
	}
	return &scimerror.Error{Status: se.Status, ScimType: se.ScimType, Detail: "Operations[" + strconv.Itoa(i) + "]: " + se.Detail}
}
