package document

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/scim/schema"
)

// fill sets every field reachable from v (strings, bools, pointers, one element per slice) to
// a value naming its path, so that a field added to the API types is covered by the test.
func fill(v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("v-" + path)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), path)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), path+"0")
	case reflect.Struct:
		for i := range v.NumField() {
			// Custom extension values are rendered by User and Project only (the organization's
			// schema decides what is returned); writeUser never takes MarshalUser for them.
			if f := path + "." + v.Type().Field(i).Name; v.Type().Field(i).IsExported() && f != "spec.Extensions" {
				fill(v.Field(i), f)
			}
		}
	default:
		panic(fmt.Sprintf("fill: unhandled kind %s at %s", v.Kind(), path))
	}
}

// slowUser is the generic route MarshalUser replaces: User, groups, an empty projection.
func slowUser(t *testing.T, u *rosterv1.OrgUser, meta Meta, groups []any) map[string]any {
	t.Helper()
	doc := User(u, meta)
	if len(groups) > 0 {
		doc["groups"] = groups
	}
	return roundTrip(t, schema.Project(schema.User, doc, nil, nil))
}

func roundTrip(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMarshalUserMatchesProjectedDocument(t *testing.T) {
	full := &rosterv1.OrgUser{}
	fill(reflect.ValueOf(&full.Spec).Elem(), "spec")
	full.Name = "u-full"
	noExt := full.DeepCopy()
	noExt.Spec.Enterprise = nil
	minimal := &rosterv1.OrgUser{Spec: rosterv1.OrgUserSpec{UserName: "a@b.c"}}
	minimal.Name = "u-min"
	meta := Meta{ResourceType: "User", Location: "https://x/scim/v2/o/Users/u", Version: "3-abc",
		Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), LastModified: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)}
	groups := []any{map[string]any{"value": "g-1", "$ref": "https://x/scim/v2/o/Groups/g-1", "display": "Eng", "type": "direct"}}
	for _, tc := range []struct {
		name   string
		u      *rosterv1.OrgUser
		groups []any
	}{
		{"every field", full, nil},
		{"every field and groups", full, groups},
		{"no enterprise extension", noExt, nil},
		{"userName only", minimal, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := MarshalUser(tc.u, meta, tc.groups)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if want := slowUser(t, tc.u, meta, tc.groups); !reflect.DeepEqual(got, want) {
				gb, _ := json.Marshal(got)
				wb, _ := json.Marshal(want)
				t.Errorf("MarshalUser differs from the projected document\n got: %s\nwant: %s", gb, wb)
			}
		})
	}
}

func BenchmarkRenderUser(b *testing.B) {
	u := &rosterv1.OrgUser{}
	fill(reflect.ValueOf(&u.Spec).Elem(), "spec")
	u.Spec.Enterprise = nil
	u.Name = "u-bench"
	meta := Meta{ResourceType: "User", Location: "https://x/scim/v2/o/Users/u", Version: "3-abc", Created: time.Now(), LastModified: time.Now()}
	b.Run("MarshalUser", func(b *testing.B) {
		for b.Loop() {
			if _, err := MarshalUser(u, meta, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("User+Project+Marshal", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(schema.Project(schema.User, User(u, meta), nil, nil)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
