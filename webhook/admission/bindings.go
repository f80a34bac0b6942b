package admission

import (
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// The paths of the validators of rendered bindings (config/webhook/manifests.yaml). The
// webhook configuration sends only objects labelled scim.roster.dev/binding-kind here.
const (
	RoleBindingPath        = "/validate-rbac-authorization-k8s-io-v1-rolebinding"
	ClusterRoleBindingPath = "/validate-rbac-authorization-k8s-io-v1-clusterrolebinding"
)

var (
	roleBindingsResource        = rbacv1.SchemeGroupVersion.WithResource("rolebindings").GroupResource()
	clusterRoleBindingsResource = rbacv1.SchemeGroupVersion.WithResource("clusterrolebindings").GroupResource()
)

// judgeRendered: a RoleBinding or ClusterRoleBinding labelled scim.roster.dev/binding-kind is
// rendered by Roster from a TeamRoleBinding or ClusterTeamRoleBinding, and only Roster writes
// it. A hand edit would add someone the identity provider never put on the team, or keep
// someone it took off; creating one by hand (with the label) would pass for Roster's. Beside
// what exempt lets through (Kubernetes' namespace controller and garbage collector, no-op
// updates, unsticking a deletion), everyone else is refused — the change belongs in the
// TeamRoleBinding or in the identity provider's group. The label is checked on the old object
// and the new one (the configuration's objectSelector matches either), so it cannot be
// removed to get the object out of Roster's hands either.
func (g *guard) judgeRendered(_ context.Context, r request) error {
	ok, changed, err := g.exempt(r)
	if ok || err != nil {
		return err
	}
	o := r.subject()
	gr := roleBindingsResource
	if _, cluster := o.(*rbacv1.ClusterRoleBinding); cluster {
		gr = clusterRoleBindingsResource
	}
	l := o.GetLabels()
	kind, from := l[rosterv1.BindingKindLabel], l[rosterv1.BindingLabel]
	source := fmt.Sprintf("%s %q", kind, from)
	if kind == rosterv1.KindTeamRoleBinding {
		source = fmt.Sprintf("TeamRoleBinding %q in the namespace of organization %q", from, l[rosterv1.OrgLabel])
	}
	var msg string
	switch r.op {
	case admissionv1.Create:
		msg = fmt.Sprintf("objects labelled %s are rendered by Roster only; create a TeamRoleBinding or ClusterTeamRoleBinding instead (docs/access.md)",
			rosterv1.BindingKindLabel)
	case admissionv1.Delete:
		msg = fmt.Sprintf("this binding is rendered by Roster from %s; delete that instead, or take the people off the team in %s",
			source, identityProvider(o))
	default:
		msg = fmt.Sprintf("this binding is rendered by Roster from %s and mirrors the team's members in %s; change the %s, or the group there "+
			"(Okta: Push Groups; Entra ID: the group's members) — Roster rewrites hand edits", source, identityProvider(o), kind)
	}
	return forbidden(gr, o, pathOf(r, changed, field.NewPath("subjects")), msg)
}
