package shard_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/rosterhq/roster/internal/shard"
)

// TestElectionID: one shard, one leader election, however its selector is spelled; two
// shards, two; and the ID stays a valid Lease name under the base's domain.
func TestElectionID(t *testing.T) {
	id := func(sel string) string {
		t.Helper()
		s, err := labels.Parse(sel)
		if err != nil {
			t.Fatal(err)
		}
		return shard.ElectionID(s, "roster-controllers.scim.roster.dev")
	}
	if a, b := id("b=2,a=1"), id("a=1, b=2"); a != b {
		t.Errorf("one selector spelled two ways got two leader elections: %s, %s", a, b)
	}
	if a, b := id("roster.dev/shard=a"), id("roster.dev/shard=b"); a == b {
		t.Errorf("two shards share the leader election %s", a)
	}
	if got := id("roster.dev/shard=a"); !strings.HasPrefix(got, "roster-controllers-") || !strings.HasSuffix(got, ".scim.roster.dev") || len(got) > 63 {
		t.Errorf("leader election ID %q: want roster-controllers-<hash>.scim.roster.dev", got)
	}
}

// TestLoadRefusesBadSelectors: a selector that does not parse stops the manager with the
// flag's name; an empty one means every organization (nil).
func TestLoadRefusesBadSelectors(t *testing.T) {
	if _, err := shard.Load(context.Background(), nil, "roster.dev/shard in a"); err == nil || !strings.Contains(err.Error(), "--organizations") {
		t.Errorf("bad selector: %v, want an error naming --organizations", err)
	}
	for _, sel := range []string{"", "  "} {
		s, err := shard.Load(context.Background(), nil, sel)
		if err != nil || s != nil {
			t.Errorf("selector %q: %v, %v; want every organization (nil)", sel, s, err)
		}
	}
}
