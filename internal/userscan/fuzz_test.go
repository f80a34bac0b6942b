package userscan

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/order"
	"github.com/rosterhq/roster/internal/scim/document"
	"github.com/rosterhq/roster/internal/scim/filter"
	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/slimuser"
)

// FuzzMatchIsDocumentMatch: for filters built from the fuzzer's bytes (recipe: attribute
// paths of every kind, URN prefixes in mixed case, value paths, every operator, and/or/not,
// literals of every type, mixed case and non-ASCII) and for filter texts it mutates (raw), a
// full scan's match decides every user of a fixed varied set as filter.Match on the user's
// whole document does, for Roster's User and for an organization's with a custom extension.
// Text that does not parse is refused by the one parser both routes share: nothing to compare.
//
//	go test -run '^$' -fuzz FuzzMatchIsDocumentMatch -fuzztime 60s ./internal/userscan
func FuzzMatchIsDocumentMatch(f *testing.F) {
	for _, seed := range [][]byte{
		{}, {0, 0, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}, {2, 1, 0, 7, 3, 0}, {3, 2, 5, 1, 0, 9, 4}, {4, 4, 1, 2, 0, 3, 1},
		{5, 0, 255, 3, 2, 0, 0}, {6, 9, 0, 1, 2, 3, 1, 0, 6}, {7, 3, 3, 3, 3, 3, 3}, {8, 1, 1, 0, 2, 2, 4, 4},
		[]byte("the fuzzer's bytes pick the pieces"), []byte{0x80, 0x41, 0xc3, 0xa9, 0xff, 0x10, 0x20, 0x30},
	} {
		f.Add(seed, "")
	}
	for _, raw := range []string{
		`title sw "Eng"`, `emails[type eq "work" and value co "EXAMPLE"]`, `not (name.givenName pr) or userName ew ".COM"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "ENG"`,
		`URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:manager.value eq "u-9"`,
		corpURN + `:department co "eng" and department pr`, `emails[type eq "work"].value co "a"`,
		`entitlements[display co "LOG"] or roles[type eq "org" and not (value eq "owner")]`,
		`title gt "ENGINEER" and nickName le "bobby"`, `x509Certificates eq "TUlJQ2ZqQ0NBZU9n"`, `emails eq null`,
		`userName sw O and meta.created gt 2015-10-10T14:38:21.86-07:00`, `externalId eq 12345678901234567890`,
		`name.honorificPrefix eq "ſir" or name.honorificSuffix co "ⅻ"`,
	} {
		f.Add([]byte{}, raw)
	}
	c := newDocumentCheck()
	f.Fuzz(func(t *testing.T, recipe []byte, raw string) {
		c.same(t, raw)
		if len(recipe) > 0 {
			c.same(t, c.gen(recipe).expr(0))
		}
	})
}

// TestGeneratedFiltersAreDocumentMatch runs the fuzz target's check on filters generated from
// a fixed pseudo-random sequence, in every normal test run; and checks that the generator
// feeds it filters that parse, that compile to read strings in place, and that match some
// users and not others: a generator that produced nothing useful would let the fuzz test pass
// whatever the scan did.
func TestGeneratedFiltersAreDocumentMatch(t *testing.T) {
	c := newDocumentCheck()
	rng := rand.New(rand.NewPCG(7, 11))
	parsed, compiled, total := 0, 0, 2000
	for range total {
		recipe := make([]byte, rng.IntN(48))
		for i := range recipe {
			recipe[i] = byte(rng.Uint32())
		}
		p, ok := c.same(t, c.gen(recipe).expr(0))
		if ok {
			parsed++
			if _, ok := compile(schema.User, filter.Coerce(schema.User, p)); ok {
				compiled++
			}
		}
	}
	if parsed < total*3/4 || compiled < parsed/3 || c.seen[true] < total/4 || c.seen[false] < total/4 {
		t.Fatalf("%d of %d generated filters parse, %d compile, matches %v: the fuzz test would prove little", parsed, total, compiled, c.seen)
	}
	t.Logf("%d of %d generated filters parse, %d compile to read strings in place; matches %v", parsed, total, compiled, c.seen)
}

// documentCheck compares a scan's match with the whole document's for a fixed varied set of
// users, under Roster's User and an organization's with a custom extension.
type documentCheck struct {
	users   []*rosterv1.OrgUser
	entries []*order.Entry
	docs    []map[string]any
	rts     []schema.ResourceType
	pool    []string
	seen    map[bool]int
}

func newDocumentCheck() *documentCheck {
	c := &documentCheck{users: append(scanUsers(), longUsers()...), rts: []schema.ResourceType{schema.User, corpUser()}, seen: map[bool]int{}}
	for _, u := range c.users {
		c.entries = append(c.entries, order.UserEntry(slimuser.New(u)))
		c.docs = append(c.docs, document.User(u, checkMeta(u)))
	}
	c.pool = literalPool(c.users)
	return c
}

func checkMeta(u *rosterv1.OrgUser) document.Meta {
	return document.Meta{ResourceType: "User", Version: u.ResourceVersion, Created: u.CreationTimestamp.Time, LastModified: u.CreationTimestamp.Time}
}

func (c *documentCheck) gen(recipe []byte) *gen { return &gen{b: recipe, pool: c.pool} }

// same fails t unless the scan's match of text decides every user as the whole document's
// does. Text that does not parse is refused by the one parser both routes share, and a
// filter on groups takes the whole document (webhook/scim): nothing to compare, false.
func (c *documentCheck) same(t *testing.T, text string) (filter.Expr, bool) {
	t.Helper()
	parsed, err := filter.Parse(text)
	if err != nil || filter.Refers(parsed, "groups") {
		return nil, false
	}
	for _, rt := range c.rts {
		expr := filter.Coerce(rt, parsed)
		match := Match(rt, expr, checkMeta)
		for i, e := range c.entries {
			want := filter.Match(rt, expr, c.docs[i])
			if got := match(e); got != want {
				t.Fatalf("%s (custom extensions %d) on user %s: the scan %v, the whole document %v", text, len(rt.Custom), c.users[i].Name, got, want)
			}
			c.seen[want]++
		}
	}
	return parsed, true
}

// literalPool is the strings the generator draws literals from: the users' string values
// (so that eq, sw, ew and co match some users) and strings whose case folding is not ASCII's.
func literalPool(users []*rosterv1.OrgUser) []string {
	pool := []string{"Eng", "a", "", "ENGINEER", "work", "home", "@", ".com", "0042", "u-0Ab", "ſ", "K", "İ", "ı", "ß", "ẞ", "ς", "Σ", "ﬃ",
		"Ǆ", "ǅ", "2027-01-15T08:00:00Z", "2027-01-15T08:00:00.5+01:00", "8f1f7a3e-1c2d-4e5f-9a8b-7c6d5e4f3a2b", "true", "3"}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			pool = append(pool, x)
		case map[string]any:
			for _, y := range x {
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	for _, u := range users {
		walk(document.User(u, document.Meta{}))
		pool = append(pool, u.Name)
	}
	return pool
}

// gen builds a filter's text from the fuzzer's bytes; once they run out every choice is the
// first, so every recipe ends in a short filter.
type gen struct {
	b    []byte
	i    int
	pool []string
}

func (g *gen) next() byte {
	if g.i >= len(g.b) {
		return 0
	}
	g.i++
	return g.b[g.i-1]
}

func (g *gen) pick(xs []string) string { return xs[int(g.next())%len(xs)] }

const (
	coreURN = "urn:ietf:params:scim:schemas:core:2.0:User:"
	entURN  = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:"
)

var (
	genCore  = []string{"userName", "displayName", "nickName", "profileUrl", "title", "userType", "preferredLanguage", "locale", "timezone", "active", "password", "externalId", "id", "name", "schemas", "meta", "meta.created", "meta.lastModified", "meta.resourceType", "meta.version", "meta.location", "noSuchAttr", "name.noSuch"}
	genName  = []string{"formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"}
	genMulti = []string{"emails", "phoneNumbers", "ims", "photos", "entitlements", "roles", "x509Certificates", "addresses"}
	genSubs  = []string{"value", "display", "type", "primary", "$ref", "locality", "country", "formatted", "noSuch"}
	genEnt   = []string{"employeeNumber", "costCenter", "organization", "division", "department", "manager", "manager.value", "manager.displayName", "manager.$ref", "noSuch"}
	genCorp  = []string{"department", "employeeNumber", "title", "manager", "manager.value", "manager.displayName", "tags", "level", "noSuch"}
	genOps   = []string{"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"}
	genBare  = []string{"true", "false", "null", "0", "42", "3", "-1.5", "1e3", "12345678901234567890", "TRUE", "Null"}
)

// expr is a filter: a comparison, a value path, and, or, not, or a group.
func (g *gen) expr(depth int) string {
	c := g.next() % 8
	if depth >= 3 {
		c %= 3
	}
	switch c {
	case 2:
		return g.valuePath(depth)
	case 3:
		return g.expr(depth+1) + g.mixCase(" and ") + g.expr(depth+1)
	case 4:
		return g.expr(depth+1) + g.mixCase(" or ") + g.expr(depth+1)
	case 5:
		return g.mixCase("not") + " (" + g.expr(depth+1) + ")"
	case 6:
		return "(" + g.expr(depth+1) + ")"
	}
	return g.comparison(g.path())
}

// comparison is path with an operator and, unless pr, a literal.
func (g *gen) comparison(path string) string {
	op := g.pick(genOps)
	if op == "pr" {
		return path + " " + g.mixCase(op)
	}
	return path + " " + g.mixCase(op) + " " + g.literal()
}

// path is an attribute path: core, name.*, a multi-valued attribute or its sub-attribute,
// enterprise or custom (with or without their URN), or a URN no schema has; in mixed case.
func (g *gen) path() string {
	var p string
	switch g.next() % 6 {
	case 0:
		p = g.urn(coreURN) + g.pick(genCore)
	case 1:
		p = g.urn(coreURN) + "name." + g.pick(genName)
	case 2:
		p = g.urn(coreURN) + g.pick(genMulti)
		if g.next()%3 != 0 {
			p += "." + g.pick(genSubs)
		}
	case 3:
		p = g.urn(entURN) + g.pick(genEnt)
	case 4:
		p = g.urn(corpURN+":") + g.pick(genCorp)
	default:
		p = "urn:example:none:2.0:User:" + g.pick(genCore)
	}
	return g.mixCase(p)
}

// urn is prefix or nothing.
func (g *gen) urn(prefix string) string {
	if g.next()%2 == 0 {
		return ""
	}
	return prefix
}

// valuePath is a multi-valued (or complex) attribute with a filter on its values in brackets,
// sometimes followed by a sub-attribute.
func (g *gen) valuePath(depth int) string {
	var attr string
	switch g.next() % 4 {
	case 0, 1:
		attr = g.urn(coreURN) + g.pick(genMulti)
	case 2:
		attr = g.pick([]string{"name", entURN + "manager", corpURN + ":manager", "title", "noSuch"})
	default:
		attr = g.urn(coreURN) + "emails"
	}
	p := g.mixCase(attr) + "[" + g.valueFilter(depth) + "]"
	if g.next()%4 == 3 {
		p += "." + g.mixCase(g.pick(genSubs))
		if g.next()%2 == 0 {
			return g.comparison(p)
		}
	}
	return p
}

// valueFilter is the filter between a value path's brackets: on sub-attributes.
func (g *gen) valueFilter(depth int) string {
	c := g.next() % 6
	if depth >= 3 {
		c = 0
	}
	switch c {
	case 4:
		return "(" + g.valueFilter(depth+1) + ")"
	case 1:
		return g.valueFilter(depth+1) + " and " + g.valueFilter(depth+1)
	case 2:
		return g.valueFilter(depth+1) + " or " + g.valueFilter(depth+1)
	case 3:
		return "not (" + g.valueFilter(depth+1) + ")"
	}
	return g.comparison(g.mixCase(g.pick(genSubs)))
}

// literal is a JSON string (a user's value or part of it, in mixed case), a bare value (a
// number, true, false, null, a word), or a long string.
func (g *gen) literal() string {
	switch g.next() % 6 {
	case 0, 1, 2:
		s := g.pick(g.pool)
		r := []rune(s)
		if len(r) > 1 {
			switch g.next() % 4 {
			case 1:
				r = r[:int(g.next())%len(r)+1]
			case 2:
				r = r[int(g.next())%len(r):]
			case 3:
				from := int(g.next()) % len(r)
				r = r[from : from+int(g.next())%(len(r)-from)+1]
			}
		}
		q, _ := json.Marshal(g.mixCase(string(r)))
		return string(q)
	case 3:
		return g.pick(genBare)
	case 4:
		// An unquoted word (Entra's style): no space, quote, bracket or parenthesis.
		w := g.mixCase(g.pick(g.pool))
		if w == "" || strings.ContainsAny(w, " \t\r\n\"()[]") {
			return `"` + "x" + `"`
		}
		return w
	}
	q, _ := json.Marshal(g.mixCase(strings.Repeat(g.pick(g.pool), 1+int(g.next())%40)))
	return string(q)
}

// mixCase changes the case of s's letters as one byte's bits say: unchanged, upper or lower
// case, or alternating.
func (g *gen) mixCase(s string) string {
	m := g.next()
	switch m % 4 {
	case 0:
		return s
	case 1:
		return strings.ToUpper(s)
	case 2:
		return strings.ToLower(s)
	}
	r := []rune(s)
	for i := range r {
		if m>>(2+i%6)&1 == 1 {
			r[i] = unicode.ToUpper(r[i])
		} else {
			r[i] = unicode.ToLower(r[i])
		}
	}
	return string(r)
}
