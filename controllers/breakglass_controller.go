package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/membership"
)

// BreakGlassReconciler opens a SCIM team that carries the break-glass annotation to hand
// edits once Roster has recorded the members the identity provider set
// (membership.Store.OpenBreakGlass), with an event either way, and drops the break-glass
// state of a team that is no longer SCIM-managed. It needs no identity store: a break-glass
// edit is for emergencies, the store's among them.
type BreakGlassReconciler struct {
	client.Client
	Members  *membership.Store
	Recorder record.EventRecorder
}

// The snapshot slices, and the empty slice for members added by hand.
// +kubebuilder:rbac:groups=scim.roster.dev,resources=orgteammemberslices,verbs=get;list;create;update;deletecollection
// +kubebuilder:rbac:groups=scim.roster.dev,resources=orgteams,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile opens, or drops, one team's break-glass edit.
func (r *BreakGlassReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	team := &rosterv1.OrgTeam{}
	if err := r.Get(ctx, req.NamespacedName, team); err != nil || !team.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	_, glass := team.Annotations[rosterv1.BreakGlassAnnotation]
	state, _ := rosterv1.BreakGlassState(team)
	switch {
	case team.Spec.ManagedBy != rosterv1.ManagedBySCIM:
		if state == "" {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, apiErr(r.Members.DropBreakGlass(ctx, team), "dropping the break-glass snapshot of a team no longer SCIM-managed")
	case !glass || state != "":
		return ctrl.Result{}, nil
	}
	o, err := r.Members.OpenBreakGlass(ctx, team)
	if err != nil {
		return ctrl.Result{}, apiErr(err, "recording the team's members before break-glass edits")
	}
	switch {
	case o.Opened:
		r.Recorder.Eventf(team, corev1.EventTypeNormal, EventBreakGlassOpened,
			"Recorded the %d members the identity provider set; break-glass edits of the team's member slices are open (add members in OrgTeamMemberSlice %s). "+
				"The identity provider's next write of the team puts these members back", o.Members, rosterv1.BreakGlassSliceName(team.Name))
	case o.Refused != "":
		r.Recorder.Eventf(team, corev1.EventTypeWarning, EventBreakGlassRefused, "No break-glass edits of this team: %s; change it in the identity provider", o.Refused)
	}
	return ctrl.Result{RequeueAfter: o.Retry}, nil
}

// SetupWithManager watches the teams that start, are in, or end a break-glass edit.
func (r *BreakGlassReconciler) SetupWithManager(mgr ctrl.Manager) error {
	inBreakGlass := func(o client.Object) bool { return membership.InBreakGlass(o.GetAnnotations()) }
	changes := predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool { return inBreakGlass(e.Object) },
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, n := e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations()
			return o[rosterv1.BreakGlassAnnotation] != n[rosterv1.BreakGlassAnnotation] ||
				o[rosterv1.BreakGlassStateAnnotation] != n[rosterv1.BreakGlassStateAnnotation] ||
				(inBreakGlass(e.ObjectNew) && e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration()) // released
		},
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("breakglass").
		For(&rosterv1.OrgTeam{}, builder.WithPredicates(changes)).
		WithOptions(controllerOptions()).
		Complete(r)
}
