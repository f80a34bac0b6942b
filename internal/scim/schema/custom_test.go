package schema

import (
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/scim/scimerror"
)

const acmeURN = "urn:acme:2.0:User"

// acmeUser is the User resource type with a custom extension, as an organization declares it.
func acmeUser(required bool) ResourceType {
	s := &Schema{ID: acmeURN, Name: "Acme", Attributes: []Attribute{
		str("badge", "").canon("gold", "silver").strictCanon(),
		str("hireId", "").mut(Immutable),
		str("tag", "").req(),
		str("secret", "").mut(WriteOnly).ret(ReturnedNever),
	}}
	var req []string
	if required {
		req = []string{acmeURN}
	}
	return User.WithCustom([]*Schema{s}, req)
}

func (a Attribute) strictCanon() Attribute { a.StrictCanonical = true; return a }

func TestCustomExtensionNormalize(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		required bool
		want     string // a substring of the normalized document, or of the error
		scimType scimerror.ScimType
	}{
		{name: "canonical value in the declared spelling", in: `{"userName":"a","urn:acme:2.0:User":{"badge":"GOLD","tag":"t"}}`, want: `"badge":"gold"`},
		{name: "value outside canonicalValues", in: `{"userName":"a","urn:acme:2.0:User":{"badge":"bronze","tag":"t"}}`, want: `must be one of`, scimType: scimerror.InvalidValue},
		{name: "required attribute of a present extension", in: `{"userName":"a","urn:acme:2.0:User":{"badge":"gold"}}`, want: `"urn:acme:2.0:User:tag" is required`, scimType: scimerror.InvalidValue},
		{name: "optional extension absent", in: `{"userName":"a"}`, want: `"userName":"a"`},
		{name: "required extension absent", in: `{"userName":"a"}`, required: true, want: `"urn:acme:2.0:User:tag" is required`, scimType: scimerror.InvalidValue},
		{name: "writeOnly is stored", in: `{"userName":"a","urn:acme:2.0:User":{"secret":"s","tag":"t"}}`, want: `"secret":"s"`},
		{name: "password is still never stored", in: `{"userName":"a","password":"p"}`, want: `"userName":"a"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Normalize(acmeUser(tc.required), obj(t, tc.in))
			if tc.scimType != "" {
				se, ok := scimerror.As(err)
				if !ok || se.ScimType != tc.scimType || !strings.Contains(se.Detail, tc.want) {
					t.Fatalf("error %v, want %s containing %q", err, tc.scimType, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := mustJSON(out)
			if !strings.Contains(got, tc.want) || strings.Contains(got, `"password"`) {
				t.Errorf("normalized %s, want it to contain %s", got, tc.want)
			}
		})
	}
}

func TestCheckImmutable(t *testing.T) {
	rt := acmeUser(false)
	set := obj(t, `{"urn:acme:2.0:User":{"hireId":"h1"}}`)
	if err := CheckImmutable(rt, obj(t, `{}`), set); err != nil {
		t.Errorf("setting an unset immutable attribute: %v", err)
	}
	if err := CheckImmutable(rt, set, obj(t, `{"urn:acme:2.0:User":{"hireId":"h1"}}`)); err != nil {
		t.Errorf("keeping it: %v", err)
	}
	for _, after := range []string{`{"urn:acme:2.0:User":{"hireId":"h2"}}`, `{}`} {
		if se, ok := scimerror.As(CheckImmutable(rt, set, obj(t, after))); !ok || se.ScimType != scimerror.Mutability {
			t.Errorf("changing it to %s: %v, want 400 mutability", after, se)
		}
	}
}

// TestCheckSortBy: sorting on a never-returned value leaks it through the order of a page.
func TestCheckSortBy(t *testing.T) {
	rt := acmeUser(false)
	for _, p := range []string{"secret", acmeURN + ":secret", "SECRET", "password"} {
		se, ok := scimerror.As(CheckSortBy(p, Group, rt))
		if !ok || se.Status != 400 || se.ScimType != scimerror.InvalidValue {
			t.Errorf("CheckSortBy(%q) = %v, want 400 invalidValue", p, CheckSortBy(p, Group, rt))
		}
		if c := Compare(rt, p, map[string]any{acmeURN: map[string]any{"secret": "a"}}, map[string]any{acmeURN: map[string]any{"secret": "b"}}); c != 0 {
			t.Errorf("Compare by %q = %d, want 0 (never ordered by a hidden value)", p, c)
		}
	}
	for _, p := range []string{"", "badge", "userName", "noSuchAttribute"} {
		if err := CheckSortBy(p, rt); err != nil {
			t.Errorf("CheckSortBy(%q) = %v, want nil", p, err)
		}
	}
}
