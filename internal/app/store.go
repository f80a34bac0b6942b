package app

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/rosterhq/roster/controllers"
	"github.com/rosterhq/roster/internal/identitystore/lazy"
	"github.com/rosterhq/roster/internal/identitystore/open"
	"github.com/rosterhq/roster/internal/membership"
)

// addStoreControllers sets up what writes the identity store: the OrgUser and OrgTeam
// controllers and the StoreWatcher that feeds them. The store is not opened here: it opens on
// first use, so a database that is down delays nothing but the rows (design invariant 6).
// Without a store URL nothing is added and both results are nil. members is the process's one
// membership store.
func addStoreControllers(mgr manager.Manager, cfg Config, members *membership.Store) (*lazy.Store, *controllers.StoreWatcher, error) {
	if cfg.IdentityStore == "" {
		return nil, nil, nil
	}
	if err := open.Validate(cfg.IdentityStore); err != nil {
		return nil, nil, err
	}
	store := lazy.New(cfg.IdentityStore, open.OpenAsRoster)
	events := controllers.NewStoreWatcher(store, cfg.StoreResyncInterval, ctrl.Log.WithName("identity-store"))
	if err := mgr.Add(events); err != nil {
		return nil, nil, err
	}
	// Closed when the manager stops (on the leader, which is the only replica that opens it).
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		return store.Close()
	})); err != nil {
		return nil, nil, err
	}
	if err := (&controllers.OrgUserReconciler{
		Client: mgr.GetClient(), Store: store, Members: members, Events: events,
		Recorder: mgr.GetEventRecorderFor("roster-orguser"),
	}).SetupWithManager(mgr); err != nil {
		return nil, nil, fmt.Errorf("setting up the OrgUser controller: %w", err)
	}
	if err := (&controllers.OrgTeamReconciler{
		Client: mgr.GetClient(), Store: store, Members: members, Events: events,
		Recorder: mgr.GetEventRecorderFor("roster-orgteam"),
	}).SetupWithManager(mgr); err != nil {
		return nil, nil, fmt.Errorf("setting up the OrgTeam controller: %w", err)
	}
	return store, events, nil
}

// storeFinalizer is the finalizer the SCIM server creates users and teams with: the
// identity-store controllers' when this install has a store (addStoreControllers runs them,
// and they remove it), else none — an install without a store must never hold a finalizer
// that nothing removes. Every replica of an install has the same configuration.
func storeFinalizer(cfg Config) string {
	if cfg.IdentityStore == "" {
		return ""
	}
	return controllers.Finalizer
}
