package v1alpha1_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/rosterhq/roster/api/v1alpha1"
)

// decodeAsStrings is the reference: what encoding/json makes of data as a []string.
func decodeAsStrings(data []byte) ([]string, error) {
	var want []string
	err := json.Unmarshal(data, &want)
	return want, err
}

// lenientReference is MemberList's documented lenient form, written the slow obvious way:
// the string entries of a list, in order; no members for anything else.
func lenientReference(data []byte) []string {
	var all []any
	if json.Unmarshal(data, &all) != nil {
		return nil
	}
	out := []string{}
	for _, v := range all {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// hasNullEntry reports whether data is a list with a null entry (encoding/json makes it "").
func hasNullEntry(data []byte) bool {
	var all []any
	return json.Unmarshal(data, &all) == nil && slices.Contains(all, nil)
}

// sameList compares contents and nil-ness: encoding/json tells null (nil) from [] (empty).
func sameList(a, b []string) bool { return slices.Equal(a, b) && (a == nil) == (b == nil) }

func TestMemberListDecodes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`["a","b"]`, []string{"a", "b"}},
		{` [ "a" , "b" ] `, []string{"a", "b"}},
		{`[]`, []string{}},
		{`null`, nil},
		{`["tab\there","quote\"","slash\/","\u00e9t\u00e9","é"]`, []string{"tab\there", `quote"`, "slash/", "été", "é"}},
		{"[\"bad\xffutf8\"]", []string{"bad\ufffdutf8"}},
		// Lenient: only what the schema no longer refuses.
		{`["a",1,null,{"x":"y"},["b"],true,"c"]`, []string{"a", "c"}},
		{`["a",null]`, []string{"a"}}, // encoding/json: ["a" ""]
		{`{"members":["a"]}`, nil},
		{`"a"`, nil},
		{`17`, nil},
	} {
		var got v1alpha1.MemberList
		if err := json.Unmarshal([]byte(tc.in), &got); err != nil || !sameList(got, tc.want) {
			t.Errorf("%s: got %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
}

// TestSliceDecodesWithBadMembers: a stored slice whose members are not all strings decodes
// through the apimachinery codec a cache uses (not only encoding/json), keeping the rest.
func TestSliceDecodesWithBadMembers(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	raw := `{"apiVersion":"scim.roster.dev/v1alpha1","kind":"OrgTeamMemberSlice","metadata":{"name":"s","namespace":"acme"},` +
		`"spec":{"team":"t","members":["u-1",{"oops":true},"u-2",3]}}`
	obj, _, err := serializer.NewCodecFactory(scheme).UniversalDeserializer().Decode([]byte(raw), nil, nil)
	if err != nil {
		t.Fatalf("decoding: %v", err)
	}
	sl, ok := obj.(*v1alpha1.OrgTeamMemberSlice)
	if !ok || sl.Spec.Team != "t" || !slices.Equal(sl.Spec.Members, []string{"u-1", "u-2"}) {
		t.Errorf("decoded %#v", obj)
	}
}

func TestMemberListEncodesAsAList(t *testing.T) {
	for _, m := range []v1alpha1.MemberList{{"a", "b"}, {}} {
		out, err := json.Marshal(v1alpha1.OrgTeamMemberSliceSpec{Team: "t", Members: m})
		want := fmt.Sprintf(`{"team":"t","members":%s}`, map[bool]string{true: `["a","b"]`, false: `[]`}[len(m) > 0])
		if len(m) == 0 {
			want = `{"team":"t"}` // omitempty
		}
		if err != nil || string(out) != want {
			t.Errorf("%#v: %s, %v; want %s", m, out, err, want)
		}
	}
}

// FuzzMemberListDecode: whatever encoding/json decodes into a []string, MemberList decodes
// to the same list (nil for null, empty for []); any other valid JSON decodes, without an
// error, to its string entries.
func FuzzMemberListDecode(f *testing.F) {
	for _, s := range []string{`["a","b"]`, `[]`, `null`, ` [ "x\n" ]`, `["\ud83d\ude00"]`, `["a",1]`, `{}`, `"s"`, `[["a"]]`, "[\"\xff\"]", `["\u0000"]`, `[ ]`, `["a" ,"b"]`, `[null]`, `["a",null]`, `["",null,""]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return // the caller's decoder refuses invalid JSON before a field sees it
		}
		var got v1alpha1.MemberList
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatalf("%q: %v", data, err)
		}
		want, err := decodeAsStrings(data)
		if err != nil || slices.Contains(want, "") && hasNullEntry(data) {
			want = lenientReference(data)
		}
		if !sameList(got, want) {
			t.Fatalf("%q: got %#v, want %#v", data, got, want)
		}
		// And the list re-encodes to what it decoded.
		again, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		var back []string
		if err := json.Unmarshal(again, &back); err != nil || (len(got) > 0 && !slices.Equal(back, got)) {
			t.Fatalf("%q: re-encoded %s decodes to %#v, %v", data, again, back, err)
		}
	})
}

// BenchmarkMemberListDecode: a full slice (2,000 ids of 64 hex digits), as the cache decodes
// every slice of a large team's PUT.
func BenchmarkMemberListDecode(b *testing.B) {
	ids := make([]string, v1alpha1.MaxMembersPerSlice)
	for i := range ids {
		ids[i] = strings.Repeat(fmt.Sprintf("%x", i%16), 64)
	}
	data, _ := json.Marshal(ids)
	b.Run("MemberList", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var m v1alpha1.MemberList
			if err := json.Unmarshal(data, &m); err != nil || len(m) != len(ids) {
				b.Fatal(err)
			}
		}
	})
	b.Run("[]string", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var m []string
			if err := json.Unmarshal(data, &m); err != nil || len(m) != len(ids) {
				b.Fatal(err)
			}
		}
	})
}

// FuzzCheckMemberList: the webhook's check accepts exactly the members a typed []string
// holds (at most MaxMembersPerSlice, null entries excluded) — the values that MemberList
// decodes without skipping anything — and never panics on what a client sends.
func FuzzCheckMemberList(f *testing.F) {
	for _, s := range []string{`["a"]`, `[]`, `null`, `[1]`, `"a"`, `{}`, `[null]`, `["a",{"b":1}]`, `[ "a" , "b" ]`, `["\u00e9"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, members []byte) {
		if !json.Valid(members) {
			return // the apiserver decodes the body before any webhook sees it
		}
		fe := v1alpha1.CheckMemberList(members, field.NewPath("spec", "members"))
		strs, err := decodeAsStrings(members)
		ok := err == nil && !hasNullEntry(members) && len(strs) <= v1alpha1.MaxMembersPerSlice
		if ok != (fe == nil) {
			t.Fatalf("members %q: accepted %v (%v), want %v", members, fe == nil, fe, ok)
		}
		if ok {
			var m v1alpha1.MemberList
			if err := json.Unmarshal(members, &m); err != nil || !slices.Equal(m, strs) {
				t.Fatalf("members %q: accepted, but decode to %#v (%v), not %#v", members, m, err, strs)
			}
		}
	})
}
