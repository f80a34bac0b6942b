package patch_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/scim/document"
	"github.com/rosterhq/roster/internal/scim/patch"
	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// genericGroupMembers is how a Group body's members were read before DocumentMemberIDs: the
// whole body decoded into maps, members taken out, bare strings refused, then SplitMembers.
// It is the reference the fast route must agree with.
func genericGroupMembers(body []byte) (map[string]any, []string, error) {
	doc, err := document.Decode(body)
	if err != nil {
		return nil, nil, err
	}
	var raw any
	for k, v := range doc {
		if strings.EqualFold(k, "members") {
			raw = v
			delete(doc, k)
		}
	}
	if raw == nil {
		return doc, nil, nil
	}
	if items, isList := raw.([]any); !isList || slices.ContainsFunc(items, func(v any) bool { _, s := v.(string); return s }) {
		if _, one := raw.(map[string]any); !one {
			return nil, nil, scimerror.BadRequest(scimerror.InvalidValue, "members must be a list of objects with a \"value\"")
		}
	}
	path, _ := patch.ParsePath("members")
	ops, _, err := patch.SplitMembers([]patch.Operation{{Op: patch.Replace, Path: &path, Value: raw}})
	if err != nil {
		return nil, nil, err
	}
	var ids []string
	for _, op := range ops {
		ids = append(ids, op.Values...)
	}
	return doc, ids, nil
}

// streamedGroupMembers is the route the SCIM server takes now.
func streamedGroupMembers(body []byte) (map[string]any, []string, error) {
	doc, raw, err := document.DecodeExcept(body, "members")
	if err != nil || raw == nil {
		return doc, nil, err
	}
	ids, err := patch.DocumentMemberIDs(raw)
	if err != nil {
		return nil, nil, err
	}
	return doc, ids, nil
}

// sameResult fails the test unless both routes read body alike: the same document and ids,
// or errors of the same status and scimType (details may name other offsets).
func sameResult(t *testing.T, body []byte) {
	t.Helper()
	if doc, err := document.Decode(body); err == nil {
		n := 0
		for k := range doc {
			if strings.EqualFold(k, "members") {
				n++
			}
		}
		if n > 1 {
			return // two spellings of members: the generic route picked one at random
		}
	}
	wantDoc, wantIDs, wantErr := genericGroupMembers(body)
	gotDoc, gotIDs, gotErr := streamedGroupMembers(body)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("body %q: error %v, generic route %v", body, gotErr, wantErr)
	}
	if wantErr != nil {
		w, _ := scimerror.As(wantErr)
		g, ok := scimerror.As(gotErr)
		if !ok || g.Status != w.Status || g.ScimType != w.ScimType {
			t.Fatalf("body %q: error %v, generic route %v", body, gotErr, wantErr)
		}
		return
	}
	if len(wantIDs) == 0 && len(gotIDs) == 0 {
		wantIDs, gotIDs = nil, nil
	}
	if !reflect.DeepEqual(gotIDs, wantIDs) {
		t.Fatalf("body %q: ids %q, generic route %q", body, gotIDs, wantIDs)
	}
	if !reflect.DeepEqual(gotDoc, wantDoc) {
		t.Fatalf("body %q: document %v, generic route %v", body, gotDoc, wantDoc)
	}
}

var groupBodies = []string{
	`{"displayName":"a","members":[{"value":"u-1"},{"value":"u-2","display":"x@example.com"}]}`,
	`{"schemas":["` + schema.GroupSchema + `"],"displayName":"a","members":[]}`,
	` { "members" : [ { "value" : "u-1" , "type" : "User" , "$ref" : null } ] , "displayName" : "a" } `,
	`{"displayName":"a"}`,
	`{"displayName":"a","members":null}`,
	`{"displayName":"a","Members":[{"Value":"u-1"}]}`,
	`{"displayName":"a","members":{"value":"u-1"}}`,
	`{"displayName":"a","members":["u-1"]}`,
	`{"displayName":"a","members":"u-1"}`,
	`{"displayName":"a","members":[{"value":""}]}`,
	`{"displayName":"a","members":[{"display":"no value"}]}`,
	`{"displayName":"a","members":[{"value":7}]}`,
	`{"displayName":"a","members":[{"value":"u-1","value":"u-2"}]}`,
	`{"displayName":"a","members":[{"value":"u-\u00e9"},{"value":"ü"}]}`,
	`{"displayName":"a","members":[{"value":"u-1","display":"Jos\u00e9 \"J\" \\ /"}]}`,
	`{"displayName":"a","members":[{"value":"u-1","extra":{"nested":[1,2]}}]}`,
	`{"displayName":"a","members":[{"value":"u-1","n":1.5e3}]}`,
	`{"displayName":"a","members":[{"value":"u-1"},]}`,
	`{"displayName":"a","members":[{"value":"u-1"}}`,
	`{"displayName":"a","members":[{"value":"u-1"}]`,
	`{"displayName":"a","members":[{"value":"u-1"}]} trailing`,
	`{"displayName":"a","members":[{"value":"u-1"}]}{}`,
	`{"displayName":"a","members":[{"value":"u-1" "display":"x"}]}`,
	`{"displayName":"a","members":[{"value":"u-1"}] "externalId":"e"}`,
	`{"displayName":"a","members":[{"value":"u-1"}],"members":[{"value":"u-2"}]}`,
	`{"displayName":"a","mem\u0062ers":[{"value":"u-1"}]}`,
	`{"displayName":"a [\"{","members":[{"value":"u-1"}],"externalId":"}]"}`,
	`{"displayName":"a","members":[{"value":"u-1","display":"tab	in"}]}`,
	`{"displayName":"a","members":[{"value":"u-1","display":"bad \x escape"}]}`,
	`{"displayName":"a","members":[{"value":"u-1","t":tru}]}`,
	`{"displayName":"a","members":[{"value":"u-1","t":nullx}]}`,
	`{"displayName":"a","members":[{}]}`,
	`{"displayName":"a","members":[{"value":"u-1"}{"value":"u-2"}]}`,
	`{"displayName":"a","members":[null]}`,
	`{"displayName":"a","members":[[{"value":"u-1"}]]}`,
	`[]`,
	`{"a":[1}, "members":{], "b":2}`,
	`{"members":[{"value":"u-1"}]`,
	``,
	`null`,
	"{\"displayName\":\"a\",\"members\":[{\"value\":\"u-\xff\"}]}",
}

func TestDocumentMemberIDsAgreesWithTheGenericRoute(t *testing.T) {
	for _, body := range groupBodies {
		sameResult(t, []byte(body))
	}
	// The fast route's own answer for the common shape, not only agreement.
	_, ids, err := streamedGroupMembers([]byte(groupBodies[0]))
	if err != nil || !slices.Equal(ids, []string{"u-1", "u-2"}) {
		t.Fatalf("ids %q, %v", ids, err)
	}
	_, _, err = streamedGroupMembers([]byte(`{"displayName":"a","members":[{"value":"u-1"},{"value":""}]}`))
	if e, ok := scimerror.As(err); !ok || e.ScimType != scimerror.InvalidValue || !strings.Contains(e.Detail, "members[1]") {
		t.Fatalf("empty value: %v", err)
	}
}

func FuzzDocumentMemberIDs(f *testing.F) {
	for _, body := range groupBodies {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sameResult(t, body)
	})
}

// groupBody is a PUT /Groups body with n members, as Okta sends it.
func groupBody(n int) []byte {
	var sb strings.Builder
	sb.WriteString(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Everyone","members":[`)
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"value":"u-%040d","display":"user%06d@example.com"}`, i, i)
	}
	sb.WriteString(`]}`)
	return []byte(sb.String())
}

// BenchmarkGroupMembers100k reads the member ids of a 100,000-member PUT /Groups body both
// ways: "generic" decodes the body into maps (the route before), "streamed" is the route the
// SCIM server takes now.
func BenchmarkGroupMembers100k(b *testing.B) {
	body := groupBody(100000)
	for _, route := range []struct {
		name string
		read func([]byte) (map[string]any, []string, error)
	}{{"generic", genericGroupMembers}, {"streamed", streamedGroupMembers}} {
		b.Run(route.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ids, err := route.read(body); err != nil || len(ids) != 100000 {
					b.Fatalf("%d ids, %v", len(ids), err)
				}
			}
		})
	}
}
