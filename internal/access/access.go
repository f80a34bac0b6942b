// Package access turns a team and an organization's access settings into the RBAC subjects,
// names, labels and chunks of the RoleBindings and ClusterRoleBindings that Roster renders
// from TeamRoleBindings and ClusterTeamRoleBindings. Pure functions: the controller
// (controllers/teamrolebinding_controller.go) reads and writes the objects.
package access

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// Mode returns the organization's subject mode, Group when unset.
func Mode(a *rosterv1.AccessSpec) rosterv1.SubjectMode {
	if a == nil || a.Subjects == "" {
		return rosterv1.SubjectsGroup
	}
	return a.Subjects
}

// GroupSubject is the one subject of a team in Group mode: the group the API server's
// authenticator reports for the team's members (its OIDC groups claim, with its prefix).
func GroupSubject(a *rosterv1.AccessSpec, displayName string) rbacv1.Subject {
	prefix := ""
	if a != nil {
		prefix = a.GroupPrefix
	}
	return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: prefix + displayName}
}

// UserSubject is a member's subject in User mode, or false when the user gets none: it is
// deactivated, being deleted, or (userClaim email) has no email. It reads spec.active,
// metadata.deletionTimestamp and spec.userName, or spec.emails with userClaim email: the
// controllers read only those of a cached user (controllers/users.go; its test compares both).
func UserSubject(a *rosterv1.AccessSpec, u *rosterv1.OrgUser) (rbacv1.Subject, bool) {
	if !u.Spec.IsActive() || !u.DeletionTimestamp.IsZero() {
		return rbacv1.Subject{}, false
	}
	name := UserSubjectName(a, &u.Spec)
	if name == "" {
		return rbacv1.Subject{}, false
	}
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}, true
}

// UserSubjectName is the User subject name a user has in User mode, whether or not it is
// active: the prefix and the userName or the primary email (userClaim); "" when the claim
// is email and the user has none.
func UserSubjectName(a *rosterv1.AccessSpec, spec *rosterv1.OrgUserSpec) string {
	name, prefix := spec.UserName, ""
	if a != nil {
		prefix = a.UserPrefix
		if a.UserClaim == rosterv1.UserClaimEmail {
			name = spec.PrimaryEmail()
		}
	}
	if name == "" {
		return ""
	}
	return prefix + name
}

// ReservedPrefix starts the names of the users and groups Kubernetes itself defines
// (system:masters, system:authenticated, system:serviceaccounts, …).
const ReservedPrefix = "system:"

// Reserved reports whether a subject name (prefix included) is one of Kubernetes' own:
// Roster never renders it, whatever a team is called.
func Reserved(name string) bool { return strings.HasPrefix(name, ReservedPrefix) }

// SortSubjects sorts subjects and drops duplicates.
func SortSubjects(s []rbacv1.Subject) []rbacv1.Subject {
	slices.SortFunc(s, compareSubjects)
	return slices.CompactFunc(s, func(a, b rbacv1.Subject) bool { return compareSubjects(a, b) == 0 })
}

func compareSubjects(a, b rbacv1.Subject) int {
	if c := strings.Compare(a.Kind, b.Kind); c != 0 {
		return c
	}
	if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// maxNameLength keeps a rendered name, with its hash and chunk suffix, within the 253
// characters of an object name.
const maxNameLength = 253 - len("roster-") - len("-12345678") - len("-99999")

// BaseName is the name of a binding's first rendered object in a namespace (or of its
// ClusterRoleBinding): roster-<binding name>-<hash>. The hash covers the binding's kind,
// namespace and name, so two organizations' TeamRoleBindings of the same name never share a
// RoleBinding, and its roleRef, which a RoleBinding cannot change: a new roleRef renders new
// objects and the old ones are deleted.
func BaseName(kind, namespace, name string, role rosterv1.RoleRef) string {
	h := sha256.Sum256([]byte(strings.Join([]string{kind, namespace, name, role.Kind, role.Name}, "\x00")))
	short := name
	if len(short) > maxNameLength {
		short = short[:maxNameLength]
	}
	return fmt.Sprintf("roster-%s-%s", short, hex.EncodeToString(h[:4]))
}

// ChunkName is the name of chunk i of a binding's rendered objects: the base name for the
// first, base-<i> for the others.
func ChunkName(base string, i int) string {
	if i == 0 {
		return base
	}
	return fmt.Sprintf("%s-%d", base, i)
}

// ChunkIndex is the inverse of ChunkName, or false when name is not one of base's chunks.
func ChunkIndex(base, name string) (int, bool) {
	if name == base {
		return 0, true
	}
	rest, ok := strings.CutPrefix(name, base+"-")
	if !ok {
		return 0, false
	}
	var i int
	if _, err := fmt.Sscanf(rest, "%d", &i); err != nil || i <= 0 || fmt.Sprint(i) != rest {
		return 0, false
	}
	return i, true
}

// Labels are the labels of a rendered object: kubectl get rolebindings -l
// scim.roster.dev/team=<team> (or binding=<name>) finds them; the controller finds its own by
// bindingKind and bindingUID.
func Labels(org, team, bindingKind, binding, bindingUID string) map[string]string {
	return map[string]string{
		rosterv1.OrgLabel:         org,
		rosterv1.TeamLabel:        team,
		rosterv1.BindingKindLabel: bindingKind,
		rosterv1.BindingLabel:     binding,
		rosterv1.BindingUIDLabel:  bindingUID,
		rosterv1.ManagedByLabel:   rosterv1.ManagedByRoster,
	}
}

// Layout spreads want (sorted, no duplicates) over chunks of at most max subjects, keeping
// each subject in the chunk that holds it now (current, by chunk index): removing a member
// rewrites only its chunk, adding one only the first chunk with room. A subject that
// current lists twice stays in the lower chunk. Chunks that end up empty are absent from the
// result; new chunks take the lowest free index.
func Layout(current map[int][]rbacv1.Subject, want []rbacv1.Subject, max int) map[int][]rbacv1.Subject {
	wanted := make(map[rbacv1.Subject]bool, len(want))
	for _, s := range want {
		wanted[s] = true
	}
	placed := make(map[rbacv1.Subject]bool, len(want))
	out := map[int][]rbacv1.Subject{}
	idx := make([]int, 0, len(current))
	for i := range current {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for _, i := range idx {
		for _, s := range current[i] {
			s = normal(s)
			if wanted[s] && !placed[s] && len(out[i]) < max {
				out[i] = append(out[i], s)
				placed[s] = true
			}
		}
	}
	i := 0
	for _, s := range want {
		if placed[s] {
			continue
		}
		for len(out[i]) >= max {
			i++
		}
		out[i] = append(out[i], s)
		placed[s] = true
	}
	for i, c := range out {
		if len(c) == 0 {
			delete(out, i)
		} else {
			out[i] = SortSubjects(c)
		}
	}
	return out
}

// normal is a subject as Roster writes it (the apiserver keeps it as written).
func normal(s rbacv1.Subject) rbacv1.Subject {
	return rbacv1.Subject{Kind: s.Kind, APIGroup: s.APIGroup, Name: s.Name, Namespace: s.Namespace}
}
