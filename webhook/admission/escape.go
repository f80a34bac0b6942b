package admission

import (
	"context"
	"fmt"
	"slices"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// The two deliberate ways around "only the identity provider changes what SCIM owns"
// (docs/operations.md, "Disabling SCIM for an organization" and "Break-glass edits").
//
// Release: when SCIM is disabled for an organization (spec.scim: Disabled), Roster's
// Organization controller turns its SCIM-managed teams manual. The CRD's CEL rule lets
// managedBy change only from scim to manual; this webhook lets only Roster make that change,
// and only while the organization, read from the apiserver, is disabled.
//
// Break-glass: a member of the configured group (--break-glass-group) may annotate a
// SCIM-managed team with BreakGlassAnnotation (the reason). Roster then records the members
// the identity provider set and marks the team open (BreakGlassStateAnnotation "open ...");
// while the team, read live, carries both, the member may change the members of the team's
// existing slices, or delete slices. Every such write is logged and recorded as a Warning
// event on the team. The identity provider's next write of the team ends it and restores the
// recorded members before applying its change (internal/membership, breakglass.go, which
// also says why slices may not be created by hand). Roster's record — the state annotation
// and the snapshot slices (rosterv1.SnapshotOfLabel) — is Roster's alone to write.

// EventBreakGlass is the reason of the Warning event recorded on a team for each break-glass
// write admitted.
const EventBreakGlass = "BreakGlassWrite"

// orgLookup returns an organization, or nil when it does not exist.
type orgLookup func(ctx context.Context, name string) (*rosterv1.Organization, error)

// judgeRelease decides an UPDATE that changes a SCIM team's managedBy (to manual: CEL refuses
// anything else). Only Roster may, and only while SCIM is disabled for the team's
// organization — read from the apiserver, not the cache: a switch flipped back a moment ago
// must stop it.
func (g *guard) judgeRelease(ctx context.Context, r request, t *rosterv1.OrgTeam) error {
	path := field.NewPath("spec", "managedBy")
	org := t.Labels[rosterv1.OrgLabel]
	if !g.scim.Has(r.user) {
		return forbidden(teamsResource, t, path, fmt.Sprintf("team %q is provisioned by SCIM from %s; only Roster turns a SCIM team manual, "+
			"when SCIM is disabled for the organization (spec.scim: Disabled on Organization %q) — until then, change the team there "+
			"(Okta: Push Groups; Entra ID: Users and groups)", t.Spec.DisplayName, identityProvider(t), org))
	}
	o, err := g.orgs(ctx, org)
	if err != nil {
		return apierrors.NewServiceUnavailable(err.Error())
	}
	if o == nil || o.Spec.Namespace != t.Namespace || !o.SCIMDisabled() {
		return forbidden(teamsResource, t, path, fmt.Sprintf("team %q stays provisioned by SCIM from %s: SCIM is not disabled for organization %q "+
			"(spec.scim), and only then do its teams become manual", t.Spec.DisplayName, identityProvider(t), org))
	}
	return nil
}

// inBreakGlass reports whether the requester is a member of the break-glass group.
func (g *guard) inBreakGlass(r request) bool {
	return g.breakGlass != "" && slices.Contains(r.groups, g.breakGlass)
}

// breakGlassReason is the reason a team's break-glass annotation gives ("": none).
func breakGlassReason(t *rosterv1.OrgTeam) string {
	return strings.TrimSpace(t.Annotations[rosterv1.BreakGlassAnnotation])
}

// breakGlassTeam decides a write of SCIM team t by a member of the break-glass group. The
// team itself takes only setting or removing the annotation (which opens and closes its
// slices to the group) and deletion of a team that carries it: its other fields stay the
// identity provider's — a rename by hand would bypass the display-name reservation, and
// Roster's own annotations fence its membership writes.
func (g *guard) breakGlassTeam(r request, t *rosterv1.OrgTeam, changed []*field.Path) error {
	annotation := field.NewPath("metadata", "annotations").Key(rosterv1.BreakGlassAnnotation)
	idp := identityProvider(t)
	howTo := fmt.Sprintf("kubectl annotate orgteam -n %s %s %s=\"<reason>\"", t.Namespace, t.Name, rosterv1.BreakGlassAnnotation)
	var reason string
	switch r.op {
	case admissionv1.Create:
		return forbidden(teamsResource, t, field.NewPath("spec", "managedBy"), fmt.Sprintf("break-glass edits teams that %s pushed; "+
			"it does not create SCIM-managed teams: create the team with managedBy: manual", idp))
	case admissionv1.Delete:
		if reason = breakGlassReason(t); reason == "" {
			return forbidden(teamsResource, t, annotation, fmt.Sprintf("team %q is provisioned by SCIM from %s; to delete it in an emergency, "+
				"first give the reason on the team (%s)", t.Spec.DisplayName, idp, howTo))
		}
	default:
		// Removing the annotation ends the break-glass; the old object gives the reason.
		if reason = breakGlassReason(r.new.(*rosterv1.OrgTeam)); reason == "" {
			reason = breakGlassReason(t)
		}
		if reason == "" {
			return forbidden(teamsResource, t, pathOf(r, changed, annotation), fmt.Sprintf("team %q is provisioned by SCIM from %s; "+
				"a break-glass edit needs the reason in annotation %s in the same request (%s)", t.Spec.DisplayName, idp, rosterv1.BreakGlassAnnotation, howTo))
		}
		for _, p := range changed {
			if p.String() != annotation.String() {
				return forbidden(teamsResource, t, p, fmt.Sprintf("team %q is provisioned by SCIM from %s; a break-glass edit of the team itself only sets or "+
					"removes annotation %s (which opens its OrgTeamMemberSlices to group %q) or deletes the team: its other fields stay the identity provider's",
					t.Spec.DisplayName, idp, rosterv1.BreakGlassAnnotation, g.breakGlass))
			}
		}
	}
	subject := t
	if r.op == admissionv1.Update {
		subject = r.new.(*rosterv1.OrgTeam)
	}
	g.admitBreakGlass(r, subject, "OrgTeam "+t.Name, reason)
	return nil
}

// breakGlassOpen returns the team as the apiserver holds it when it is SCIM-managed, carries
// the break-glass annotation and Roster has opened it (its members recorded), else nil and
// why not, as the end of a denial. The cache is not asked: the team may have been opened, or
// closed by the identity provider's write, a moment ago. (A write admitted here and stored
// after that close fails its resourceVersion check, because the close rewrites every slice,
// and comes back here.)
func (g *guard) breakGlassOpen(ctx context.Context, team *rosterv1.OrgTeam) (*rosterv1.OrgTeam, string, error) {
	live, err := g.liveTeam(ctx, team.Namespace, team.Name)
	if err != nil || live == nil || live.Spec.ManagedBy != rosterv1.ManagedBySCIM || breakGlassReason(live) == "" {
		return nil, g.breakGlassFirst(team), err
	}
	switch state, rest := rosterv1.BreakGlassState(live); state {
	case rosterv1.BreakGlassOpen:
		return live, "", nil
	case "":
		return nil, fmt.Sprintf("; Roster is recording the members %s set, which its next write of the team restores: "+
			"retry in a few seconds (the team's event %s says when it is open)", identityProvider(team), "BreakGlassOpened"), nil
	case rosterv1.BreakGlassRefused:
		return nil, fmt.Sprintf("; Roster refused a break-glass edit of this team: %s", rest), nil
	default:
		return nil, fmt.Sprintf("; %s's write of the team ended the break-glass edit and restores the members from before it; "+
			"annotate the team again for another", identityProvider(team)), nil
	}
}

// breakGlassSlice decides a break-glass member's write of a slice of open team t: it may
// change the members of an existing slice, or delete one, and nothing else.
func (g *guard) breakGlassSlice(r request, t *rosterv1.OrgTeam, subject *rosterv1.OrgTeamMemberSlice, changed []*field.Path) error {
	members := field.NewPath("spec", "members")
	switch r.op {
	case admissionv1.Create:
		return forbidden(slicesResource, subject, field.NewPath("spec", "team"), fmt.Sprintf("a break-glass edit changes the members of team %q's existing slices: "+
			"add members to OrgTeamMemberSlice %s, which Roster created for them, or to any slice of the team with room "+
			"(a new slice could be stored after %s's write ended the break-glass, and escape the restore)",
			t.Spec.DisplayName, rosterv1.BreakGlassSliceName(t.Name), identityProvider(t)))
	case admissionv1.Update:
		for _, p := range changed {
			if p.String() != members.String() {
				return forbidden(slicesResource, subject, p, fmt.Sprintf("team %q is provisioned by SCIM from %s; a break-glass edit of its slices changes spec.members only",
					t.Spec.DisplayName, identityProvider(t)))
			}
		}
	}
	return nil
}

// breakGlassHint ends a denial of a SCIM team's write with the group that could make it.
func (g *guard) breakGlassHint() string {
	if g.breakGlass == "" {
		return ""
	}
	return fmt.Sprintf("; in an emergency, a member of group %q can edit it by hand with the annotation %s: \"<reason>\" (docs/operations.md, Break-glass edits)",
		g.breakGlass, rosterv1.BreakGlassAnnotation)
}

// breakGlassFirst ends the denial of a break-glass member's slice write whose team is not
// annotated.
func (g *guard) breakGlassFirst(team *rosterv1.OrgTeam) string {
	return fmt.Sprintf("; for a break-glass edit, first give the reason on the team (kubectl annotate orgteam -n %s %s %s=\"<reason>\")",
		team.Namespace, team.Name, rosterv1.BreakGlassAnnotation)
}

// admitBreakGlass logs an admitted break-glass write and records it as a Warning event on
// the team (not for dry runs: nothing is written then).
func (g *guard) admitBreakGlass(r request, team *rosterv1.OrgTeam, object, reason string) {
	g.log.Info("break-glass write admitted", "operation", r.op, "user", r.user, "group", g.breakGlass,
		"namespace", team.Namespace, "team", team.Name, "object", object, "reason", reason, "dryRun", r.dryRun)
	if g.events == nil || r.dryRun {
		return
	}
	if rs := []rune(reason); len(rs) > 256 {
		reason = string(rs[:256]) + "…"
	}
	g.events.Eventf(team, corev1.EventTypeWarning, EventBreakGlass,
		"Break-glass %s of %s by %s (group %s), reason: %q. The identity provider's next write of the team ends the break-glass and restores the members it had set",
		strings.ToLower(string(r.op)), object, r.user, g.breakGlass, reason)
}
