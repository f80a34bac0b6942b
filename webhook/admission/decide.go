package admission

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// Kubernetes' own controllers that clean up after a deletion. Blocking them would leave an
// organization's namespace stuck in Terminating forever, which is worse than letting them
// remove objects whose removal was already decided by whoever deleted the namespace or the
// owning team. With --use-service-account-credentials=false every controller of
// kube-controller-manager runs as system:kube-controller-manager instead.
const (
	namespaceController = "system:serviceaccount:kube-system:namespace-controller"
	garbageCollector    = "system:serviceaccount:kube-system:generic-garbage-collector"
	controllerManager   = "system:kube-controller-manager"
)

var (
	// cleanupDeleters may delete SCIM-owned objects: the namespace controller empties a
	// deleted namespace, the garbage collector deletes slices whose team is gone.
	cleanupDeleters = sets.New(namespaceController, garbageCollector, controllerManager)
	// ownershipUpdaters may change finalizers and ownerReferences (and nothing else): the
	// garbage collector does so for foreground and orphan deletion.
	ownershipUpdaters = sets.New(garbageCollector, controllerManager)
)

var (
	usersResource  = rosterv1.GroupVersion.WithResource("orgusers").GroupResource()
	teamsResource  = rosterv1.GroupVersion.WithResource("orgteams").GroupResource()
	slicesResource = rosterv1.GroupVersion.WithResource("orgteammemberslices").GroupResource()
)

// teamLookup returns a team, or nil when it does not exist.
type teamLookup func(ctx context.Context, namespace, name string) (*rosterv1.OrgTeam, error)

// request is one admission request reduced to what a decision needs. old is nil on CREATE,
// new is nil on DELETE.
type request struct {
	op       admissionv1.Operation
	user     string
	groups   []string
	dryRun   bool
	old, new client.Object
	// newRaw and oldRaw are the objects as the apiserver sent them (nil where there is none):
	// the typed decode is lenient where the schema is (rosterv1.MemberList), the webhook is not.
	newRaw, oldRaw []byte
}

// subject is the object whose ownership decides: the new one on CREATE, else the old one.
func (r request) subject() client.Object {
	if r.op == admissionv1.Create {
		return r.new
	}
	return r.old
}

// guard holds what the decisions need: who Roster's SCIM server is, how to find a team and
// an organization, and who may break the glass (escape.go).
type guard struct {
	scim  sets.Set[string]
	teams teamLookup
	log   logr.Logger
	// liveTeam reads a team from the apiserver; orgs reads an organization from it.
	liveTeam teamLookup
	orgs     orgLookup
	// breakGlass is the group whose members may edit SCIM teams in an emergency ("": none).
	breakGlass string
	// events records break-glass writes on their teams (nil: none).
	events record.EventRecorder
}

// exempt reports whether a request passes whatever it touches, and otherwise the fields an
// UPDATE changes (sorted, spec before metadata). Beside Roster itself, these pass:
//   - an UPDATE that changes nothing (a re-apply of an unchanged manifest);
//   - an UPDATE that only removes finalizers of an object already being deleted: its
//     deletion was decided already, and an admin must be able to unstick it (e.g. when the
//     identity store is gone for good and the controller cannot finish its cleanup);
//   - Kubernetes' namespace controller and garbage collector (see cleanupDeleters).
func (g *guard) exempt(r request) (bool, []*field.Path, error) {
	if g.scim.Has(r.user) {
		return true, nil, nil
	}
	switch r.op {
	case admissionv1.Delete:
		return cleanupDeleters.Has(r.user), nil, nil
	case admissionv1.Update:
		changed, err := changedPaths(r.old, r.new)
		if err != nil {
			return false, nil, err
		}
		if len(changed) == 0 {
			return true, nil, nil
		}
		onlyFinalizers := len(changed) == 1 && changed[0].String() == "metadata.finalizers"
		if onlyFinalizers && r.old.GetDeletionTimestamp() != nil && isSubset(r.new.GetFinalizers(), r.old.GetFinalizers()) {
			return true, changed, nil
		}
		if ownershipUpdaters.Has(r.user) && onlyOwnership(changed) {
			return true, changed, nil
		}
		return false, changed, nil
	}
	return false, nil, nil
}

// judgeUser: every OrgUser is provisioned by SCIM.
func (g *guard) judgeUser(_ context.Context, r request) error {
	ok, changed, err := g.exempt(r)
	if ok || err != nil {
		return err
	}
	u := r.subject().(*rosterv1.OrgUser)
	idp := identityProvider(u)
	var msg string
	switch r.op {
	case admissionv1.Create:
		msg = fmt.Sprintf("users are provisioned by SCIM from %s; assign the person to Roster's app there "+
			"(Okta: Assignments; Entra ID: Users and groups) — only Roster's SCIM server creates OrgUsers", idp)
	case admissionv1.Delete:
		msg = fmt.Sprintf("user %q is provisioned by SCIM from %s; unassign or deactivate the user there "+
			"(Okta: Assignments; Entra ID: Users and groups) — only Roster's SCIM server deletes OrgUsers", u.Spec.UserName, idp)
	default:
		msg = fmt.Sprintf("user %q is provisioned by SCIM from %s; change the user's profile there "+
			"(Okta: the user's profile, pushed with Push Profile Updates; Entra ID: the user's properties) — only Roster's SCIM server changes OrgUsers", u.Spec.UserName, idp)
	}
	return forbidden(usersResource, u, pathOf(r, changed, field.NewPath("spec", "userName")), msg)
}

// judgeTeam: SCIM-managed teams are the identity provider's; manual teams are RBAC's.
// managedBy changes only from scim to manual (CEL), so the old object decides an UPDATE; that
// change itself is judgeRelease's, and a break-glass member's write breakGlassTeam's.
func (g *guard) judgeTeam(ctx context.Context, r request) error {
	t := r.subject().(*rosterv1.OrgTeam)
	if t.Spec.ManagedBy != rosterv1.ManagedBySCIM {
		return nil
	}
	if r.op == admissionv1.Update && r.new.(*rosterv1.OrgTeam).Spec.ManagedBy != t.Spec.ManagedBy {
		return g.judgeRelease(ctx, r, t)
	}
	ok, changed, err := g.exempt(r)
	if ok || err != nil {
		return err
	}
	if g.inBreakGlass(r) {
		return g.breakGlassTeam(r, t, changed)
	}
	idp := identityProvider(t)
	var msg string
	switch r.op {
	case admissionv1.Create:
		msg = fmt.Sprintf("only Roster's SCIM server creates teams with managedBy: scim; push the group from %s "+
			"(Okta: Push Groups; Entra ID: assign the group to Roster's app), or create the team with managedBy: manual to manage its members by hand", idp)
	case admissionv1.Delete:
		msg = fmt.Sprintf("team %q is provisioned by SCIM from %s; delete or unlink the pushed group there "+
			"(Okta: Push Groups; Entra ID: Users and groups) — SCIM-managed teams mirror the identity provider", t.Spec.DisplayName, idp) + g.breakGlassHint()
	default:
		msg = fmt.Sprintf("team %q is provisioned by SCIM from %s; change it there "+
			"(Okta: Push Groups; Entra ID: Users and groups) — SCIM-managed teams mirror the identity provider", t.Spec.DisplayName, idp) + g.breakGlassHint()
	}
	return forbidden(teamsResource, t, pathOf(r, changed, field.NewPath("spec", "managedBy")), msg)
}

// judgeSlice: a slice is the identity provider's when its team is SCIM-managed. The team is
// named by spec.team (immutable) and by the scim.roster.dev/team label, which the SCIM
// server selects slices by; both count, on the old object and the new one, so a slice cannot
// be slipped into a SCIM team's membership through its label either.
//
// A slice whose team does not exist: creating or changing it is refused (it could otherwise
// pre-seed the members of a team the identity provider pushes later under that name; create
// the team first), deleting it is allowed (an orphan changes nobody's membership).
func (g *guard) judgeSlice(ctx context.Context, r request) error {
	if g.scim.Has(r.user) {
		return nil
	}
	subject := r.subject().(*rosterv1.OrgTeamMemberSlice)
	labelPath := field.NewPath("metadata", "labels").Key(rosterv1.TeamLabel)
	if r.new != nil {
		sl := r.new.(*rosterv1.OrgTeamMemberSlice)
		if fe := membersForm(r.newRaw, r.oldRaw); fe != nil {
			return invalid(slicesResource, sl, fe)
		}
		if l, ok := sl.Labels[rosterv1.TeamLabel]; ok && l != sl.Spec.Team {
			return invalid(slicesResource, sl, field.Invalid(labelPath, l,
				fmt.Sprintf("must name the slice's team, spec.team %q", sl.Spec.Team)))
		}
	}
	// Break-glass writes are recorded once every team the slice names has allowed the write.
	var admitted []*rosterv1.OrgTeam
	for _, name := range sliceTeams(r) {
		team, err := g.teams(ctx, subject.Namespace, name)
		if err != nil {
			return apierrors.NewServiceUnavailable(err.Error())
		}
		if team == nil {
			if r.op == admissionv1.Delete || name != subject.Spec.Team {
				continue
			}
			return invalid(slicesResource, subject, field.Invalid(field.NewPath("spec", "team"), name,
				fmt.Sprintf("no OrgTeam %q in namespace %q; create the team first (managedBy: manual for a team whose members you manage by hand)", name, subject.Namespace)))
		}
		if team.Spec.ManagedBy != rosterv1.ManagedBySCIM {
			continue
		}
		ok, changed, err := g.exempt(r)
		if ok || err != nil {
			return err
		}
		if isSnapshot(r.old) || isSnapshot(r.new) {
			return forbidden(slicesResource, subject, pathOf(r, changed, field.NewPath("metadata", "labels").Key(rosterv1.SnapshotOfLabel)),
				fmt.Sprintf("OrgTeamMemberSlice %q is Roster's record of the members %s had set for team %q before a break-glass edit, "+
					"which its next write of the team restores; only Roster writes it", subject.Name, identityProvider(team), team.Spec.DisplayName))
		}
		msg := fmt.Sprintf("the members of team %q are provisioned by SCIM from %s; change them there "+
			"(Okta: Push Groups; Entra ID: the group's members) — SCIM-managed teams mirror the identity provider", team.Spec.DisplayName, identityProvider(team))
		if g.inBreakGlass(r) {
			open, why, err := g.breakGlassOpen(ctx, team)
			if err != nil {
				return apierrors.NewServiceUnavailable(err.Error())
			}
			if open != nil {
				if err := g.breakGlassSlice(r, open, subject, changed); err != nil {
					return err
				}
				admitted = append(admitted, open)
				continue
			}
			msg += why
		} else {
			msg += g.breakGlassHint()
		}
		def := field.NewPath("spec", "members")
		if r.op == admissionv1.Delete {
			def = field.NewPath("spec", "team")
		}
		return forbidden(slicesResource, subject, pathOf(r, changed, def), msg)
	}
	for _, team := range admitted {
		g.admitBreakGlass(r, team, fmt.Sprintf("OrgTeamMemberSlice %s", subject.Name), team.Annotations[rosterv1.BreakGlassAnnotation])
	}
	return nil
}

// membersForm checks a slice's spec.members as sent: a list of at most
// rosterv1.MaxMembersPerSlice strings, or absent. The CRD's schema leaves the field untyped
// (rosterv1.MemberList says why), so this is where a person's kubectl edit learns the form.
// An update that leaves the members as they were passes whatever they hold, as the
// apiserver's own validation ratchets: a slice stored past the webhook must not block the
// garbage collector's or a finalizer's metadata update.
func membersForm(newRaw, oldRaw []byte) *field.Error {
	path := field.NewPath("spec", "members")
	m, ok := rawMembers(newRaw)
	if !ok || len(m) == 0 || bytes.Equal(m, []byte("null")) {
		return nil // absent; a request without the raw object (never from the apiserver) is not checked here
	}
	if old, ok := rawMembers(oldRaw); ok && bytes.Equal(old, m) {
		return nil
	}
	return rosterv1.CheckMemberList(m, path)
}

// rawMembers returns a slice object's spec.members as sent, trimmed; ok is false when raw is
// no object.
func rawMembers(raw []byte) (json.RawMessage, bool) {
	var obj struct {
		Spec struct {
			Members json.RawMessage `json:"members"`
		} `json:"spec"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &obj) != nil {
		return nil, false
	}
	return bytes.TrimSpace(obj.Spec.Members), true
}

// isSnapshot reports whether o is a slice of a break-glass snapshot (nil is not).
func isSnapshot(o client.Object) bool {
	sl, ok := o.(*rosterv1.OrgTeamMemberSlice)
	return ok && sl != nil && rosterv1.IsMemberSnapshot(sl)
}

// sliceTeams are the team names a request's slices refer to, spec.team first: the team
// label and the break-glass snapshot label count too.
func sliceTeams(r request) []string {
	var names []string
	add := func(n string) {
		if n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, o := range []client.Object{r.subject(), r.old, r.new} {
		if sl, ok := o.(*rosterv1.OrgTeamMemberSlice); ok && sl != nil {
			add(sl.Spec.Team)
			add(sl.Labels[rosterv1.TeamLabel])
			add(sl.Labels[rosterv1.SnapshotOfLabel])
		}
	}
	return names
}

// identityProvider names where an object's organization is provisioned from.
func identityProvider(o client.Object) string {
	if org := o.GetLabels()[rosterv1.OrgLabel]; org != "" {
		return fmt.Sprintf("the identity provider of organization %q", org)
	}
	return "the organization's identity provider"
}

// pathOf is the field a denial points at: the first changed field of an UPDATE, else def
// (the field that makes the object the identity provider's).
func pathOf(r request, changed []*field.Path, def *field.Path) *field.Path {
	if r.op == admissionv1.Update && len(changed) > 0 {
		return changed[0]
	}
	return def
}

// forbidden is a 403 whose message and cause carry the field error, so kubectl prints the
// path and the message, and clients see apierrors.IsForbidden.
func forbidden(gr schema.GroupResource, o client.Object, path *field.Path, msg string) error {
	return statusError(gr, o, metav1.StatusReasonForbidden, 403, "forbidden", field.Forbidden(path, msg))
}

// invalid is a 422 for a request that is malformed whoever sends it.
func invalid(gr schema.GroupResource, o client.Object, fe *field.Error) error {
	return statusError(gr, o, metav1.StatusReasonInvalid, 422, "invalid", fe)
}

func statusError(gr schema.GroupResource, o client.Object, reason metav1.StatusReason, code int32, what string, fe *field.Error) error {
	name := o.GetName()
	if name == "" && o.GetGenerateName() != "" {
		name = o.GetGenerateName() + "*"
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    code,
		Reason:  reason,
		Message: fmt.Sprintf("%s %q is %s: %s", gr.String(), name, what, fe.Error()),
		Details: &metav1.StatusDetails{
			Group: gr.Group, Kind: gr.Resource, Name: name,
			Causes: []metav1.StatusCause{{Type: metav1.CauseType(fe.Type), Message: fe.ErrorBody(), Field: fe.Field}},
		},
	}}
}

// ignoredMetadata changes on every write or belongs to the apiserver's bookkeeping.
var ignoredMetadata = []string{"managedFields", "resourceVersion", "generation"}

// changedPaths lists the fields an UPDATE changes outside status, down to the leaf (label
// and annotation keys included), sorted with spec first and metadata last. status is not compared:
// the main resource cannot change it (the status subresource exists).
func changedPaths(oldObj, newObj client.Object) ([]*field.Path, error) {
	o, err := runtime.DefaultUnstructuredConverter.ToUnstructured(oldObj)
	if err != nil {
		return nil, err
	}
	n, err := runtime.DefaultUnstructuredConverter.ToUnstructured(newObj)
	if err != nil {
		return nil, err
	}
	var out []*field.Path
	for _, m := range []map[string]any{o, n} {
		if md, ok := m["metadata"].(map[string]any); ok {
			for _, k := range ignoredMetadata {
				delete(md, k)
			}
		}
	}
	// Every top-level field but status and the type: spec for Roster's kinds, roleRef and
	// subjects for RoleBindings (which have no spec); metadata last.
	tops := sets.KeySet(o).Union(sets.KeySet(n)).Delete("status", "apiVersion", "kind", "metadata", "spec").UnsortedList()
	sort.Strings(tops)
	for _, top := range append(append([]string{"spec"}, tops...), "metadata") {
		diff(field.NewPath(top), o[top], n[top], &out)
	}
	return out, nil
}

func diff(p *field.Path, a, b any, out *[]*field.Path) {
	am, aIsMap := a.(map[string]any)
	bm, bIsMap := b.(map[string]any)
	// A map that appears or disappears (the first label) is compared key by key too.
	if aIsMap && b == nil {
		bIsMap = true
	} else if bIsMap && a == nil {
		aIsMap = true
	}
	if !aIsMap || !bIsMap {
		if !reflect.DeepEqual(a, b) {
			*out = append(*out, p)
		}
		return
	}
	keys := sets.KeySet(am).Union(sets.KeySet(bm)).UnsortedList()
	sort.Strings(keys)
	byKey := p.String() == "metadata.labels" || p.String() == "metadata.annotations"
	for _, k := range keys {
		child := p.Child(k)
		if byKey {
			child = p.Key(k)
		}
		diff(child, am[k], bm[k], out)
	}
}

// onlyOwnership reports whether only finalizers and ownerReferences changed.
func onlyOwnership(changed []*field.Path) bool {
	for _, p := range changed {
		if s := p.String(); s != "metadata.finalizers" && s != "metadata.ownerReferences" {
			return false
		}
	}
	return true
}

func isSubset(sub, of []string) bool {
	for _, s := range sub {
		if !slices.Contains(of, s) {
			return false
		}
	}
	return true
}
