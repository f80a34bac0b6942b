package shard_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/controllers"
	"github.com/rosterhq/roster/internal/shard"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
	"github.com/rosterhq/roster/internal/testutil/testenv"
	"github.com/rosterhq/roster/internal/token"
)

// TestNewlyLabelledOrgWaitsForTheRestart: an organization labelled into a running shard is in
// the shard's Organization cache at once, but its namespace is not cached until the replica
// restarts, and the restart waits for the shard's turn (the test holds it, as a replica of the
// shard restarting meanwhile would). Until then the shard answers it like an unknown
// organization, and its Organization controller leaves it alone: a reconcile of it (on the
// shard's own cache and shard set) succeeds and writes nothing — were it reconciled, counting
// its users from a namespace the cache does not hold would fail on every retry
// (RosterReconcileErrors) for as long as the turn is held. Once the turn is free the replica
// restarts, and serves and reconciles the organization.
func TestNewlyLabelledOrgWaitsForTheRestart(t *testing.T) {
	ctx := context.Background()
	served := env.NewOrgWith(t, "sk", labelled("t6a"))
	a := startShard(t, selector("t6a"), "skip-a-0", "")
	// The shard's set as the replica loaded it when it started.
	sh, err := shard.Load(ctx, env.Client, selector("t6a"))
	if err != nil {
		t.Fatal(err)
	}
	holder := &shard.Watcher{API: env.Client, Namespace: "default", Name: leaseName(t, a), Identity: "test", TurnDuration: 10 * time.Minute}
	if ok, err := holder.TryTurn(ctx); !ok || err != nil {
		t.Fatalf("holding the shard's turn: %v %v", ok, err)
	}
	turnHeld := true
	t.Cleanup(func() {
		if turnHeld {
			_ = holder.EndTurn(context.Background())
		}
	})

	// Labelled in after the shard started: created with the shard's label, and the relabel of
	// one that had none.
	created := env.NewOrgWith(t, "sk-new", labelled("t6a"))
	moved := env.NewOrg(t, "sk-moved")
	var org rosterv1.Organization
	if err := env.Client.Get(ctx, client.ObjectKey{Name: moved.Name}, &org); err != nil {
		t.Fatal(err)
	}
	org.Labels = map[string]string{shardLabel: "t6a"}
	if err := env.Client.Update(ctx, &org); err != nil {
		t.Fatal(err)
	}
	newOrgs := []testenv.Org{created, moved}
	for _, o := range newOrgs {
		testenv.Eventually(t, 30*time.Second, func() (bool, string) {
			var got rosterv1.Organization
			err := a.Manager.GetCache().Get(ctx, client.ObjectKey{Name: o.Name}, &got)
			return err == nil, fmt.Sprintf("the shard's cache does not hold %s, labelled into it: %v", o.Name, err)
		})
	}

	// The controller as the manager builds it, on the shard's cache, with the shard's set.
	r := &controllers.OrganizationReconciler{Client: a.Manager.GetClient(), Shard: sh,
		TokenNamespace: token.DefaultNamespace, Recorder: record.NewFakeRecorder(100)}
	for _, o := range newOrgs {
		if got := scimtest.New(a.baseURL, o.Name, o.Token).Do(t, http.MethodGet, "/Users", nil); got.Status != http.StatusUnauthorized {
			t.Errorf("GET /Users of %s before the restart: %d %s, want 401 (like an unknown organization)", o.Name, got.Status, got.Raw)
		}
		before := liveOrg(t, o.Name)
		if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: o.Name}}); err != nil {
			t.Errorf("reconciling %s, labelled in before its namespace is cached: %v, want it skipped", o.Name, err)
		}
		if after := liveOrg(t, o.Name); after.ResourceVersion != before.ResourceVersion || len(after.Status.Conditions) > 0 {
			t.Errorf("organization %s got status before the shard cached its namespace: %+v", o.Name, after.Status)
		}
	}
	// The same controller does reconcile the organization the shard started with.
	if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: served.Name}}); err != nil {
		t.Fatalf("reconciling %s, served since the start: %v", served.Name, err)
	}

	// The turn is free: the replica restarts, then serves and reconciles the new organizations.
	if err := holder.EndTurn(ctx); err != nil {
		t.Fatal(err)
	}
	turnHeld = false
	testenv.Eventually(t, 60*time.Second, func() (bool, string) {
		select {
		case err := <-a.done:
			a.done <- err
			return errors.Is(err, shard.ErrChanged), fmt.Sprintf("the replica stopped with %v", err)
		default:
			return false, "the replica did not restart once its turn was free"
		}
	})
	a = a.restart(t)
	for _, o := range newOrgs {
		scimtest.New(a.baseURL, o.Name, o.Token).Do(t, http.MethodGet, "/Users", nil).Expect(t, http.StatusOK)
		testenv.Eventually(t, 30*time.Second, func() (bool, string) {
			c := meta.FindStatusCondition(liveOrg(t, o.Name).Status.Conditions, rosterv1.ConditionReady)
			return c != nil && c.Status == "True", fmt.Sprintf("organization %s after the restart: Ready %+v", o.Name, c)
		})
	}
}

// liveOrg reads the Organization called name from the apiserver.
func liveOrg(t *testing.T, name string) rosterv1.Organization {
	t.Helper()
	var org rosterv1.Organization
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, &org); err != nil {
		t.Fatal(err)
	}
	return org
}
