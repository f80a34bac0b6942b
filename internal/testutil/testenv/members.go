package testenv

import (
	"context"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/membership"
)

// LiveMembers lists a team's members from the apiserver (its slices by the team label), sorted
// and each once: the truth replicas converge on, which no cache can hide from an assertion.
func (e *Env) LiveMembers(t testing.TB, namespace, team string) []string {
	t.Helper()
	var list rosterv1.OrgTeamMemberSliceList
	if err := e.Client.List(context.Background(), &list, client.InNamespace(namespace), client.MatchingLabels{rosterv1.TeamLabel: team}); err != nil {
		t.Fatal(err)
	}
	return membership.Members(list.Items).Sorted()
}
