package kubectlroster

import (
	"context"
	"fmt"
	"sort"

	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// Member is one line of `kubectl roster members` (-o json / yaml items).
type Member struct {
	// ID is the member's SCIM id (OrgUser object name).
	ID          string `json:"id"`
	UserName    string `json:"userName,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	Email       string `json:"email,omitempty"`
	// Active is unset for an unresolved member.
	Active *bool `json:"active,omitempty"`
	// Unresolved: the slice names an id that is no user of the organization.
	Unresolved bool `json:"unresolved,omitempty"`
}

// members prints the members of a team slice by slice: a page of slices is read, its members
// resolved and printed, then the next page.
func (s *session) members(ctx context.Context, teamName string, p printer) error {
	org, err := s.org(ctx)
	if err != nil {
		return err
	}
	team, err := s.findTeam(ctx, org, teamName)
	if err != nil {
		return err
	}
	ns := org.Spec.Namespace
	p.header([]string{"USERNAME", "DISPLAY-NAME", "ACTIVE"}, []string{"ID", "EMAIL"})
	var who people
	// A member may be listed in two slices for a moment (two replicas adding it at once):
	// printed once, as membership.Members counts it.
	seen := map[string]bool{}
	// Slices carry TeamLabel; a break-glass snapshot's slices do not (they are not members).
	opts := []client.ListOption{client.InNamespace(ns), client.MatchingLabels{rosterv1.TeamLabel: team.Name}}
	err = eachPage(ctx, s.c, newSliceList, slicePage, opts, func(l *rosterv1.OrgTeamMemberSliceList) error {
		if who == nil {
			w, err := s.peopleFor(ctx, ns, l)
			if err != nil {
				return err
			}
			who = w
		}
		for _, sl := range l.Items {
			if sl.Spec.Team != team.Name || rosterv1.IsMemberSnapshot(&sl) {
				continue
			}
			ids := make([]string, 0, len(sl.Spec.Members))
			for _, id := range sl.Spec.Members {
				if !seen[id] {
					seen[id] = true
					ids = append(ids, id)
				}
			}
			if err := printSlice(ctx, who, ids, p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading the members of team %q: %w", team.Spec.DisplayName, err)
	}
	return p.close()
}

// peopleFor picks how to resolve members from the first page of slices: a team that fits in
// smallTeam members is resolved by GETs, a larger one against the org's users listed once.
func (s *session) peopleFor(ctx context.Context, ns string, first *rosterv1.OrgTeamMemberSliceList) (people, error) {
	n := 0
	for _, sl := range first.Items {
		n += len(sl.Spec.Members)
	}
	if n <= smallTeam && first.GetContinue() == "" {
		return oneByOne{c: s.c, namespace: ns}, nil
	}
	return loadEveryone(ctx, s.c, ns)
}

// printSlice prints one slice's members, sorted by userName (unresolved ids last).
func printSlice(ctx context.Context, who people, ids []string, p printer) error {
	found, err := who.lookup(ctx, ids)
	if err != nil {
		return err
	}
	rows := make([]Member, len(ids))
	for i, id := range ids {
		m := Member{ID: id, Unresolved: true}
		if u := found[id]; u != nil {
			active := u.active
			m = Member{ID: id, UserName: u.userName, DisplayName: u.displayName, Email: u.email, Active: &active}
		}
		rows[i] = m
	}
	sort.Slice(rows, func(a, b int) bool {
		if rows[a].Unresolved != rows[b].Unresolved {
			return !rows[a].Unresolved
		}
		if rows[a].UserName != rows[b].UserName {
			return rows[a].UserName < rows[b].UserName
		}
		return rows[a].ID < rows[b].ID
	})
	for i := range rows {
		m := &rows[i]
		r := row{item: m, wide: []string{m.ID, orNone(m.Email)}}
		if m.Unresolved {
			r.cells = []string{"<no such user: " + m.ID + ">", "<none>", "<unknown>"}
		} else {
			r.cells = []string{m.UserName, orNone(m.DisplayName), fmt.Sprint(*m.Active)}
		}
		if err := p.add(r); err != nil {
			return err
		}
	}
	return p.flush()
}

// orNone is kubectl's "<none>" for an empty cell.
func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
