package document_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/scim/document"
	"github.com/rosterhq/roster/internal/scim/patch"
)

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

// BenchmarkParseGroupMembers100k: reading the member ids of a 100,000-member PUT /Groups body
// as the SCIM server does (Decode, then patch.SplitMembers). A typed decode of the members
// (a struct per member, the rest generic) was tried and cost more CPU, not less: it scans the
// body three times to the generic route's two (docs/benchmarks.md, session 4).
func BenchmarkParseGroupMembers100k(b *testing.B) {
	body := groupBody(100000)
	for b.Loop() {
		doc, err := document.Decode(body)
		if err != nil {
			b.Fatal(err)
		}
		path, _ := patch.ParsePath("members")
		ops, _, err := patch.SplitMembers([]patch.Operation{{Op: patch.Replace, Path: &path, Value: doc["members"]}})
		if err != nil || len(ops) != 1 || len(ops[0].Values) != 100000 {
			b.Fatalf("%d ops, %v", len(ops), err)
		}
	}
}
