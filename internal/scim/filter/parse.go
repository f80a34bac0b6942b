package filter

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// Limits on hostile input: a filter arrives in a query string or a PATCH path.
const (
	// MaxLength is the longest filter Parse accepts, in bytes.
	MaxLength = 4096
	// MaxDepth is the deepest nesting of parentheses, not and value paths Parse accepts.
	MaxDepth = 64
)

// Parse parses a SCIM filter (RFC 7644 §3.4.2.2). Operators, "and", "or", "not", "pr", true,
// false and null match case-insensitively; "and" binds tighter than "or", and "not" applies to
// the parenthesised filter that follows it. Errors are *scimerror.Error, 400 invalidFilter,
// with a detail giving the byte offset.
func Parse(s string) (Expr, error) {
	return parse(s, false)
}

// ParseValueFilter parses the filter between the brackets of a value path, as in the PATCH
// path emails[type eq "work"].value: like Parse, but nested value paths are rejected.
func ParseValueFilter(s string) (Expr, error) {
	return parse(s, true)
}

func parse(s string, inValuePath bool) (Expr, error) {
	if len(s) > MaxLength {
		return nil, scimerror.BadRequest(scimerror.InvalidFilter, "filter is longer than %d bytes", MaxLength)
	}
	if !utf8.ValidString(s) {
		return nil, scimerror.BadRequest(scimerror.InvalidFilter, "filter is not valid UTF-8")
	}
	p := &parser{s: s, inValuePath: inValuePath}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(p.s) {
		return nil, p.errorf("unexpected %s", p.found())
	}
	return e, nil
}

// ParseAttrPath parses an attribute path: [URN ":"] name ["." subAttr]. A URN starts with
// "urn:" and ends at the last colon; names start with a letter (or are "$ref") and hold
// letters, digits, "-" and "_". Errors are 400 invalidFilter.
func ParseAttrPath(s string) (AttrPath, error) {
	var p AttrPath
	rest := s
	if len(s) >= 4 && strings.EqualFold(s[:4], "urn:") {
		i := strings.LastIndexByte(s, ':')
		p.URN, rest = s[:i], s[i+1:]
		if !validURN(p.URN) {
			return AttrPath{}, scimerror.BadRequest(scimerror.InvalidFilter, "invalid schema URN in attribute path %q", s)
		}
	}
	name, sub, hasSub := strings.Cut(rest, ".")
	if !validName(name) || (hasSub && !validName(sub)) {
		return AttrPath{}, scimerror.BadRequest(scimerror.InvalidFilter, "invalid attribute path %q", s)
	}
	p.Attr, p.SubAttr = name, sub
	return p, nil
}

// validURN accepts "urn:" followed by colon-separated non-empty segments of URN characters.
func validURN(s string) bool {
	segs := strings.Split(s, ":")
	if len(segs) < 2 {
		return false
	}
	for _, seg := range segs[1:] {
		if seg == "" {
			return false
		}
		for i := 0; i < len(seg); i++ {
			if !isNameChar(seg[i]) && seg[i] != '.' {
				return false
			}
		}
	}
	return true
}

// validName checks ATTRNAME = ALPHA *(nameChar), plus "$ref" (RFC 7644 §3.10).
func validName(s string) bool {
	if s == "$ref" {
		return true
	}
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameChar(s[i]) {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isNameChar(c byte) bool { return isAlpha(c) || '0' <= c && c <= '9' || c == '-' || c == '_' }

// isPathChar reports whether c can appear in an attribute path token.
func isPathChar(c byte) bool { return isNameChar(c) || c == '.' || c == ':' || c == '$' }

type parser struct {
	s           string
	pos         int
	depth       int
	inValuePath bool
}

func (p *parser) errorf(format string, args ...any) error {
	return scimerror.BadRequest(scimerror.InvalidFilter, "invalid filter at offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

// found describes the input at the current position for error details.
func (p *parser) found() string {
	if p.pos >= len(p.s) {
		return "end of filter"
	}
	rest := p.s[p.pos:]
	if len(rest) > 20 {
		rest = rest[:20] + "…"
	}
	return fmt.Sprintf("%q", rest)
}

func (p *parser) skipSpace() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n' || p.s[p.pos] == '\r') {
		p.pos++
	}
}

// peekWord returns the path-character token at the current position without consuming it.
func (p *parser) peekWord() string {
	end := p.pos
	for end < len(p.s) && isPathChar(p.s[end]) {
		end++
	}
	return p.s[p.pos:end]
}

// keyword consumes the word kw (any case) when it comes next.
func (p *parser) keyword(kw string) bool {
	p.skipSpace()
	if w := p.peekWord(); strings.EqualFold(w, kw) {
		p.pos += len(w)
		return true
	}
	return false
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return p.errorf("nested deeper than %d levels", MaxDepth)
	}
	return nil
}

func (p *parser) parseOr() (Expr, error) {
	left, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		right, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		left = &Logical{Op: Or, Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) parseAnd() (Expr, error) {
	left, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		right, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		left = &Logical{Op: And, Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) parseUnary() (Expr, error) {
	p.skipSpace()
	if p.pos < len(p.s) && p.s[p.pos] == '(' {
		return p.parseGroup()
	}
	// "not" is a keyword only before "("; otherwise it is an attribute called "not".
	if w := p.peekWord(); strings.EqualFold(w, "not") {
		save := p.pos
		p.pos += len(w)
		p.skipSpace()
		if p.pos < len(p.s) && p.s[p.pos] == '(' {
			e, err := p.parseGroup()
			if err != nil {
				return nil, err
			}
			return &Not{Expr: e}, nil
		}
		p.pos = save
	}
	return p.parseAttrExpr()
}

// parseGroup parses "(" filter ")".
func (p *parser) parseGroup() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.pos++ // "("
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos >= len(p.s) || p.s[p.pos] != ')' {
		return nil, p.errorf("expected \")\", found %s", p.found())
	}
	p.pos++
	p.depth--
	return e, nil
}

// parseAttrExpr parses `path pr`, `path op value`, `path[filter]` and Entra's
// `path[filter].sub op value`.
func (p *parser) parseAttrExpr() (Expr, error) {
	path, err := p.parsePath()
	if err != nil {
		return nil, err
	}
	if p.pos >= len(p.s) || p.s[p.pos] != '[' {
		p.skipSpace()
		return p.parseOperator(path)
	}
	if p.inValuePath {
		return nil, p.errorf("value paths cannot be nested")
	}
	if path.SubAttr != "" {
		return nil, p.errorf("value path %q cannot follow a sub-attribute", path)
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.pos++ // "["
	p.inValuePath = true
	inner, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	p.inValuePath = false
	p.skipSpace()
	if p.pos >= len(p.s) || p.s[p.pos] != ']' {
		return nil, p.errorf("expected \"]\", found %s", p.found())
	}
	p.pos++
	p.depth--
	vp := &ValuePath{Path: path, Filter: inner}
	if p.pos < len(p.s) && p.s[p.pos] == '.' {
		// emails[type eq "work"].value eq "x" means emails[type eq "work" and value eq "x"].
		p.pos++
		name := p.peekWord()
		if !validName(name) {
			return nil, p.errorf("expected a sub-attribute name, found %s", p.found())
		}
		p.pos += len(name)
		p.skipSpace()
		sub, err := p.parseOperator(AttrPath{Attr: name})
		if err != nil {
			return nil, err
		}
		vp.Filter = &Logical{Op: And, Left: inner, Right: sub}
	}
	return vp, nil
}

func (p *parser) parsePath() (AttrPath, error) {
	w := p.peekWord()
	if w == "" {
		return AttrPath{}, p.errorf("expected an attribute path, found %s", p.found())
	}
	path, err := ParseAttrPath(w)
	if err != nil {
		return AttrPath{}, p.errorf("invalid attribute path %q", w)
	}
	p.pos += len(w)
	return path, nil
}

// parseOperator parses what follows an attribute path: "pr", or an operator and a value.
func (p *parser) parseOperator(path AttrPath) (Expr, error) {
	w := p.peekWord()
	op := CompareOp(strings.ToLower(w))
	switch op {
	case "pr":
		p.pos += len(w)
		return &Present{Path: path}, nil
	case Eq, Ne, Co, Sw, Ew, Gt, Ge, Lt, Le:
		p.pos += len(w)
	default:
		return nil, p.errorf("expected an operator after %q, found %s", path, p.found())
	}
	p.skipSpace()
	v, err := p.parseValue()
	if err != nil {
		return nil, err
	}
	return &Comparison{Path: path, Op: op, Value: v}, nil
}

// parseValue parses a JSON string, number, true, false or null, or an unquoted string.
func (p *parser) parseValue() (any, error) {
	if p.pos >= len(p.s) {
		return nil, p.errorf("expected a value, found end of filter")
	}
	start := p.pos
	switch c := p.s[p.pos]; {
	case c == '"':
		end := p.pos + 1
		for end < len(p.s) && p.s[end] != '"' {
			if p.s[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(p.s) {
			return nil, p.errorf("unterminated string")
		}
		var s string
		if err := json.Unmarshal([]byte(p.s[start:end+1]), &s); err != nil {
			return nil, p.errorf("invalid string %s", p.s[start:end+1])
		}
		p.pos = end + 1
		return s, nil
	}
	return p.parseBareValue()
}

// parseBareValue parses an unquoted value: true, false, null, a number, or, as Entra sends
// them (`userName sw O`, `meta.created gt 2015-10-10T14:38:21.86-07:00`, `externalId eq
// 8aa1a7c4`), a string. The token runs to the next whitespace, ")" or "]", so it is
// unambiguous; one holding a quote, "(" or "[", or that is a keyword of the grammar ("and",
// "or", "not"), is refused. A token that has the form of a JSON number is a json.Number holding
// the token's text, whatever its magnitude: whether it is read as a number or as a string
// depends on the attribute it is compared with (see Coerce and Validate).
func (p *parser) parseBareValue() (any, error) {
	end := p.pos
	for end < len(p.s) && strings.IndexByte(" \t\r\n)]", p.s[end]) < 0 {
		end++
	}
	tok := p.s[p.pos:end]
	switch strings.ToLower(tok) {
	case "":
		return nil, p.errorf("expected a value, found %s", p.found())
	case "true":
		p.pos = end
		return true, nil
	case "false":
		p.pos = end
		return false, nil
	case "null":
		p.pos = end
		return nil, nil
	case "and", "or", "not":
		return nil, p.errorf("expected a value, found the keyword %q (quote it to compare with this string)", tok)
	}
	if strings.ContainsAny(tok, `"([`) {
		return nil, p.errorf("expected a value (string, number, true, false or null), found %s", p.found())
	}
	if jsonNumber.MatchString(tok) {
		// Kept as written, not as a float64: compared with a string attribute the number is
		// its text (Entra's `externalId eq 12345678901234567890`), which a float64 would round.
		p.pos = end
		return json.Number(tok), nil
	}
	p.pos = end
	return tok, nil
}

// jsonNumber is the JSON number grammar (RFC 8259 §6).
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)
