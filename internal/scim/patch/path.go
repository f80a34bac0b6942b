package patch

import (
	"strings"

	"github.com/rosterhq/roster/internal/scim/filter"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// Path is a PATCH target (RFC 7644 §3.5.2 PATH): an attribute path, optionally followed by a
// value filter and a sub-attribute. Names are kept as written; Apply resolves them against the
// schema case-insensitively.
//
//	name.familyName                       Attr "name", SubAttr "familyName"
//	emails[type eq "work"].value          Attr "emails", Filter type eq "work", SubAttr "value"
//	members[value eq "2819c223"]          Attr "members", Filter value eq "2819c223"
//	urn:…:enterprise:2.0:User:manager     URN "urn:…:enterprise:2.0:User", Attr "manager"
//
// A whole extension, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", parses as
// URN "urn:…:enterprise:2.0" and Attr "User" (the syntax cannot tell); Apply recognises it.
type Path struct {
	URN     string
	Attr    string
	Filter  filter.Expr // nil when the path has no value filter
	SubAttr string
}

// String prints the path in canonical form; ParsePath of the result gives an equal Path.
func (p Path) String() string {
	var b strings.Builder
	if p.URN != "" {
		b.WriteString(p.URN)
		b.WriteByte(':')
	}
	b.WriteString(p.Attr)
	if p.Filter != nil {
		b.WriteByte('[')
		b.WriteString(p.Filter.String())
		b.WriteByte(']')
	}
	if p.SubAttr != "" {
		b.WriteByte('.')
		b.WriteString(p.SubAttr)
	}
	return b.String()
}

// ParsePath parses a PATCH path. The filter between brackets is parsed by the filter package.
// Errors are *scimerror.Error, 400 invalidPath.
func ParsePath(s string) (Path, error) {
	if len(s) > filter.MaxLength {
		return Path{}, invalidPath(s, "longer than %d bytes", filter.MaxLength)
	}
	open := strings.IndexByte(s, '[')
	if open < 0 {
		ap, err := filter.ParseAttrPath(s)
		if err != nil {
			return Path{}, invalidPath(s, "not an attribute path")
		}
		return Path{URN: ap.URN, Attr: ap.Attr, SubAttr: ap.SubAttr}, nil
	}
	ap, err := filter.ParseAttrPath(s[:open])
	if err != nil || ap.SubAttr != "" {
		return Path{}, invalidPath(s, "no attribute path before \"[\"")
	}
	end := closingBracket(s, open+1)
	if end < 0 {
		return Path{}, invalidPath(s, "missing \"]\"")
	}
	f, err := filter.ParseValueFilter(s[open+1 : end])
	if err != nil {
		detail := err.Error()
		if se, ok := scimerror.As(err); ok {
			detail = se.Detail
		}
		return Path{}, invalidPath(s, "%s", detail)
	}
	p := Path{URN: ap.URN, Attr: ap.Attr, Filter: f}
	switch rest := s[end+1:]; {
	case rest == "":
	case rest[0] == '.':
		sub, err := filter.ParseAttrPath(rest[1:])
		if err != nil || sub.URN != "" || sub.SubAttr != "" {
			return Path{}, invalidPath(s, "invalid sub-attribute %q after \"]\"", rest[1:])
		}
		p.SubAttr = sub.Attr
	default:
		return Path{}, invalidPath(s, "unexpected %q after \"]\"", rest)
	}
	return p, nil
}

// closingBracket returns the index of the first "]" at or after i that is not inside a JSON
// string, or -1.
func closingBracket(s string, i int) int {
	inString := false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case !inString && c == ']':
			return i
		}
	}
	return -1
}

func invalidPath(path, format string, args ...any) error {
	e := scimerror.BadRequest(scimerror.InvalidPath, format, args...)
	e.Detail = "invalid path " + quote(path) + ": " + e.Detail
	return e
}

// quote shortens a client-supplied string for an error detail.
func quote(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}
