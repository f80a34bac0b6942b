package patch

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/rosterhq/roster/internal/scim/filter"
	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

func isBadRequest(err error) bool {
	e, ok := scimerror.As(err)
	return ok && e.Status == 400 && e.ScimType != ""
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"name.familyName", `emails[type eq "work"].value`, `members[value eq "2819c223"]`,
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", `addresses[type eq "work" and primary eq true].locality`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			if e, ok := scimerror.As(err); !ok || e.Status != 400 || e.ScimType != scimerror.InvalidPath {
				t.Fatalf("ParsePath(%q) error %v is not a 400 invalidPath", s, err)
			}
			return
		}
		canon := p.String()
		if len(canon) > filter.MaxLength {
			return // the canonical form may outgrow the input limit (see filter.Expr)
		}
		again, err := ParsePath(canon)
		if err != nil || !reflect.DeepEqual(p, again) {
			t.Fatalf("round trip of %q via %q failed: %v", s, canon, err)
		}
	})
}

func FuzzApply(f *testing.F) {
	for _, ops := range []string{
		`{"op":"replace","value":{"active":false}}`,
		`{"op":"Replace","path":"active","value":"False"}`,
		`{"op":"replace","value":{"displayName":"x","name.givenName":"y","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"7"}}`,
		`{"op":"Add","path":"emails[type eq \"work\"].value","value":"a@b.c"}`,
		`{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m1"}`,
		`{"op":"replace","value":{"id":"g1","displayName":"Eng"}}`,
		`{"op":"remove","path":"members[value eq \"u1\"]"},{"op":"add","path":"members","value":[{"value":"u2","display":"a@b.c"}]}`,
		`{"op":"Remove","path":"members","value":[{"value":"u1"}]}`,
		`{"op":"add","path":"emails","value":[{"value":"w@b.c","type":"work","primary":true}]}`,
	} {
		f.Add(string(body(ops)), false)
		f.Add(string(body(ops)), true)
	}
	users, groups := decode(f, user), decode(f, group)
	f.Fuzz(func(t *testing.T, req string, isGroup bool) {
		ops, err := Parse([]byte(req))
		if err != nil {
			if !isBadRequest(err) {
				t.Fatalf("Parse error %v is not a 400 *scimerror.Error", err)
			}
			return
		}
		rt, doc := schema.User, schema.Clone(users)
		if isGroup {
			rt, doc = schema.Group, schema.Clone(groups)
		}
		before := schema.Clone(doc)

		members, rest, err := SplitMembers(ops)
		if err != nil && !isBadRequest(err) {
			t.Fatalf("SplitMembers error %v is not a 400 *scimerror.Error", err)
		}
		for _, m := range members {
			if m.Kind == MemberRemoveAll && !hasRemoveAll(ops) {
				t.Fatalf("SplitMembers emptied the group without a value-less remove of members: %s", req)
			}
		}
		if err == nil && isGroup {
			if _, err := Apply(rt, doc, rest); err != nil && !isBadRequest(err) {
				t.Fatalf("Apply(rest) error %v is not a 400 *scimerror.Error", err)
			}
		}

		out, err := Apply(rt, doc, ops)
		if !reflect.DeepEqual(doc, before) {
			t.Fatal("Apply modified its input")
		}
		if err != nil {
			if !isBadRequest(err) || out != nil {
				t.Fatalf("Apply error %v is not a 400 *scimerror.Error, or came with a document", err)
			}
			return
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("result does not marshal: %v", err)
		}
		again, err := Apply(rt, out, nil)
		if err != nil || !reflect.DeepEqual(out, again) {
			t.Fatalf("result is not canonical: %v\n%v\n%v", err, out, again)
		}
		if out["id"] != before["id"] || !reflect.DeepEqual(out["meta"], before["meta"]) {
			t.Fatalf("Apply changed readOnly attributes: %v", out)
		}
	})
}

func hasRemoveAll(ops []Operation) bool {
	for _, op := range ops {
		if op.Op == Remove && op.Path != nil && op.Path.Filter == nil && op.Value == nil && isMembers(op.Path.URN, op.Path.Attr) {
			return true
		}
	}
	return false
}

func FuzzParse(f *testing.F) {
	f.Add(string(body(`{"op":"replace","value":{"active":false}}`)))
	f.Add(string(body(`{"op":"Remove","path":"members[value eq \"u1\"]"}`)))
	f.Add(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"operations":[{"OP":"Add","path":"emails","value":[]}]}`)
	f.Fuzz(func(t *testing.T, req string) {
		ops, err := Parse([]byte(req))
		if err != nil {
			if !isBadRequest(err) {
				t.Fatalf("Parse error %v is not a 400 *scimerror.Error", err)
			}
			return
		}
		if len(ops) == 0 || len(ops) > MaxOperations {
			t.Fatalf("Parse returned %d operations", len(ops))
		}
		for _, op := range ops {
			switch {
			case op.Op != Add && op.Op != Replace && op.Op != Remove:
				t.Fatalf("op %q", op.Op)
			case op.Op == Remove && op.Path == nil:
				t.Fatal("remove without path")
			case op.Path == nil:
				if _, ok := op.Value.(map[string]any); !ok {
					t.Fatalf("path-less %s with value %v", op.Op, op.Value)
				}
			}
		}
	})
}
