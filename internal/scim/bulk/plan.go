package bulk

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// Step is one operation in the order it runs: Index into Request.Operations, and Err when
// the operation is answered with that error instead of running.
type Step struct {
	Index int
	Err   *scimerror.Error
}

// Plan orders the operations: request order, except that an operation referring to a bulkId
// runs after the POST that creates it (RFC 7644 §3.7.2 lets a reference come before its
// POST, and the service provider must try to resolve it). Each step runs the first operation,
// in request order, whose references are all created, so a request without forward
// references runs exactly in request order, as identity providers expect.
//
// A reference to a bulkId that no POST of the request creates is that operation's own error,
// 400 invalidValue, in its place in request order. Operations whose references form a cycle
// (a group whose members name a group created by a POST that names the first one), or wait
// on such a cycle, cannot be ordered: RFC 7644 §3.7.1 lets the service provider stop there
// with 409 Conflict. Roster does, rather than create a resource with a dangling member and
// patch it afterwards: a Roster group has users as members, so only a malformed request has a
// cycle. They come last, in request order.
func Plan(ops []Operation) []Step {
	creator := map[string]int{}
	for i, op := range ops {
		if op.Method == http.MethodPost {
			creator[op.BulkID] = i
		}
	}
	steps := make([]Step, 0, len(ops))
	done := make([]bool, len(ops))
	ready := func(i int) bool {
		for _, r := range ops[i].Refs {
			if c, ok := creator[r]; ok && !done[c] {
				return false
			}
		}
		return true
	}
	// Each pass takes the first ready operation; n ≤ maxOperations keeps the quadratic
	// bound small (1,000² checks of a few references each).
	for len(steps) < len(ops) {
		next := -1
		for i := range ops {
			if !done[i] && ready(i) {
				next = i
				break
			}
		}
		if next < 0 {
			break
		}
		done[next] = true
		steps = append(steps, Step{Index: next, Err: unknownRef(ops[next], creator)})
	}
	for i := range ops {
		if !done[i] {
			steps = append(steps, Step{Index: i, Err: scimerror.New(http.StatusConflict, "",
				"circular bulkId references: operation %d refers to %s, which cannot be created before it (RFC 7644 §3.7.1)",
				i+1, quoteRefs(ops[i].Refs))})
		}
	}
	return steps
}

func unknownRef(op Operation, creator map[string]int) *scimerror.Error {
	for _, r := range op.Refs {
		if _, ok := creator[r]; !ok {
			return invalid("%s%s refers to no POST of this bulk request", RefPrefix, r)
		}
	}
	return nil
}

func quoteRefs(refs []string) string {
	q := make([]string, len(refs))
	for i, r := range refs {
		q[i] = RefPrefix + r
	}
	return strings.Join(q, ", ")
}

// NotCreated is the error of an operation that refers to a bulkId whose POST failed: the
// resource it names does not exist, so the operation is not run.
func NotCreated(bulkID string) *scimerror.Error {
	return scimerror.New(http.StatusConflict, "", "%s%s was not created: its POST failed, so this operation was not run", RefPrefix, bulkID)
}

// Resolve returns the operation's id and data with every "bulkId:<id>" replaced by the id of
// the resource that bulkId created (created maps bulkId → id), or NotCreated for the first
// reference to a bulkId that created nothing. The operation is left unchanged.
func Resolve(op Operation, created map[string]string) (id string, data []byte, err error) {
	for _, r := range op.Refs {
		if _, ok := created[r]; !ok {
			return "", nil, NotCreated(r)
		}
	}
	id = substitute(op.ID, created)
	if op.Data != nil {
		if data, err = json.Marshal(resolveValue(op.Data, created)); err != nil {
			return "", nil, invalid("the operation's data cannot be encoded: %v", err)
		}
	}
	return id, data, nil
}

func resolveValue(v any, created map[string]string) any {
	switch x := v.(type) {
	case string:
		return substitute(x, created)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = resolveValue(e, created)
		}
		return out
	case []any:
		out := slices.Clone(x)
		for i, e := range out {
			out[i] = resolveValue(e, created)
		}
		return out
	}
	return v
}

// substitute replaces the references in s by the created ids.
func substitute(s string, created map[string]string) string {
	if !strings.Contains(s, RefPrefix) {
		return s
	}
	var b strings.Builder
	last := 0
	eachRef(s, func(start, end int, id string) {
		if v, ok := created[id]; ok {
			b.WriteString(s[last:start])
			b.WriteString(v)
			last = end
		}
	})
	b.WriteString(s[last:])
	return b.String()
}
