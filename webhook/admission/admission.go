// Package admission is Roster's validating admission webhook. It keeps what the identity
// provider owns read-only everywhere but in Roster's SCIM server: OrgUsers, SCIM-managed
// OrgTeams (spec.managedBy=scim) and the OrgTeamMemberSlices that hold their members. Only
// the SCIM server's own Kubernetes identity (the manager's user, which the controllers in the
// same process share) may create, change or delete them; anyone else, cluster-admin
// included, is denied with a message that names the identity provider as the place to make
// the change. Manual teams (managedBy=manual) and their slices are left to RBAC.
// OrgTeamNameClaims, which reserve SCIM teams' display names, are Roster's alone too
// (claims.go). Two deliberate exceptions, escape.go: Roster turns SCIM teams manual when SCIM
// is disabled for their organization, and a configured break-glass group may edit SCIM teams
// in an emergency. The RoleBindings and ClusterRoleBindings Roster renders from
// TeamRoleBindings are Roster's alone too (bindings.go).
//
// The ValidatingWebhookConfiguration is config/webhook/manifests.yaml. Its failurePolicy is
// Fail on purpose: a webhook that fails open lets anyone change a SCIM-managed team while no
// replica answers, and the team silently stops mirroring the identity provider. The webhook
// runs on every replica (not only the leader), so it is unreachable only when Roster is down,
// and then refusing these writes is the right answer. The price, written down in
// docs/operations.md: while no replica is ready, nobody can write these kinds — deleting an
// organization's namespace waits for Roster too.
package admission

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// The paths controller-runtime serves the validators on; config/webhook/manifests.yaml and
// config/install_test.go name the same ones.
const (
	UserPath  = "/validate-scim-roster-dev-v1alpha1-orguser"
	TeamPath  = "/validate-scim-roster-dev-v1alpha1-orgteam"
	SlicePath = "/validate-scim-roster-dev-v1alpha1-orgteammemberslice"
	ClaimPath = "/validate-scim-roster-dev-v1alpha1-orgteamnameclaim"
)

// The validators read teams through the manager's cache; SelfIdentity asks who Roster is
// (also granted to every user by system:basic-user, named here so the role says it all).
// +kubebuilder:rbac:groups=scim.roster.dev,resources=orgteams,verbs=get;list;watch
// +kubebuilder:rbac:groups=scim.roster.dev,resources=organizations,verbs=get
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=selfsubjectreviews,verbs=create

// Options configure the validators.
type Options struct {
	// SCIMIdentities are the usernames allowed to write SCIM-owned objects: Roster's own
	// user, as SelfIdentity reports it for the manager's rest config. At least one.
	SCIMIdentities []string
	// Cache reads OrgTeams (the manager's cached client).
	Cache client.Reader
	// APIReader reads OrgTeams from the apiserver when the cache has not seen one (yet): a
	// team and its first slice are often created back to back.
	APIReader client.Reader
	// Log receives a line per denial, at Info: who asked (username and groups), the operation
	// and the object's kind, namespace and name, and the reason. Never the object's contents.
	// And a line per break-glass write admitted.
	Log logr.Logger
	// BreakGlassGroup is the group whose members may edit SCIM-managed teams in an emergency
	// (escape.go); empty disables break-glass.
	BreakGlassGroup string
	// Recorder records break-glass writes as Warning events on their teams (optional).
	Recorder record.EventRecorder
}

// Register adds the validators to a webhook server.
func Register(srv webhook.Server, scheme *runtime.Scheme, opts Options) error {
	g, err := newGuard(opts)
	if err != nil {
		return err
	}
	srv.Register(UserPath, admission.WithValidator[*rosterv1.OrgUser](scheme, validator[*rosterv1.OrgUser]{g.log, g.judgeUser}))
	srv.Register(TeamPath, admission.WithValidator[*rosterv1.OrgTeam](scheme, validator[*rosterv1.OrgTeam]{g.log, g.judgeTeam}))
	srv.Register(SlicePath, admission.WithValidator[*rosterv1.OrgTeamMemberSlice](scheme, validator[*rosterv1.OrgTeamMemberSlice]{g.log, g.judgeSlice}))
	srv.Register(ClaimPath, admission.WithValidator[*rosterv1.OrgTeamNameClaim](scheme, validator[*rosterv1.OrgTeamNameClaim]{g.log, g.judgeClaim}))
	srv.Register(RoleBindingPath, admission.WithValidator[*rbacv1.RoleBinding](scheme, validator[*rbacv1.RoleBinding]{g.log, g.judgeRendered}))
	srv.Register(ClusterRoleBindingPath, admission.WithValidator[*rbacv1.ClusterRoleBinding](scheme, validator[*rbacv1.ClusterRoleBinding]{g.log, g.judgeRendered}))
	return nil
}

func newGuard(opts Options) (*guard, error) {
	if len(opts.SCIMIdentities) == 0 {
		return nil, errors.New("admission: no SCIM identity: the webhook would deny Roster's own writes")
	}
	if opts.Cache == nil || opts.APIReader == nil {
		return nil, errors.New("admission: Cache and APIReader are required")
	}
	if strings.HasPrefix(opts.BreakGlassGroup, "system:") {
		return nil, fmt.Errorf("admission: break-glass group %q is one that Kubernetes puts whole classes of callers in: name a group that only emergency admins are in", opts.BreakGlassGroup)
	}
	return &guard{
		scim:       sets.New(opts.SCIMIdentities...),
		teams:      cachedTeams(opts.Cache, opts.APIReader),
		liveTeam:   liveTeams(opts.APIReader),
		orgs:       liveOrgs(opts.APIReader),
		log:        opts.Log,
		breakGlass: opts.BreakGlassGroup,
		events:     opts.Recorder,
	}, nil
}

// The break-glass group may not be one of Kubernetes' "system:" groups: the apiserver puts
// whole classes of callers in them (every user, every ServiceAccount of a namespace — which a
// tenant can create — every node, cluster-admins via system:masters), so break-glass through
// one would be theirs.

// liveOrgs reads an organization from the apiserver.
func liveOrgs(api client.Reader) orgLookup {
	return func(ctx context.Context, name string) (*rosterv1.Organization, error) {
		var org rosterv1.Organization
		err := api.Get(ctx, types.NamespacedName{Name: name}, &org)
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading organization %q: %w", name, err)
		}
		return &org, nil
	}
}

// cachedTeams looks a team up in the cache and, when the cache does not have it, in the
// apiserver. Whether a team is SCIM-managed changes only one way (scim to manual, when SCIM
// is disabled for its organization), so a stale cached answer can only refuse a write that
// passes a moment later, never let one through.
func cachedTeams(cache, api client.Reader) teamLookup {
	return func(ctx context.Context, namespace, name string) (*rosterv1.OrgTeam, error) {
		t, err := getTeam(ctx, cache, namespace, name)
		if t == nil && err == nil {
			return getTeam(ctx, api, namespace, name)
		}
		return t, err
	}
}

// liveTeams looks a team up in the apiserver only.
func liveTeams(api client.Reader) teamLookup {
	return func(ctx context.Context, namespace, name string) (*rosterv1.OrgTeam, error) {
		return getTeam(ctx, api, namespace, name)
	}
}

// getTeam reads a team, or nil when it does not exist.
func getTeam(ctx context.Context, r client.Reader, namespace, name string) (*rosterv1.OrgTeam, error) {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	var team rosterv1.OrgTeam
	err := r.Get(ctx, key, &team)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading team %s: %w", key, err)
	}
	return &team, nil
}

// validator adapts a judge function to controller-runtime's typed Validator, which decodes
// the objects (on DELETE, the object being deleted) and puts the request, with its
// UserInfo, in the context.
type validator[T client.Object] struct {
	log   logr.Logger
	judge func(context.Context, request) error
}

func (v validator[T]) ValidateCreate(ctx context.Context, obj T) (admission.Warnings, error) {
	return nil, v.run(ctx, admissionv1.Create, nil, obj)
}

func (v validator[T]) ValidateUpdate(ctx context.Context, oldObj, newObj T) (admission.Warnings, error) {
	return nil, v.run(ctx, admissionv1.Update, oldObj, newObj)
}

func (v validator[T]) ValidateDelete(ctx context.Context, obj T) (admission.Warnings, error) {
	return nil, v.run(ctx, admissionv1.Delete, obj, nil)
}

func (v validator[T]) run(ctx context.Context, op admissionv1.Operation, oldObj, newObj client.Object) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return err
	}
	r := request{op: op, user: req.UserInfo.Username, groups: req.UserInfo.Groups, dryRun: ptr.Deref(req.DryRun, false), old: oldObj, new: newObj}
	if newObj != nil {
		r.newRaw = req.Object.Raw
	}
	if oldObj != nil {
		r.oldRaw = req.OldObject.Raw
	}
	err = v.judge(ctx, r)
	if err != nil {
		// At the default level: a denied write is someone trying to change what the identity
		// provider owns, which a reviewer wants to see without turning debug logs on.
		subject := r.subject()
		v.log.Info("denied", "operation", op, "user", r.user, "groups", req.UserInfo.Groups,
			"kind", req.Kind.Kind, "namespace", subject.GetNamespace(), "name", subject.GetName(),
			"reason", err.Error())
	}
	return err
}
