// Package controllers holds Roster's reconcilers.
package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/token"
)

// Reasons of the Organization's conditions and events.
const (
	ReasonTokenMissing     = "TokenMissing"
	ReasonTokenConfigured  = "TokenConfigured"
	ReasonNamespaceMissing = "NamespaceMissing"
	ReasonReady            = "Ready"
)

// OrganizationReconciler keeps an Organization's status true: user and team counts, when the
// token was rotated, and whether SCIM can serve it (namespace and token present).
type OrganizationReconciler struct {
	client.Client
	Recorder record.EventRecorder
}

// +kubebuilder:rbac:groups=scim.roster.dev,resources=organizations,verbs=get;list;watch
// +kubebuilder:rbac:groups=scim.roster.dev,resources=organizations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=scim.roster.dev,resources=orgusers;orgteams;orgteammemberslices,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=scim.roster.dev,resources=orgusers/status;orgteams/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete

// Reconcile computes the Organization's status.
func (r *OrganizationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var org rosterv1.Organization
	if err := r.Get(ctx, req.NamespacedName, &org); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	base := org.DeepCopy()
	before := &base.Status

	if err := r.countMembers(ctx, &org); err != nil {
		return ctrl.Result{}, err
	}
	tokenOK, err := r.observeToken(ctx, &org)
	if err != nil {
		return ctrl.Result{}, err
	}
	ready := metav1.Condition{Type: rosterv1.ConditionReady, Status: metav1.ConditionTrue, Reason: ReasonReady,
		Message: "SCIM is served at /scim/v2/" + org.Name}
	if !tokenOK {
		ready.Status, ready.Reason = metav1.ConditionFalse, ReasonTokenMissing
		ready.Message = fmt.Sprintf("no SCIM token yet: run `roster token rotate --org %s`", org.Name)
	}
	ready.ObservedGeneration = org.Generation
	meta.SetStatusCondition(&org.Status.Conditions, ready)
	org.Status.ObservedGeneration = org.Generation

	if equalStatus(before, &org.Status) {
		return ctrl.Result{}, nil
	}
	// A merge patch of status: no conflict with concurrent writers of other fields.
	return ctrl.Result{}, r.Status().Patch(ctx, &org, client.MergeFrom(base))
}

// countMembers sets the user and team counts from the cache.
func (r *OrganizationReconciler) countMembers(ctx context.Context, org *rosterv1.Organization) error {
	// Read-only iteration over possibly 100,000 cached objects: no deep copies.
	ns := client.InNamespace(org.Spec.Namespace)
	var users rosterv1.OrgUserList
	if err := r.List(ctx, &users, ns, client.UnsafeDisableDeepCopy); err != nil {
		return err
	}
	var teams rosterv1.OrgTeamList
	if err := r.List(ctx, &teams, ns, client.UnsafeDisableDeepCopy); err != nil {
		return err
	}
	org.Status.Users, org.Status.ActiveUsers = int32(len(users.Items)), 0
	for i := range users.Items {
		if users.Items[i].Spec.IsActive() {
			org.Status.ActiveUsers++
		}
	}
	org.Status.Teams = int32(len(teams.Items))
	return nil
}

// observeToken sets TokenConfigured and TokenRotatedAt from the token Secret.
func (r *OrganizationReconciler) observeToken(ctx context.Context, org *rosterv1.Organization) (bool, error) {
	var secret corev1.Secret
	err := r.Get(ctx, token.SecretKey(org), &secret)
	if err != nil && !apierrors.IsNotFound(err) {
		return false, err
	}
	cond := metav1.Condition{Type: rosterv1.ConditionTokenConfigured, ObservedGeneration: org.Generation}
	if err == nil && token.Configured(&secret) {
		cond.Status, cond.Reason, cond.Message = metav1.ConditionTrue, ReasonTokenConfigured, "the token Secret holds a token hash"
		if at, ok := token.RotatedAt(&secret); ok {
			t := metav1.NewTime(at)
			org.Status.TokenRotatedAt = &t
		}
	} else {
		cond.Status, cond.Reason = metav1.ConditionFalse, ReasonTokenMissing
		cond.Message = fmt.Sprintf("Secret %s holds no token hash: run `roster token rotate --org %s`", token.SecretKey(org), org.Name)
	}
	meta.SetStatusCondition(&org.Status.Conditions, cond)
	return cond.Status == metav1.ConditionTrue, nil
}

func equalStatus(a, b *rosterv1.OrganizationStatus) bool {
	if a.Users != b.Users || a.ActiveUsers != b.ActiveUsers || a.Teams != b.Teams || a.ObservedGeneration != b.ObservedGeneration {
		return false
	}
	if (a.TokenRotatedAt == nil) != (b.TokenRotatedAt == nil) || (a.TokenRotatedAt != nil && !a.TokenRotatedAt.Equal(b.TokenRotatedAt)) {
		return false
	}
	if len(a.Conditions) != len(b.Conditions) {
		return false
	}
	for i := range a.Conditions {
		x, y := a.Conditions[i], b.Conditions[i]
		if x.Type != y.Type || x.Status != y.Status || x.Reason != y.Reason || x.Message != y.Message || x.ObservedGeneration != y.ObservedGeneration {
			return false
		}
	}
	return true
}

// SetupWithManager watches Organizations and, mapped to their org, users, teams and token
// Secrets, so counts and token state follow within seconds.
func (r *OrganizationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	toOrg := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		if org := o.GetLabels()[rosterv1.OrgLabel]; org != "" {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: org}}}
		}
		return nil
	})
	// Count changes only on create and delete; active flips change ActiveUsers.
	return ctrl.NewControllerManagedBy(mgr).
		For(&rosterv1.Organization{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&rosterv1.OrgUser{}, toOrg).
		Watches(&rosterv1.OrgTeam{}, toOrg).
		Watches(&corev1.Secret{}, toOrg).
		WithOptions(controllerOptions()).
		Complete(r)
}

// controllerOptions are the options of every Roster controller. Name validation is skipped
// because tests run several managers (replicas) in one process.
func controllerOptions() controller.Options {
	skip := true
	return controller.Options{MaxConcurrentReconciles: 2, SkipNameValidation: &skip}
}
