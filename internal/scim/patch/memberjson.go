package patch

import (
	"encoding/json"
	"slices"

	"github.com/rosterhq/roster/internal/scim/jsonscan"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// DocumentMemberIDs reads the member ids of a Group document's "members" value, given as raw
// JSON (document.DecodeExcept): a list of member objects, or one member object, each with a
// non-empty string "value" (display, type and "$ref" may come along and are ignored). A bare
// string id, which PATCH accepts (SplitMembers), is refused in a document. Errors are 400:
// invalidSyntax for bad JSON, invalidValue for a member without a usable value.
//
// The usual shape — a list of flat member objects, as Okta and Entra send 100,000 of them in
// one PUT — is read in one pass without decoding the members into maps; anything else goes
// through the generic decoder and SplitMembers' rules.
func DocumentMemberIDs(raw []byte) ([]string, error) {
	if ids, ok := fastMemberIDs(raw); ok {
		return ids, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "the body is not a valid JSON object: %v", err)
	}
	if v == nil {
		return nil, nil
	}
	if items, isList := v.([]any); !isList || slices.ContainsFunc(items, isString) {
		if _, one := v.(map[string]any); !one {
			return nil, scimerror.BadRequest(scimerror.InvalidValue, "members must be a list of objects with a \"value\"")
		}
	}
	return memberIDs(v)
}

func isString(v any) bool {
	_, ok := v.(string)
	return ok
}

// fastMemberIDs reads a JSON list of flat member objects whose "value" is a plain string. ok
// is false for anything else — another shape, an escape or a non-ASCII byte in a value, a
// number, a nested value, bad JSON, a member without a usable value — which the generic
// route then reads (and reports) exactly as before.
//
// The ids share one backing string: one allocation for all of them rather than one each.
func fastMemberIDs(raw []byte) (ids []string, ok bool) {
	r := memberReader{jsonscan.Scanner{B: raw}}
	r.Space()
	if !r.Eat('[') {
		return nil, false
	}
	// Every id is copied into buf; ends marks where each stops.
	buf := make([]byte, 0, len(raw)/2)
	var ends []int
	r.Space()
	if !r.Eat(']') {
		for {
			r.Space()
			value, ok := r.member()
			if !ok {
				return nil, false
			}
			buf = append(buf, value...)
			ends = append(ends, len(buf))
			r.Space()
			if r.Eat(']') {
				break
			}
			if !r.Eat(',') {
				return nil, false
			}
		}
	}
	r.Space()
	if r.I != len(r.B) {
		return nil, false
	}
	all := string(buf)
	ids = make([]string, len(ends))
	start := 0
	for i, end := range ends {
		ids[i], start = all[start:end], end
	}
	return ids, true
}

// memberReader reads JSON member objects strictly: what it accepts is valid JSON.
type memberReader struct{ jsonscan.Scanner }

// member reads one member object and returns its "value" (exactly that key: another
// spelling goes to the generic route, which matches keys ignoring case).
func (r *memberReader) member() (value []byte, ok bool) {
	if !r.Eat('{') {
		return nil, false
	}
	for first := true; ; first = false {
		r.Space()
		if r.Eat('}') {
			return value, len(value) > 0
		}
		if !first && (!r.Eat(',') || !r.spaced()) {
			return nil, false
		}
		key, plain, ok := r.str()
		if !ok || !plain {
			return nil, false
		}
		r.Space()
		if !r.Eat(':') {
			return nil, false
		}
		r.Space()
		isValue := string(key) == "value"
		switch {
		case isValue && value != nil:
			return nil, false // twice
		case isValue:
			if value, plain, ok = r.str(); !ok || !plain || len(value) == 0 {
				return nil, false
			}
		case len(key) == len("value") && equalFoldASCII(key, "value"):
			return nil, false
		default:
			if !r.scalar() {
				return nil, false
			}
		}
	}
}

// spaced skips white space and reports true: it lets member() chain it in a condition.
func (r *memberReader) spaced() bool {
	r.Space()
	return true
}

// str reads a string and returns its bytes between the quotes. plain reports that they are
// printable ASCII without escapes (so they are the string's value as they are); escapes are
// checked, control characters refused.
func (r *memberReader) str() (s []byte, plain, ok bool) {
	if !r.Eat('"') {
		return nil, false, false
	}
	start, plain := r.I, true
	for r.I < len(r.B) {
		c := r.B[r.I]
		switch {
		case c == '"':
			r.I++
			return r.B[start : r.I-1], plain, true
		case c < 0x20:
			return nil, false, false
		case c == '\\':
			plain = false
			if !r.escape() {
				return nil, false, false
			}
			continue
		case c >= 0x80:
			plain = false
		}
		r.I++
	}
	return nil, false, false
}

// escape checks one escape sequence at r.I and moves past it.
func (r *memberReader) escape() bool {
	if r.I+1 >= len(r.B) {
		return false
	}
	switch r.B[r.I+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		r.I += 2
		return true
	case 'u':
		if r.I+6 > len(r.B) {
			return false
		}
		for _, h := range r.B[r.I+2 : r.I+6] {
			if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
				return false
			}
		}
		r.I += 6
		return true
	}
	return false
}

// scalar moves past a string, true, false or null (a member's display, type or "$ref").
func (r *memberReader) scalar() bool {
	if r.I < len(r.B) && r.B[r.I] == '"' {
		_, _, ok := r.str()
		return ok
	}
	for _, lit := range [...]string{"null", "true", "false"} {
		if len(r.B)-r.I >= len(lit) && string(r.B[r.I:r.I+len(lit)]) == lit {
			r.I += len(lit)
			return true
		}
	}
	return false
}

func equalFoldASCII(b []byte, s string) bool {
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
