package kubectlroster

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/access"
)

// bindingPage is small: in User mode a rendered object holds up to 1,000 subjects.
const bindingPage = 20

// Ref names a Kubernetes object.
type Ref struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// Access is one line of `kubectl roster access` (-o json / yaml items): a role the user gets
// in a namespace (empty: cluster-wide) through a team.
type Access struct {
	Namespace string `json:"namespace,omitempty"`
	Role      Ref    `json:"role"`
	Team      string `json:"team"`
	TeamID    string `json:"teamId"`
	// Binding is the TeamRoleBinding or ClusterTeamRoleBinding the role comes from.
	Binding Ref `json:"binding"`
	// Objects are the rendered RoleBindings or ClusterRoleBindings (several when User mode
	// splits a large team).
	Objects []string `json:"objects"`
	// Subject is who the rendered objects name for this user: the team's group (Group mode,
	// granted when the authenticator puts the user in that group) or the user (User mode).
	// Unset when they do not name the user (User mode: inactive, or not rendered yet).
	Subject *rbacv1.Subject `json:"subject,omitempty"`
	// Note says why there is no subject.
	Note string `json:"note,omitempty"`
}

// access prints the roles the user gets through its teams, by namespace.
func (s *session) access(ctx context.Context, userName string, p printer, stderr io.Writer) error {
	org, u, teams, err := s.userTeams(ctx, userName)
	if err != nil {
		return err
	}
	names := subjectNames(org, u)
	rows, err := s.renderedFor(ctx, org.Name, teams, names)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if r.Subject == nil {
			r.Note = "not a subject yet (the controller has not rendered the binding)"
			if !u.Spec.IsActive() {
				r.Note = "user inactive: no access in User mode"
			}
		}
	}
	sort.Slice(rows, func(a, b int) bool {
		x, y := rows[a], rows[b]
		if x.Namespace != y.Namespace {
			return x.Namespace < y.Namespace
		}
		if x.Role != y.Role {
			return x.Role.Kind+"/"+x.Role.Name < y.Role.Kind+"/"+y.Role.Name
		}
		return x.Team < y.Team
	})
	if !u.Spec.IsActive() {
		fmt.Fprintf(stderr, "note: user %q is inactive: in User mode Roster names no inactive user in any binding\n", u.Spec.UserName)
	}
	if len(rows) == 0 {
		fmt.Fprintf(stderr, "user %q is in %d team(s), none bound to a role\n", u.Spec.UserName, len(teams))
	}
	p.header([]string{"NAMESPACE", "ROLE", "TEAM", "SUBJECT"}, []string{"BINDING", "OBJECTS"})
	for _, r := range rows {
		ns := r.Namespace
		if ns == "" {
			ns = "<cluster-wide>"
		}
		subject := "<none: " + r.Note + ">"
		if r.Subject != nil {
			subject = r.Subject.Kind + ":" + r.Subject.Name
		}
		err := p.add(row{item: r,
			cells: []string{ns, r.Role.Kind + "/" + r.Role.Name, r.Team, subject},
			wide:  []string{r.Binding.Kind + "/" + r.Binding.Name, strings.Join(r.Objects, ",")}})
		if err != nil {
			return err
		}
	}
	return p.close()
}

// subjectNames are the User subject names that mean u in this organization's bindings (one,
// computed as the controller computes it: internal/access).
func subjectNames(org *rosterv1.Organization, u *rosterv1.OrgUser) map[string]bool {
	names := map[string]bool{}
	if name := access.UserSubjectName(org.Spec.Access, &u.Spec); name != "" {
		names[name] = true
	}
	return names
}

// renderedFor reads the RoleBindings and ClusterRoleBindings rendered for the teams (one paged
// LIST of each, whatever the number of teams) and returns one row per team, binding,
// namespace and role, with the subject that names the user if any.
func (s *session) renderedFor(ctx context.Context, org string, teams []rosterv1.OrgTeam, names map[string]bool) ([]*Access, error) {
	if len(teams) == 0 {
		return nil, nil
	}
	byName := make(map[string]*rosterv1.OrgTeam, len(teams))
	ids := make([]string, 0, len(teams))
	for i := range teams {
		byName[teams[i].Name] = &teams[i]
		ids = append(ids, teams[i].Name)
	}
	// binding-kind too: only objects carrying it are the webhook's (its objectSelector), so
	// only they are Roster's; the org and team labels alone anyone may put on a RoleBinding.
	kind, err := labels.NewRequirement(rosterv1.BindingKindLabel, selection.Exists, nil)
	if err != nil {
		return nil, err
	}
	inTeams, err := labels.NewRequirement(rosterv1.TeamLabel, selection.In, ids)
	if err != nil {
		return nil, err
	}
	sel := client.MatchingLabelsSelector{Selector: labels.SelectorFromSet(labels.Set{rosterv1.OrgLabel: org}).Add(*kind, *inTeams)}
	rows := map[string]*Access{}
	add := func(kind, ns, name string, labels map[string]string, role rbacv1.RoleRef, subjects []rbacv1.Subject) {
		team := byName[labels[rosterv1.TeamLabel]]
		if team == nil {
			return
		}
		b := Ref{Kind: labels[rosterv1.BindingKindLabel], Name: labels[rosterv1.BindingLabel]}
		if b.Kind == "TeamRoleBinding" {
			b.Namespace = team.Namespace
		}
		key := team.Name + "\x00" + ns + "\x00" + b.Kind + "\x00" + b.Name + "\x00" + role.Kind + "\x00" + role.Name
		r := rows[key]
		if r == nil {
			r = &Access{Namespace: ns, Role: Ref{Kind: role.Kind, Name: role.Name}, Team: team.Spec.DisplayName, TeamID: team.Name, Binding: b}
			rows[key] = r
		}
		r.Objects = append(r.Objects, kind+"/"+name)
		for _, sub := range subjects {
			if r.Subject == nil && (sub.Kind == rbacv1.GroupKind || (sub.Kind == rbacv1.UserKind && names[sub.Name])) {
				sub := sub
				r.Subject = &sub
			}
		}
	}
	newRBs := func() *rbacv1.RoleBindingList { return &rbacv1.RoleBindingList{} }
	err = eachPage(ctx, s.c, newRBs, bindingPage, []client.ListOption{sel}, func(l *rbacv1.RoleBindingList) error {
		for _, rb := range l.Items {
			add("RoleBinding", rb.Namespace, rb.Name, rb.Labels, rb.RoleRef, rb.Subjects)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the teams' RoleBindings in all namespaces: %w", err)
	}
	newCRBs := func() *rbacv1.ClusterRoleBindingList { return &rbacv1.ClusterRoleBindingList{} }
	err = eachPage(ctx, s.c, newCRBs, bindingPage, []client.ListOption{sel}, func(l *rbacv1.ClusterRoleBindingList) error {
		for _, crb := range l.Items {
			add("ClusterRoleBinding", "", crb.Name, crb.Labels, crb.RoleRef, crb.Subjects)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the teams' ClusterRoleBindings: %w", err)
	}
	out := make([]*Access, 0, len(rows))
	for _, r := range rows {
		sort.Strings(r.Objects)
		out = append(out, r)
	}
	return out, nil
}
