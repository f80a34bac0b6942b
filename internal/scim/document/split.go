package document

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/rosterhq/roster/internal/scim/jsonscan"
)

// DecodeExcept parses a JSON object body like Decode, but leaves the top-level key named key
// (case-insensitively; the last one if several spellings appear) out of the document and
// returns its value as raw JSON instead: nil when the key is absent or null.
//
// Why: a PUT /Groups body can carry 100,000 members, and decoding them into generic maps (one
// map, two strings and an interface per member) was most of the cost of reading it. The value
// is left for a reader that knows its shape (patch.DocumentMemberIDs).
//
// The body is scanned once to find the key's value; a body this scan does not understand is
// decoded by Decode and the key taken out of the map, so errors are Decode's. The raw value
// returned is not validated beyond its bracket structure: its reader must be strict.
func DecodeExcept(body []byte, key string) (map[string]any, json.RawMessage, error) {
	rest, raw, ok := cutKey(body, key)
	if !ok {
		doc, err := Decode(body)
		if err != nil {
			return nil, nil, err
		}
		var v any
		for k, x := range doc {
			if strings.EqualFold(k, key) {
				v = x
				delete(doc, k)
			}
		}
		if v == nil {
			return doc, nil, nil
		}
		raw, err = json.Marshal(v)
		return doc, raw, err
	}
	doc, err := Decode(rest)
	if err != nil {
		// Report the error as the whole body has it (offsets in the message are the body's).
		if _, whole := Decode(body); whole != nil {
			err = whole
		}
		return nil, nil, err
	}
	if bytes.Equal(raw, []byte("null")) {
		raw = nil
	}
	return doc, raw, nil
}

// cutKey finds the top-level members named key in a JSON object and returns the body without
// them (the other members' bytes as they were, plus whatever followed the object, so that
// Decode reports it) and its value. ok is false for a body it cannot follow, and for a key
// that appears more than once (in any spelling).
func cutKey(body []byte, key string) (rest []byte, value json.RawMessage, ok bool) {
	s := scanner{jsonscan.Scanner{B: body}}
	s.Space()
	if !s.Eat('{') {
		return nil, nil, false
	}
	out := make([]byte, 0, 512)
	out = append(out, '{')
	found := false
	for first := true; ; first = false {
		s.Space()
		if s.Eat('}') {
			break
		}
		if !first && !s.Eat(',') {
			return nil, nil, false
		}
		s.Space()
		start := s.I
		name, ok := s.key()
		if !ok {
			return nil, nil, false
		}
		s.Space()
		if !s.Eat(':') {
			return nil, nil, false
		}
		s.Space()
		vstart := s.I
		if !s.skipValue() || s.I == vstart {
			return nil, nil, false // bad JSON, or no value at all: Decode reports it
		}
		if strings.EqualFold(name, key) {
			if found {
				// Spelled twice: the earlier value would be dropped unread, so an error in it
				// would go unreported. Decode reads them all (rare: no client sends it).
				return nil, nil, false
			}
			value, found = body[vstart:s.I], true
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, body[start:s.I]...)
	}
	if !found {
		return nil, nil, false // nothing to cut: Decode the body as it is
	}
	out = append(out, '}')
	return append(out, body[s.I:]...), value, true
}

// scanner walks JSON bytes without decoding them, checking their bracket structure only.
type scanner struct{ jsonscan.Scanner }

// key reads an object key, unescaping it if it has escapes.
func (s *scanner) key() (string, bool) {
	start := s.I
	escaped, ok := s.skipString()
	if !ok {
		return "", false
	}
	if !escaped {
		return string(s.B[start+1 : s.I-1]), true
	}
	var k string
	if json.Unmarshal(s.B[start:s.I], &k) != nil {
		return "", false
	}
	return k, true
}

// skipString moves past a string starting at s.I and reports whether it held an escape.
func (s *scanner) skipString() (escaped, ok bool) {
	if !s.Eat('"') {
		return false, false
	}
	for s.I < len(s.B) {
		// Jump to the closing quote when no escape comes before it (most strings).
		if j := bytes.IndexByte(s.B[s.I:], '"'); j >= 0 && bytes.IndexByte(s.B[s.I:s.I+j], '\\') < 0 {
			s.I += j + 1
			return escaped, true
		}
		switch s.B[s.I] {
		case '"':
			s.I++
			return escaped, true
		case '\\':
			escaped = true
			s.I += 2
		default:
			s.I++
		}
	}
	return escaped, false
}

// skipValue moves past one value: strings and brackets are followed, anything else is taken
// up to the next delimiter. It checks the bracket structure only.
func (s *scanner) skipValue() bool {
	depth := 0
	for s.I < len(s.B) {
		switch c := s.B[s.I]; c {
		case '"':
			if _, ok := s.skipString(); !ok {
				return false
			}
		case '{', '[':
			depth++
			s.I++
		case '}', ']':
			if depth == 0 {
				return true // the end of the enclosing object
			}
			depth--
			s.I++
		case ',':
			if depth == 0 {
				return true
			}
			s.I++
		default:
			s.I++
		}
		if depth == 0 {
			s.Space()
			if s.I < len(s.B) && (s.B[s.I] == ',' || s.B[s.I] == '}') {
				return true
			}
			if s.I < len(s.B) && (s.B[s.I] == '"' || s.B[s.I] == '{' || s.B[s.I] == '[') {
				return false // two values in a row
			}
		}
	}
	return false
}
