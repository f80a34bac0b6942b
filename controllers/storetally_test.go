package controllers

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// TestStoreTally: an object counts as synced only with a True Synced condition of its current
// generation, as failing only with a False one (the first named); both ways in (the
// conditions of a team, the condition of a cached user) tally alike.
func TestStoreTally(t *testing.T) {
	cond := func(status metav1.ConditionStatus, gen int64, reason string) *metav1.Condition {
		return &metav1.Condition{Type: rosterv1.ConditionSynced, Status: status, ObservedGeneration: gen, Reason: reason, Message: "m-" + reason}
	}
	for _, tc := range []struct {
		name           string
		c              *metav1.Condition
		synced, failed int
	}{
		{"none", nil, 0, 0},
		{"true, current", cond(metav1.ConditionTrue, 3, ReasonInStore), 1, 0},
		{"true, older generation", cond(metav1.ConditionTrue, 2, ReasonInStore), 0, 0},
		{"true, newer generation", cond(metav1.ConditionTrue, 4, ReasonInStore), 0, 0},
		{"false", cond(metav1.ConditionFalse, 3, ReasonStoreUnavailable), 0, 1},
		{"unknown", cond(metav1.ConditionUnknown, 3, ReasonStoreError), 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := isSynced(tc.c, 3); got != (tc.synced == 1) {
				t.Errorf("isSynced = %v", got)
			}
			var conds []metav1.Condition
			if tc.c != nil {
				conds = []metav1.Condition{{Type: rosterv1.ConditionReady, Status: metav1.ConditionTrue, ObservedGeneration: 3}, *tc.c}
			}
			var fromConds, fromCond storeTally
			fromConds.add("OrgTeam", "t-1", conds, 3, &fromConds.syncedTeams)
			fromCond.addSynced("OrgTeam", "t-1", tc.c, 3, &fromCond.syncedTeams)
			for name, got := range map[string]storeTally{"add": fromConds, "addSynced": fromCond} {
				if int(got.syncedTeams) != tc.synced || got.failed != tc.failed || got.syncedUsers != 0 {
					t.Errorf("%s: %d synced, %d failed (users %d); want %d, %d", name, got.syncedTeams, got.failed, got.syncedUsers, tc.synced, tc.failed)
				}
				if (got.failing != "") != (tc.failed > 0) ||
					tc.failed > 0 && got.failing != "OrgTeam t-1: "+tc.c.Reason+": m-"+tc.c.Reason {
					t.Errorf("%s: failing %q", name, got.failing)
				}
			}
		})
	}
	// The first failure is named; later ones are counted.
	var tally storeTally
	tally.addSynced("OrgUser", "u-1", cond(metav1.ConditionFalse, 1, ReasonStoreConflict), 1, &tally.syncedUsers)
	tally.addSynced("OrgUser", "u-2", cond(metav1.ConditionFalse, 1, ReasonStoreRejected), 1, &tally.syncedUsers)
	if tally.failed != 2 || !strings.HasPrefix(tally.failing, "OrgUser u-1: "+ReasonStoreConflict) {
		t.Errorf("two failures: %d failed, failing %q", tally.failed, tally.failing)
	}
}
