package userscan

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/order"
	"github.com/rosterhq/roster/internal/scim/document"
	"github.com/rosterhq/roster/internal/scim/filter"
	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/slimuser"
)

// TestEntryMatchIsDecodeMatch: a filter on id, userName, displayName and externalId matched
// on the index entry (folded userName and displayName) decides every user as the decoded
// user does, over mixed-case values, missing values and every operator.
func TestEntryMatchIsDecodeMatch(t *testing.T) {
	rt := schema.User
	specs := []rosterv1.OrgUserSpec{
		{UserName: "Ada.Lovelace@Example.COM", DisplayName: "Ada LOVELACE", ExternalID: "00U1aB"},
		{UserName: "ada.lovelace@example.com2", DisplayName: "ada lovelace", ExternalID: "00u1ab"},
		{UserName: "BOB@example.com", ExternalID: "X9"},
		{UserName: "carol@EXAMPLE.com", DisplayName: "Ünïcode ÇAROL"},
		{UserName: "Zed@Example.com", DisplayName: "M"},
	}
	var entries []*order.Entry
	for i, spec := range specs {
		u := &rosterv1.OrgUser{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("u-%dAb", i), Namespace: "org",
			CreationTimestamp: metav1.NewTime(time.Unix(1_800_000_000+int64(i), 0))}, Spec: spec}
		entries = append(entries, order.UserEntry(slimuser.New(u)))
	}
	literals := map[string][]string{
		"userName":    {`"ada.lovelace@example.com"`, `"ADA"`, `"Example.COM"`, `"bob@EXAMPLE.COM"`, `"M"`, `""`, `"ünï"`},
		"displayName": {`"ADA LOVELACE"`, `"ada"`, `"LOVELACE"`, `"üNÏCODE"`, `"m"`, `""`, `null`},
		"externalId":  {`"00u1ab"`, `"00U1aB"`, `"00U"`, `"ab"`, `"X9"`, `""`, `null`},
		"id":          {`"u-0Ab"`, `"u-0ab"`, `"u-"`, `"Ab"`, `"u-3Ab"`},
	}
	var filters []string
	for attr, lits := range literals {
		filters = append(filters, attr+" pr", "not ("+attr+" pr)")
		for _, op := range []string{"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"} {
			for _, lit := range lits {
				if lit == "null" && op != "eq" && op != "ne" {
					continue
				}
				filters = append(filters, attr+" "+op+" "+lit)
			}
		}
	}
	filters = append(filters,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName sw "ADA"`,
		`USERNAME co "lovelace" and displayName ew "E"`,
		`displayName pr or externalId eq "X9"`,
		`not (userName gt "b") and id ne "u-4Ab"`,
	)
	seen := map[bool]int{}
	for _, text := range filters {
		f, err := filter.Parse(text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		f = filter.Coerce(rt, f)
		keys := filter.Keys(rt, f)
		if !entryHolds(keys) {
			t.Fatalf("%s: keys %v, the entry is said not to hold them", text, keys)
		}
		fast := entryMatch(rt, f, keys)
		slow := decodeMatch(rt, f, keys, func(*rosterv1.OrgUser) document.Meta {
			t.Fatalf("%s: meta read", text)
			return document.Meta{}
		})
		for _, e := range entries {
			got, want := fast(e), slow(e)
			if got != want {
				t.Errorf("%s on %+v: from the entry %v, decoded %v", text, specs[e.Name[2]-'0'], got, want)
			}
			seen[want]++
		}
	}
	if seen[true] == 0 || seen[false] == 0 {
		t.Fatalf("every match is %v: the test proves nothing", seen)
	}
	for _, text := range []string{`name.givenName eq "Ada"`, `meta.created gt "2020-01-01T00:00:00Z"`, `userName eq "a" and title pr`} {
		f, _ := filter.Parse(text)
		if keys := filter.Keys(rt, f); entryHolds(keys) {
			t.Errorf("%s: keys %v are said to be held by the entry", text, keys)
		}
	}
}
