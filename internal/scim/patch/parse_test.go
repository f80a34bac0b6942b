package patch

import (
	"reflect"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/scim/scimerror"
)

const patchURN = `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`

// body wraps operations in a PatchOp request body.
func body(ops string) []byte {
	return []byte(`{` + patchURN + `,"Operations":[` + ops + `]}`)
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want []Operation
	}{
		{
			name: "Okta deactivate: path-less replace",
			body: body(`{"op":"replace","value":{"active":false}}`),
			want: []Operation{{Op: Replace, Value: map[string]any{"active": false}}},
		},
		{
			name: "Entra capitalised ops",
			body: body(`{"op":"Replace","path":"active","value":"False"},{"op":"Add","path":"title","value":"x"},{"op":"Remove","path":"title"}`),
			want: []Operation{
				{Op: Replace, Path: &Path{Attr: "active"}, Value: "False"},
				{Op: Add, Path: &Path{Attr: "title"}, Value: "x"},
				{Op: Remove, Path: &Path{Attr: "title"}},
			},
		},
		{
			name: "Okta member add and remove",
			body: body(`{"op":"remove","path":"members[value eq \"u1\"]"},{"op":"add","path":"members","value":[{"value":"u2","display":"a@b.c"}]}`),
			want: []Operation{
				{Op: Remove, Path: mustPath(`members[value eq "u1"]`)},
				{Op: Add, Path: &Path{Attr: "members"}, Value: []any{map[string]any{"value": "u2", "display": "a@b.c"}}},
			},
		},
		{
			name: "extra schema URNs and lower-case member names",
			body: []byte(`{"schemas":["urn:example:other","URN:IETF:PARAMS:SCIM:API:MESSAGES:2.0:PATCHOP"],"operations":[{"OP":"add","PATH":"title","VALUE":"x"}]}`),
			want: []Operation{{Op: Add, Path: &Path{Attr: "title"}, Value: "x"}},
		},
		{
			name: "replace with null value",
			body: body(`{"op":"replace","path":"title","value":null}`),
			want: []Operation{{Op: Replace, Path: &Path{Attr: "title"}}},
		},
		{
			name: "empty path counts as none",
			body: body(`{"op":"replace","path":"","value":{"title":"x"}}`),
			want: []Operation{{Op: Replace, Value: map[string]any{"title": "x"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.body)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse = %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func mustPath(s string) *Path {
	p, err := ParsePath(s)
	if err != nil {
		panic(err)
	}
	return &p
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		body   []byte
		want   scimerror.ScimType
		detail string
	}{
		{"not JSON", []byte(`{`), scimerror.InvalidSyntax, "not a PatchOp"},
		{"not an object", []byte(`[]`), scimerror.InvalidSyntax, "not a PatchOp"},
		{"missing schema", []byte(`{"Operations":[{"op":"add","path":"title","value":"x"}]}`), scimerror.InvalidSyntax, "PatchOp"},
		{"missing Operations", []byte(`{` + patchURN + `}`), scimerror.InvalidSyntax, "at least one"},
		{"empty Operations", body(``), scimerror.InvalidSyntax, "at least one"},
		{"too many", body(strings.Repeat(`{"op":"remove","path":"title"},`, MaxOperations) + `{"op":"remove","path":"title"}`), scimerror.TooMany, "1001"},
		{"unknown op", body(`{"op":"move","path":"title"}`), scimerror.InvalidSyntax, "Operations[0]: unknown op"},
		{"missing op", body(`{"path":"title"}`), scimerror.InvalidSyntax, `"op" is required`},
		{"op not a string", body(`{"op":1}`), scimerror.InvalidSyntax, "invalid operation"},
		{"remove without path", body(`{"op":"add","path":"title","value":"x"},{"op":"remove"}`), scimerror.NoTarget, "Operations[1]"},
		{"add without value", body(`{"op":"add","path":"title"}`), scimerror.InvalidSyntax, "needs a value"},
		{"add null", body(`{"op":"add","path":"title","value":null}`), scimerror.InvalidValue, "non-null"},
		{"path-less with a string value", body(`{"op":"replace","value":"x"}`), scimerror.InvalidValue, "object value"},
		{"bad path", body(`{"op":"replace","path":"emails[type eq]","value":"x"}`), scimerror.InvalidPath, "emails[type eq]"},
		{"path not a string", body(`{"op":"replace","path":5,"value":"x"}`), scimerror.InvalidSyntax, "invalid operation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.body)
			e, ok := scimerror.As(err)
			if !ok || e.Status != 400 || e.ScimType != tt.want {
				t.Fatalf("Parse error = %v, want 400 %s", err, tt.want)
			}
			if !strings.Contains(e.Detail, tt.detail) {
				t.Errorf("detail %q does not contain %q", e.Detail, tt.detail)
			}
		})
	}
}

func TestParsePath(t *testing.T) {
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	tests := []struct {
		in                string
		urn, attr, sub    string
		filter, canonical string
	}{
		{in: "active", attr: "active"},
		{in: "name.familyName", attr: "name", sub: "familyName"},
		{in: ent + ":manager", urn: ent, attr: "manager"},
		{in: ent + ":employeeNumber", urn: ent, attr: "employeeNumber"},
		{in: ent + ":manager.value", urn: ent, attr: "manager", sub: "value"},
		{in: ent, urn: "urn:ietf:params:scim:schemas:extension:enterprise:2.0", attr: "User"},
		{in: `emails[type eq "work"].value`, attr: "emails", sub: "value", filter: `type eq "work"`},
		{in: `addresses[type eq "work"].locality`, attr: "addresses", sub: "locality", filter: `type eq "work"`},
		{in: `members[value eq "2819c223"]`, attr: "members", filter: `value eq "2819c223"`},
		{in: `members[value eq "a]b" or value eq "c\"]"]`, attr: "members", filter: `value eq "a]b" or value eq "c\"]"`},
		{in: `emails[TYPE EQ "work" AND primary eq TRUE]`, attr: "emails", filter: `TYPE eq "work" and primary eq true`,
			canonical: `emails[TYPE eq "work" and primary eq true]`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParsePath(tt.in)
			if err != nil {
				t.Fatalf("ParsePath: %v", err)
			}
			f := ""
			if p.Filter != nil {
				f = p.Filter.String()
			}
			if p.URN != tt.urn || p.Attr != tt.attr || p.SubAttr != tt.sub || f != tt.filter {
				t.Errorf("ParsePath = %q %q %q [%s]", p.URN, p.Attr, p.SubAttr, f)
			}
			want := tt.canonical
			if want == "" {
				want = tt.in
			}
			if p.String() != want {
				t.Errorf("String() = %q, want %q", p.String(), want)
			}
		})
	}
}

func TestParsePathErrors(t *testing.T) {
	for _, in := range []string{
		``, `a b`, `emails[`, `emails[type eq "work"`, `emails[type eq "work"]x`, `emails[type eq "work"].`,
		`emails[type eq "work"].a.b`, `emails[]`, `name.givenName[type eq "x"]`, `[type eq "x"]`,
		`emails[type[value eq "x"] pr]`, `emails[type eq "w"].urn:x:y`, `foo:bar`,
	} {
		_, err := ParsePath(in)
		e, ok := scimerror.As(err)
		if !ok || e.Status != 400 || e.ScimType != scimerror.InvalidPath {
			t.Errorf("ParsePath(%q) error = %v, want 400 invalidPath", in, err)
		}
	}
}
