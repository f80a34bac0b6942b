package kubectlroster

import (
	"context"
	"fmt"
	"slices"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// Team is one line of `kubectl roster teams` (-o json / yaml items).
type Team struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	ManagedBy   string `json:"managedBy,omitempty"`
	MemberCount int32  `json:"memberCount"`
}

// teams prints the teams a user is in.
func (s *session) teams(ctx context.Context, userName string, p printer) error {
	_, _, teams, err := s.userTeams(ctx, userName)
	if err != nil {
		return err
	}
	p.header([]string{"TEAM", "MEMBERS", "MANAGED-BY"}, []string{"ID", "SYNCED"})
	for _, t := range teams {
		item := &Team{ID: t.Name, DisplayName: t.Spec.DisplayName, ManagedBy: t.Spec.ManagedBy, MemberCount: t.Status.MemberCount}
		r := row{item: item,
			cells: []string{t.Spec.DisplayName, fmt.Sprint(t.Status.MemberCount), orNone(t.Spec.ManagedBy)},
			wide:  []string{t.Name, conditionStatus(t.Status.Conditions, rosterv1.ConditionSynced)}}
		if err := p.add(r); err != nil {
			return err
		}
	}
	return p.close()
}

// userTeams resolves the organization, the user and the teams the user is in.
func (s *session) userTeams(ctx context.Context, userName string) (*rosterv1.Organization, *rosterv1.OrgUser, []rosterv1.OrgTeam, error) {
	org, err := s.org(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	u, err := s.findUser(ctx, org, userName)
	if err != nil {
		return nil, nil, nil, err
	}
	teams, err := s.teamsOf(ctx, org.Spec.Namespace, u.Name)
	return org, u, teams, err
}

// teamsOf returns the teams whose member slices name the user id, sorted by display name.
// The manager finds them through its cache's member index; the plugin has no cache, and the
// apiserver cannot select on a list element, so it reads the namespace's slices in pages and
// looks for the id in each (Kubernetes offers no cheaper way; docs/kubectl-roster.md has
// the cost).
func (s *session) teamsOf(ctx context.Context, ns, id string) ([]rosterv1.OrgTeam, error) {
	in := map[string]bool{}
	err := eachPage(ctx, s.c, newSliceList, slicePage, []client.ListOption{client.InNamespace(ns)}, func(l *rosterv1.OrgTeamMemberSliceList) error {
		for _, sl := range l.Items {
			if !in[sl.Spec.Team] && !rosterv1.IsMemberSnapshot(&sl) && slices.Contains(sl.Spec.Members, id) {
				in[sl.Spec.Team] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the member slices of namespace %q: %w", ns, err)
	}
	out := make([]rosterv1.OrgTeam, 0, len(in))
	for name := range in {
		var t rosterv1.OrgTeam
		if err := s.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &t); err != nil {
			if apierrors.IsNotFound(err) {
				continue // deleted after its slices were read; its slices go with it
			}
			return nil, fmt.Errorf("reading team %s: %w", name, err)
		}
		out = append(out, t)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Spec.DisplayName < out[b].Spec.DisplayName })
	return out, nil
}

// conditionStatus is a condition's status, "<unknown>" when absent, with its reason when
// not True.
func conditionStatus(conds []metav1.Condition, typ string) string {
	c := meta.FindStatusCondition(conds, typ)
	if c == nil {
		return "<unknown>"
	}
	if c.Status == "True" || c.Reason == "" {
		return string(c.Status)
	}
	return fmt.Sprintf("%s (%s)", c.Status, c.Reason)
}
