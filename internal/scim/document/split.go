package document

import (
	"bytes"
	"encoding/json"
	"strings"
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
// Decode reports it) and the last one's value. ok is false for a body it cannot follow.
func cutKey(body []byte, key string) (rest []byte, value json.RawMessage, ok bool) {
	s := scanner{b: body}
	s.space()
	if !s.eat('{') {
		return nil, nil, false
	}
	out := make([]byte, 0, 512)
	out = append(out, '{')
	found := false
	for first := true; ; first = false {
		s.space()
		if s.eat('}') {
			break
		}
		if !first && !s.eat(',') {
			return nil, nil, false
		}
		s.space()
		start := s.i
		name, ok := s.key()
		if !ok {
			return nil, nil, false
		}
		s.space()
		if !s.eat(':') {
			return nil, nil, false
		}
		s.space()
		vstart := s.i
		if !s.skipValue() {
			return nil, nil, false
		}
		if strings.EqualFold(name, key) {
			value, found = body[vstart:s.i], true
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, body[start:s.i]...)
	}
	if !found {
		return nil, nil, false // nothing to cut: Decode the body as it is
	}
	out = append(out, '}')
	return append(out, body[s.i:]...), value, true
}

// scanner walks JSON bytes without decoding them.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// key reads an object key, unescaping it if it has escapes.
func (s *scanner) key() (string, bool) {
	start := s.i
	escaped, ok := s.skipString()
	if !ok {
		return "", false
	}
	if !escaped {
		return string(s.b[start+1 : s.i-1]), true
	}
	var k string
	if json.Unmarshal(s.b[start:s.i], &k) != nil {
		return "", false
	}
	return k, true
}

// skipString moves past a string starting at s.i and reports whether it held an escape.
func (s *scanner) skipString() (escaped, ok bool) {
	if !s.eat('"') {
		return false, false
	}
	for s.i < len(s.b) {
		// Jump to the closing quote when no escape comes before it (most strings).
		if j := bytes.IndexByte(s.b[s.i:], '"'); j >= 0 && bytes.IndexByte(s.b[s.i:s.i+j], '\\') < 0 {
			s.i += j + 1
			return escaped, true
		}
		switch s.b[s.i] {
		case '"':
			s.i++
			return escaped, true
		case '\\':
			escaped = true
			s.i += 2
		default:
			s.i++
		}
	}
	return escaped, false
}

// skipValue moves past one value: strings and brackets are followed, anything else is taken
// up to the next delimiter. It checks the bracket structure only.
func (s *scanner) skipValue() bool {
	depth := 0
	for s.i < len(s.b) {
		switch c := s.b[s.i]; c {
		case '"':
			if _, ok := s.skipString(); !ok {
				return false
			}
		case '{', '[':
			depth++
			s.i++
		case '}', ']':
			if depth == 0 {
				return true // the end of the enclosing object
			}
			depth--
			s.i++
		case ',':
			if depth == 0 {
				return true
			}
			s.i++
		default:
			s.i++
		}
		if depth == 0 {
			s.space()
			if s.i < len(s.b) && (s.b[s.i] == ',' || s.b[s.i] == '}') {
				return true
			}
			if s.i < len(s.b) && (s.b[s.i] == '"' || s.b[s.i] == '{' || s.b[s.i] == '[') {
				return false // two values in a row
			}
		}
	}
	return false
}
