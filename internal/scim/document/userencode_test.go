package document

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/scim/schema"
)

// encodeUsers are users that exercise every way a value is rendered: every field set (fill),
// strings that need escaping (HTML-safe escapes, control characters, invalid UTF-8, U+2028),
// false and absent booleans, an empty enterprise extension, empty and nil slices, empty
// strings inside multi-valued attributes.
func encodeUsers() []*rosterv1.OrgUser {
	full := &rosterv1.OrgUser{}
	fill(reflect.ValueOf(&full.Spec).Elem(), "spec")
	full.Name = "full"
	f, tr := false, true
	odd := &rosterv1.OrgUser{Spec: rosterv1.OrgUserSpec{
		UserName: `a<b>&"c"\d` + "\x01\u2028\xff é", Active: &f, DisplayName: "Zoë 名前",
		Name:       &rosterv1.Name{GivenName: "", FamilyName: "O'Brien & Sons"},
		Emails:     []rosterv1.MultiValued{{Value: "x@y", Primary: &f}, {}, {Value: "z", Type: "<work>", Primary: &tr}},
		Addresses:  []rosterv1.Address{{Locality: "Paris", Primary: &f}},
		Enterprise: &rosterv1.EnterpriseUser{},
		Roles:      []rosterv1.MultiValued{},
	}}
	odd.Name = "odd-ü"
	bare := &rosterv1.OrgUser{Spec: rosterv1.OrgUserSpec{UserName: ""}}
	bare.Name = "bare"
	boss := &rosterv1.OrgUser{Spec: rosterv1.OrgUserSpec{UserName: "boss@example.com", Active: &tr,
		Enterprise: &rosterv1.EnterpriseUser{Department: "R&D", Manager: &rosterv1.Manager{Value: "m"}}}}
	boss.Name = "boss"
	for i, u := range []*rosterv1.OrgUser{full, odd, bare, boss} {
		u.CreationTimestamp = metav1.NewTime(time.Unix(1_800_000_000+int64(i), 0))
	}
	return []*rosterv1.OrgUser{full, odd, bare, boss}
}

// TestUserEncoderMatchesProjectedDocument: for every user and projection the encoder takes,
// its bytes are exactly json.Marshal of the projected document the list used to build, groups
// or not; projections that cut an attribute to sub-attributes are refused.
func TestUserEncoderMatchesProjectedDocument(t *testing.T) {
	groups := []any{map[string]any{"value": "t<1>", "$ref": "https://x/Groups/t1", "display": "Eng & Ops", "type": "direct"}}
	projections := []struct {
		attrs, excluded []string
		whole           bool
	}{
		{nil, nil, true},
		{[]string{"userName"}, nil, true},
		{[]string{"USERNAME", "emails", "groups"}, nil, true},
		{[]string{"id"}, nil, true},
		{nil, []string{"groups"}, true},
		{nil, []string{"meta", "emails", "phoneNumbers", "name"}, true},
		{nil, []string{schema.EnterpriseUserSchema}, true},
		{[]string{schema.EnterpriseUserSchema + ":department"}, nil, true},
		{[]string{schema.UserSchema + ":displayName", "active"}, []string{"displayName"}, true},
		{[]string{schema.EnterpriseUserSchema}, []string{schema.EnterpriseUserSchema + ":manager"}, true},
		{[]string{"name.givenName"}, nil, false},
		{nil, []string{"emails.value"}, false},
	}
	meta := Meta{ResourceType: "User", Location: "https://roster.example/scim/v2/acme/Users/x<y>", Version: "12",
		Created: time.Unix(1_800_000_000, 0).In(time.FixedZone("x", 3600)), LastModified: time.Unix(1_800_000_100, 12_000)}
	for _, p := range projections {
		proj := schema.NewProjection(schema.User, p.attrs, p.excluded)
		enc, ok := NewUserEncoder(schema.User, proj)
		if ok != p.whole {
			t.Fatalf("attributes %v excluded %v: encoder taken %v, want %v", p.attrs, p.excluded, ok, p.whole)
		}
		if !ok {
			continue
		}
		for _, u := range encodeUsers() {
			for _, g := range [][]any{nil, groups} {
				doc := User(u, meta)
				if enc.Groups() && len(g) > 0 {
					doc["groups"] = g
				}
				want, err := json.Marshal(schema.Project(schema.User, doc, p.attrs, p.excluded))
				if err != nil {
					t.Fatal(err)
				}
				got, err := enc.Append(nil, u, meta, g)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("user %s, attributes %v excluded %v, groups %v:\n got %s\nwant %s", u.Name, p.attrs, p.excluded, g != nil, got, want)
				}
			}
		}
	}
}

// TestAppendStringIsJSONMarshal: appendString writes what json.Marshal writes for every byte
// alone and amid plain text, and for escapes side by side.
func TestAppendStringIsJSONMarshal(t *testing.T) {
	inputs := []string{"", "plain", `a"b\c<d>e&f`, `"\<>&`, "Zoë \u2028 名前", "\xff\xfe", "tab\there"}
	for c := range 256 {
		inputs = append(inputs, string(rune(c)), "x"+string([]byte{byte(c)})+"y")
	}
	for _, s := range inputs {
		checkAppendString(t, s)
	}
}

// FuzzAppendString: appendString is json.Marshal of a string.
func FuzzAppendString(f *testing.F) {
	f.Add(`a"b\c<d>e&f`)
	f.Add("Zoë \u2028\x01")
	f.Fuzz(checkAppendString)
}

func checkAppendString(t *testing.T, s string) {
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := appendString([]byte("x"), s); string(got) != "x"+string(want) {
		t.Errorf("appendString(%q) = %s, want %s", s, got[1:], want)
	}
}

// TestAppendAnyIsJSONMarshal: appendAny writes what json.Marshal writes for decoded JSON values.
func TestAppendAnyIsJSONMarshal(t *testing.T) {
	for _, v := range []any{
		nil, true, false, "a<b", 1.5, float64(1e21), []any{}, map[string]any{},
		[]any{map[string]any{"value": "t1", "$ref": "https://x/Groups/t1", "display": "Eng & Ops", "type": "direct"}},
		map[string]any{"z": []any{nil, "é", map[string]any{"b": false, "a": 3.0}}, "A": "x", "": "empty"},
	} {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendAny(nil, v)
		if err != nil || string(got) != string(want) {
			t.Errorf("appendAny(%#v) = %s, %v; want %s", v, got, err, want)
		}
	}
}

// TestAppendETag: the version of meta is the encoded ETag, escapes or not.
func TestAppendETag(t *testing.T) {
	for _, v := range []string{"", "12-4f1c0b7e0000", `a"b`, "<é>"} {
		want, _ := json.Marshal(ETag(v))
		if got := appendETag(nil, v); string(got) != string(want) {
			t.Errorf("appendETag(%q) = %s, want %s", v, got, want)
		}
	}
}
