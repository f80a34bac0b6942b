package v1alpha1

import (
	"bytes"
	"encoding/json"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// MemberList is an OrgTeamMemberSlice's member ids. Its JSON form is a list of strings, as
// it always was.
//
// Why the CRD's schema leaves it untyped: the apiserver validates a typed list item by item,
// building a validator and a path string for each, which was half of its work on every
// slice write (a PUT of a 100,000-member group writes 100,000 ids; docs/benchmarks.md, "An
// untyped member list"). The admission webhook checks the form instead, for every writer but
// Roster itself, with a message that names the offending entry.
//
// Why decoding tolerates any other form: the schema no longer guarantees it, and a stored
// slice that a typed decoder refused would stop every Roster replica's slice cache from
// listing (and so from starting) — if the webhook was ever bypassed (its configuration
// deleted, say). An entry that is not a string is skipped, and a value that is not a list
// decodes as no members; the stored object keeps what it holds until Roster next writes the
// slice, which writes only the ids it read (and deletes a slice left with none, as any
// emptied slice).
type MemberList []string

// UnmarshalJSON decodes a list of strings exactly as encoding/json would into a []string
// (null leaves no list), in one pass over the usual form: ids without escapes. Any other
// form is decoded leniently (see MemberList), a null entry included: encoding/json would
// make it "", which is no id either, so it is skipped like any other entry that is no string.
func (m *MemberList) UnmarshalJSON(data []byte) error {
	if ids, ok := parseStringList(data); ok {
		*m = ids
		return nil
	}
	*m = lenientStringList(data)
	return nil
}

// parseStringList decodes a JSON list of strings, or null; ok is false for anything else.
// data is valid JSON (the caller's decoder checked it before handing the value over).
func parseStringList(data []byte) (ids MemberList, ok bool) {
	i := skipSpace(data, 0)
	if bytes.Equal(bytes.TrimSpace(data[i:]), []byte("null")) {
		return nil, true
	}
	if i >= len(data) || data[i] != '[' {
		return nil, false
	}
	// Sized once, by the commas (one per member after the first, unless some are inside
	// ids): appending to an empty list grew it, and copied it, a dozen times per slice.
	// (bounded: commas inside ids count too).
	ids = make(MemberList, 0, min(bytes.Count(data[i:], []byte{','})+1, MaxMembersPerSlice))
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return ids, skipSpace(data, i+1) == len(data)
	}
	// The ids share one copy of data, one allocation rather than one per id (2,000 per full
	// slice): the cache's transform (internal/memberids) replaces nearly all of them with
	// shared strings anyway, and a list kept as decoded holds about the bytes it would hold
	// in its own strings.
	text := string(data)
	for i < len(data) {
		s, next, ok := parseString(data, text, i)
		if !ok {
			return nil, false
		}
		ids = append(ids, s)
		i = skipSpace(data, next)
		if i >= len(data) {
			return nil, false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case ']':
			return ids, skipSpace(data, i+1) == len(data)
		default:
			return nil, false
		}
	}
	return nil, false
}

// parseString decodes the JSON string starting at data[i] and returns the index after it.
// Plain ASCII without escapes is taken from text (string(data)) as it is; anything else goes
// through encoding/json, so escapes and invalid UTF-8 come out exactly as it decodes them.
func parseString(data []byte, text string, i int) (s string, next int, ok bool) {
	if i >= len(data) || data[i] != '"' {
		return "", 0, false
	}
	plain := true
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			if plain {
				if j == i+1 {
					return "", j + 1, true // not text[i+1:i+1], which would keep text alive
				}
				return text[i+1 : j], j + 1, true
			}
			var decoded string // not s: its address would move every call's s to the heap
			if err := json.Unmarshal(data[i:j+1], &decoded); err != nil {
				return "", 0, false
			}
			return decoded, j + 1, true
		case c == '\\':
			plain = false
			j++ // the escaped byte cannot end the string
		case c < 0x20 || c >= 0x80:
			plain = false
		}
	}
	return "", 0, false
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// lenientStringList keeps the string entries of a JSON list, in order, and decodes anything
// that is not a list as no members.
func lenientStringList(data []byte) MemberList {
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil
	}
	ids := MemberList{}
	for _, r := range raw {
		if s, ok := stringEntry(r); ok {
			ids = append(ids, s)
		}
	}
	return ids
}

// stringEntry decodes one list entry that is a JSON string; ok is false for any other value
// (null included: encoding/json would make it "" without an error). What decoding keeps and
// what CheckMemberList accepts are this one test.
func stringEntry(e json.RawMessage) (s string, ok bool) {
	e = bytes.TrimSpace(e)
	return s, len(e) > 0 && e[0] == '"' && json.Unmarshal(e, &s) == nil
}

// CheckMemberList checks a members value as a client sent it (raw JSON, at path): a list of
// at most MaxMembersPerSlice strings, or null. The admission webhook applies it to every
// writer but Roster, since the CRD's schema does not (see MemberList); an entry it refuses is
// one that decoding would skip.
func CheckMemberList(raw []byte, path *field.Path) *field.Error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return field.TypeInvalid(path, string(truncateJSON(raw)), "must be a list of strings: user ids (OrgUser names)")
	}
	if len(entries) > MaxMembersPerSlice {
		return field.TooMany(path, len(entries), MaxMembersPerSlice)
	}
	for i, e := range entries {
		if _, ok := stringEntry(e); !ok {
			return field.TypeInvalid(path.Index(i), string(truncateJSON(bytes.TrimSpace(e))), "must be a string: a user id (OrgUser name)")
		}
	}
	return nil
}

// truncateJSON shortens a value quoted in an error.
func truncateJSON(b []byte) []byte {
	if len(b) > 80 {
		return append(b[:77:77], "..."...)
	}
	return b
}
