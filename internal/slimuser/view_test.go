package slimuser

import (
	"reflect"
	"testing"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// TestStringsReadTheDecodedValues: each string path read in place gives the values the
// decoded user has there, in order, empty ones left out, an email that is the userName
// included; the items of a multi-valued attribute give each value's sub-attributes; names
// that hold no strings are refused.
func TestStringsReadTheDecodedValues(t *testing.T) {
	u := filledUser(t)
	u.Spec.Emails = append(u.Spec.Emails, rosterv1.MultiValued{Value: u.Spec.UserName, Type: "work"}, rosterv1.MultiValued{Display: "no value"})
	u.Spec.Roles = nil
	s := New(u)
	sp := &u.Spec
	multi := func(list []rosterv1.MultiValued, sub func(rosterv1.MultiValued) string) []string {
		var out []string
		for _, v := range list {
			if x := sub(v); x != "" {
				out = append(out, x)
			}
		}
		return out
	}
	value := func(v rosterv1.MultiValued) string { return v.Value }
	for _, c := range []struct {
		attr, sub string
		want      []string
	}{
		{"userName", "", []string{sp.UserName}}, {"TITLE", "", []string{sp.Title}}, {"timezone", "", []string{sp.Timezone}},
		{"name", "givenName", []string{sp.Name.GivenName}}, {"name", "HONORIFICSUFFIX", []string{sp.Name.HonorificSuffix}},
		{"enterprise", "department", []string{sp.Enterprise.Department}}, {"enterprise", "employeeNumber", []string{sp.Enterprise.EmployeeNumber}},
		{"emails", "value", multi(sp.Emails, value)},
		{"emails", "display", multi(sp.Emails, func(v rosterv1.MultiValued) string { return v.Display })},
		{"emails", "type", multi(sp.Emails, func(v rosterv1.MultiValued) string { return v.Type })},
		{"x509Certificates", "value", multi(sp.X509Certificates, value)},
		{"roles", "value", nil},
	} {
		p, ok := StringPathOf(c.attr, c.sub)
		if !ok {
			t.Fatalf("%s.%s: no string path", c.attr, c.sub)
		}
		var got []string
		it := s.Strings(p)
		for v, ok := it.Next(); ok; v, ok = it.Next() {
			got = append(got, v)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s.%s: %q, decoded %q", c.attr, c.sub, got, c.want)
		}
	}
	if got, want := len(multi(sp.Emails, value)), len(sp.Emails)-1; got != want || want < 2 {
		t.Fatalf("%d email values of %d emails: the test proves little", got, len(sp.Emails))
	}
	typ, _ := StringPathOf("emails", "type")
	val, _ := StringPathOf("emails", "value")
	items, i := s.Items(typ), 0
	for item, ok := items.Next(); ok; item, ok = items.Next() {
		gotType, _ := item.String(typ)
		gotValue, _ := item.String(val)
		if gotType != sp.Emails[i].Type || gotValue != sp.Emails[i].Value {
			t.Errorf("email %d: type %q value %q, decoded %+v", i, gotType, gotValue, sp.Emails[i])
		}
		i++
	}
	if i != len(sp.Emails) {
		t.Errorf("%d items, %d emails", i, len(sp.Emails))
	}
	for _, bad := range [][2]string{{"active", ""}, {"name", ""}, {"emails", ""}, {"emails", "primary"}, {"enterprise", "manager"},
		{"addresses", "locality"}, {"extensions", ""}, {"meta", "created"}, {"title", "value"}, {"nope", ""}} {
		if _, ok := StringPathOf(bad[0], bad[1]); ok {
			t.Errorf("%s.%s: a string path", bad[0], bad[1])
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		it := s.Strings(val)
		for _, ok := it.Next(); ok; _, ok = it.Next() {
		}
		items := s.Items(val)
		for item, ok := items.Next(); ok; item, ok = items.Next() {
			item.String(typ)
		}
	}); n > 0 {
		t.Errorf("reading strings in place: %.0f allocations", n)
	}
}
