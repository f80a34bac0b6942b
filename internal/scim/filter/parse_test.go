package filter

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/scim/scimerror"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"Okta userName eq", `userName eq "a@b.c"`, `userName eq "a@b.c"`},
		{"Entra test connection guid", `userName eq "5b4a7e2c-1d0f-4e5f-9a3b-2c1d0e4f5a6b"`, `userName eq "5b4a7e2c-1d0f-4e5f-9a3b-2c1d0e4f5a6b"`},
		{"Entra externalId eq", `externalId eq "8aa1a7c4"`, `externalId eq "8aa1a7c4"`},
		{"Entra group displayName eq", `displayName eq "Eng"`, `displayName eq "Eng"`},
		{"Entra emails value path with sub-attribute", `emails[type eq "work"].value eq "a@b.c"`, `emails[type eq "work" and value eq "a@b.c"]`},
		{"Entra capitalised attribute", `name.FamilyName eq "x"`, `name.FamilyName eq "x"`},
		{"operators any case", `userName EQ "x" AND active Eq TRUE`, `userName eq "x" and active eq true`},
		{"all operators", `a ne "1" or b co "2" or c sw "3" or d ew "4" or e gt 1 or f ge 2 or g lt 3 or h le 4`,
			`a ne "1" or b co "2" or c sw "3" or d ew "4" or e gt 1 or f ge 2 or g lt 3 or h le 4`},
		{"present", `title pr`, `title pr`},
		{"and binds tighter than or", `a pr or b pr and c pr`, `a pr or b pr and c pr`},
		{"parentheses kept where needed", `(a pr or b pr) and c pr`, `(a pr or b pr) and c pr`},
		{"redundant parentheses dropped", `((a pr)) and (b pr and c pr)`, `a pr and (b pr and c pr)`},
		{"not", `not (userName eq "x")`, `not (userName eq "x")`},
		{"not without space", `not(userName eq "x")`, `not (userName eq "x")`},
		{"attribute called not", `not eq "x"`, `not eq "x"`},
		{"value path with and", `emails[type eq "work" and primary eq true]`, `emails[type eq "work" and primary eq true]`},
		{"value path with or then sub", `emails[type eq "work" or type eq "home"].value sw "a"`, `emails[(type eq "work" or type eq "home") and value sw "a"]`},
		{"value path sub pr", `emails[type eq "work"].value pr`, `emails[type eq "work" and value pr]`},
		{"URN-qualified core", `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`, `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`},
		{"URN-qualified extension sub", `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m"`,
			`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m"`},
		{"dateTime", `meta.lastModified gt "2011-05-13T04:42:34Z"`, `meta.lastModified gt "2011-05-13T04:42:34Z"`},
		{"literals", `a eq null or b eq false or c eq -1.5e3 or d eq 0`, `a eq null or b eq false or c eq -1.5e3 or d eq 0`},
		{"JSON escapes", `displayName eq "a \"q\" \\ \u00e9 \/ <x>"`, `displayName eq "a \"q\" \\ é / <x>"`},
		{"extra whitespace", "  userName   eq\t\"x\"  ", `userName eq "x"`},
		{"$ref", `members.$ref pr`, `members.$ref pr`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got := e.String(); got != tt.want {
				t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
			}
			again, err := Parse(e.String())
			if err != nil || !reflect.DeepEqual(e, again) {
				t.Errorf("round trip of %q failed: %v", e, err)
			}
		})
	}
}

// TestParseUnquoted: values Entra sends without quotes are read where the grammar leaves no
// doubt: a token up to the next whitespace, ")" or "]" that is not true, false, null or a
// number is a string.
func TestParseUnquoted(t *testing.T) {
	tests := []struct {
		in   string
		want Expr
	}{
		{`userName sw O`, &Comparison{Path: AttrPath{Attr: "userName"}, Op: Sw, Value: "O"}},
		{`meta.created gt 2015-10-10T14:38:21.86-07:00`,
			&Comparison{Path: AttrPath{Attr: "meta", SubAttr: "created"}, Op: Gt, Value: "2015-10-10T14:38:21.86-07:00"}},
		{`name.familyName eq Employee`, &Comparison{Path: AttrPath{Attr: "name", SubAttr: "familyName"}, Op: Eq, Value: "Employee"}},
		{`externalId eq 6a1b2c3d-0000-4e5f-9a3b-2c1d0e4f5a6b`,
			&Comparison{Path: AttrPath{Attr: "externalId"}, Op: Eq, Value: "6a1b2c3d-0000-4e5f-9a3b-2c1d0e4f5a6b"}},
		{`externalId eq 1234`, &Comparison{Path: AttrPath{Attr: "externalId"}, Op: Eq, Value: json.Number("1234")}},
		// Numbers keep the text the client sent, whatever a float64 would make of it.
		{`externalId eq 12345678901234567890`, &Comparison{Path: AttrPath{Attr: "externalId"}, Op: Eq, Value: json.Number("12345678901234567890")}},
		{`externalId eq 1.10`, &Comparison{Path: AttrPath{Attr: "externalId"}, Op: Eq, Value: json.Number("1.10")}},
		{`externalId eq 123e4`, &Comparison{Path: AttrPath{Attr: "externalId"}, Op: Eq, Value: json.Number("123e4")}},
		{`externalId eq 1234e567`, &Comparison{Path: AttrPath{Attr: "externalId"}, Op: Eq, Value: json.Number("1234e567")}},
		{`externalId eq -0.5E-3`, &Comparison{Path: AttrPath{Attr: "externalId"}, Op: Eq, Value: json.Number("-0.5E-3")}},
		{`externalId eq 01`, &Comparison{Path: AttrPath{Attr: "externalId"}, Op: Eq, Value: "01"}},
		{`active eq True`, &Comparison{Path: AttrPath{Attr: "active"}, Op: Eq, Value: true}},
		{`(userName eq a@b.c)`, &Comparison{Path: AttrPath{Attr: "userName"}, Op: Eq, Value: "a@b.c"}},
		{`emails[type eq work]`, &ValuePath{Path: AttrPath{Attr: "emails"}, Filter: &Comparison{Path: AttrPath{Attr: "type"}, Op: Eq, Value: "work"}}},
		{`userName eq x and title pr`, &Logical{Op: And,
			Left:  &Comparison{Path: AttrPath{Attr: "userName"}, Op: Eq, Value: "x"},
			Right: &Present{Path: AttrPath{Attr: "title"}}}},
	}
	for _, tt := range tests {
		e, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(e, tt.want) {
			t.Errorf("Parse(%q) = %s, want %s", tt.in, e, tt.want)
		}
	}
}

func TestParseTree(t *testing.T) {
	e, err := Parse(`emails[type eq "work"].value eq "a@b.c"`)
	if err != nil {
		t.Fatal(err)
	}
	want := &ValuePath{
		Path: AttrPath{Attr: "emails"},
		Filter: &Logical{Op: And,
			Left:  &Comparison{Path: AttrPath{Attr: "type"}, Op: Eq, Value: "work"},
			Right: &Comparison{Path: AttrPath{Attr: "value"}, Op: Eq, Value: "a@b.c"},
		},
	}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("got %#v", e)
	}
	e, _ = Parse(`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m"`)
	wantPath := AttrPath{URN: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", Attr: "manager", SubAttr: "value"}
	if c, ok := e.(*Comparison); !ok || c.Path != wantPath {
		t.Errorf("got %#v", e)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in, detail string
	}{
		{"empty", ``, "offset 0"},
		{"missing value", `userName eq`, "expected a value"},
		{"unknown operator", `userName is "x"`, `expected an operator`},
		{"keyword as unquoted value", `userName eq and`, "keyword"},
		{"unquoted value with a quote", `userName eq bo"b"`, "expected a value"},
		{"unquoted value with a parenthesis", `userName eq f(x)`, "expected a value"},
		{"two unquoted words", `title eq Senior Engineer`, `unexpected "Engineer"`},
		{"missing value before )", `(userName eq )`, "expected a value"},
		{"missing value before ]", `emails[type eq ]`, "expected a value"},
		{"unterminated string", `userName eq "x`, "unterminated"},
		{"bad escape", `userName eq "\x"`, "invalid string"},
		{"unbalanced open", `(userName eq "x"`, `expected ")"`},
		{"unbalanced close", `userName eq "x")`, "offset 15"},
		{"dangling and", `userName eq "x" and`, "expected an attribute path"},
		{"trailing garbage", `userName eq "x" foo`, `unexpected "foo"`},
		{"not without parentheses", `not userName eq "x"`, "expected an operator"},
		{"nested value path", `emails[type[value eq "x"] pr]`, "nested"},
		{"unterminated value path", `emails[type eq "work"`, `expected "]"`},
		{"value path after sub-attribute", `name.x[a pr]`, "cannot follow"},
		{"bad sub after value path", `emails[type eq "w"].1 eq "x"`, "sub-attribute"},
		{"bad attribute name", `1abc eq "x"`, "invalid attribute path"},
		{"two dots", `a.b.c eq "x"`, "invalid attribute path"},
		{"colon without urn", `foo:bar eq "x"`, "invalid attribute path"},
		{"invalid UTF-8", "userName eq \"\xff\"", "UTF-8"},
		{"too long", `userName eq "` + strings.Repeat("x", MaxLength) + `"`, "longer than"},
		{"too deep", strings.Repeat("(", MaxDepth+1) + `a pr` + strings.Repeat(")", MaxDepth+1), "deeper than"},
		{"too deep with not", strings.Repeat("not (", MaxDepth+1) + `a pr` + strings.Repeat(")", MaxDepth+1), "deeper than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in)
			e, ok := scimerror.As(err)
			if !ok || e.Status != 400 || e.ScimType != scimerror.InvalidFilter {
				t.Fatalf("Parse(%q) error = %v, want 400 invalidFilter", tt.in, err)
			}
			if !strings.Contains(e.Detail, tt.detail) {
				t.Errorf("detail %q does not contain %q", e.Detail, tt.detail)
			}
		})
	}
}

func TestParseDepthLimitAccepts(t *testing.T) {
	in := strings.Repeat("(", MaxDepth) + `a pr` + strings.Repeat(")", MaxDepth)
	if _, err := Parse(in); err != nil {
		t.Errorf("depth %d rejected: %v", MaxDepth, err)
	}
}

func TestParseValueFilter(t *testing.T) {
	if _, err := ParseValueFilter(`value eq "x" or value eq "y"`); err != nil {
		t.Errorf("ParseValueFilter: %v", err)
	}
	if _, err := ParseValueFilter(`emails[type eq "x"]`); err == nil {
		t.Error("ParseValueFilter accepted a nested value path")
	}
}

func TestParseAttrPath(t *testing.T) {
	tests := []struct {
		in   string
		want AttrPath
		ok   bool
	}{
		{"userName", AttrPath{Attr: "userName"}, true},
		{"name.givenName", AttrPath{Attr: "name", SubAttr: "givenName"}, true},
		{"members.$ref", AttrPath{Attr: "members", SubAttr: "$ref"}, true},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
			AttrPath{URN: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", Attr: "manager"}, true},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
			AttrPath{URN: "urn:ietf:params:scim:schemas:extension:enterprise:2.0", Attr: "User"}, true},
		{"", AttrPath{}, false},
		{"urn:", AttrPath{}, false},
		{"urn::x", AttrPath{}, false},
		{"a b", AttrPath{}, false},
		{"a.", AttrPath{}, false},
		{".a", AttrPath{}, false},
	}
	for _, tt := range tests {
		got, err := ParseAttrPath(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseAttrPath(%q) = %#v, %v", tt.in, got, err)
		}
		if err == nil && got.String() != tt.in {
			t.Errorf("String() = %q, want %q", got.String(), tt.in)
		}
	}
}
