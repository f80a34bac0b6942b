package schema

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/rosterhq/roster/internal/scim/scimerror"
)

func FuzzNormalize(f *testing.F) {
	f.Add(projUser, false)
	f.Add(projGroup, true)
	f.Add(`{"userName":"x","active":"True","emails":{"value":"e","primary":"true"}}`, false)
	f.Add(`{"userName":"x","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"m"}}`, false)
	f.Add(`{"displayName":"g","members":[{"value":"u","$ref":null}]}`, true)
	f.Fuzz(func(t *testing.T, body string, group bool) {
		var doc map[string]any
		if json.Unmarshal([]byte(body), &doc) != nil {
			return
		}
		rt := User
		if group {
			rt = Group
		}
		before := Clone(doc)
		out, err := Normalize(rt, doc)
		if !reflect.DeepEqual(doc, before) {
			t.Fatal("Normalize modified its input")
		}
		if err != nil {
			if e, ok := scimerror.As(err); !ok || e.Status != 400 || e.ScimType != scimerror.InvalidValue {
				t.Fatalf("error %v is not a 400 invalidValue *scimerror.Error", err)
			}
			return
		}
		again, err := Normalize(rt, out)
		if err != nil || !reflect.DeepEqual(out, again) {
			t.Fatalf("Normalize not idempotent: %v\n%v\n%v", err, out, again)
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("result does not marshal: %v", err)
		}
		// Projection and sorting must take any canonical document.
		_ = Project(rt, out, []string{"name.givenName", "emails"}, []string{"meta"})
		_ = Compare(rt, "emails.value", out, doc)
	})
}

func FuzzLookup(f *testing.F) {
	for _, s := range []string{"userName", "name.FamilyName", "emails.value", "meta.lastModified",
		EnterpriseUserSchema + ":manager.value", "urn:ietf:params:scim:schemas:core:2.0:User:userName", "members.$ref"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		for _, rt := range ResourceTypes {
			r, ok := rt.Lookup(path)
			if !ok {
				continue
			}
			again, ok := rt.Lookup(r.Path())
			if !ok || !reflect.DeepEqual(r, again) {
				t.Fatalf("%s: Lookup(%q) = %q, which does not resolve back to itself", rt.Name, path, r.Path())
			}
		}
	})
}
