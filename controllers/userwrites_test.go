package controllers_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/controllers"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/identitystore"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
)

// TestNewUserIsReconciledOnce pins the work a new user costs the controllers: one reconcile,
// one write of the OrgUser (its status) and no Event. The SCIM server creates the user with
// the identity-store finalizer already on (this install runs the store controllers), so the
// controller's first reconcile finds it and patches nothing; a routine create in the store
// records no event (the Synced condition says it). Before, each new user cost three writes
// after its create: the finalizer patch, a CreatedInStore Event and the status. And before
// that, the event of the controller's own finalizer patch queued every user a second time,
// which wrote the status again whenever the cache did not show the first write yet
// (docs/benchmarks.md, "Memory" and "Fewer writes per new user"). The users are created back
// to back; the writes are counted once the controller has nothing queued or running and the
// watch has delivered every user as the apiserver then holds it (a write whose event was still
// on its way is counted too), and again at the end of the test.
func TestNewUserIsReconciledOnce(t *testing.T) {
	// This manager serves (and caches) this test's organization only: users that earlier
	// tests left in other namespaces would otherwise be reconciled and counted too.
	org := env.NewOrgWith(t, "once", func(o *rosterv1.Organization) {
		o.Labels = map[string]string{"roster.dev/test": o.Name}
	})
	queuedBefore := orgUserMetric(t, "workqueue_depth") // a stopped manager's queue stays in the gauge
	before := orgUserMetric(t, "controller_runtime_reconcile_total")
	storeURL := sqliteURL(t)
	r := env.StartRoster(t, func(c *app.Config) {
		c.IdentityStore = storeURL
		c.Organizations = "roster.dev/test=" + org.Name
	})
	f := &fixture{t: t, ctx: context.Background(), roster: r, org: org, scim: scimtest.New(r.BaseURL, org.Name, org.Token)}
	f.eventually(10*time.Second, func() (bool, string) {
		s := f.scim.Do(t, http.MethodGet, "/ServiceProviderConfig", nil).Status
		return s == http.StatusOK, fmt.Sprintf("token not accepted yet: %d", s)
	})
	wc, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Client.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	w, err := wc.Watch(f.ctx, &rosterv1.OrgUserList{}, client.InNamespace(f.org.Namespace))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	const n = 40
	ids := make([]string, n)
	var mu sync.Mutex
	writes := map[string]int{}        // MODIFIED events of an active user: each is one write of the object
	createdFinal := map[string]bool{} // the ADDED object carried the identity-store finalizer
	delivered := map[string]bool{}    // user/resourceVersion of every event the watch delivered
	go func() {
		for ev := range w.ResultChan() {
			u, ok := ev.Object.(*rosterv1.OrgUser)
			if !ok {
				continue
			}
			mu.Lock()
			delivered[u.Name+"/"+u.ResourceVersion] = true
			switch {
			case ev.Type == watch.Added:
				createdFinal[u.Name] = controllerutil.ContainsFinalizer(u, controllers.Finalizer)
			case ev.Type == watch.Modified && u.Spec.IsActive(): // the deactivation below is not counted
				writes[u.Name]++
			}
			mu.Unlock()
		}
	}()
	// caughtUp waits until the watch has delivered every user as the apiserver holds it now:
	// one watch delivers a namespace's events in order, so every write before has been counted.
	caughtUp := func() {
		var live rosterv1.OrgUserList
		if err := env.Client.List(f.ctx, &live, client.InNamespace(f.org.Namespace)); err != nil {
			t.Fatal(err)
		}
		f.eventually(10*time.Second, func() (bool, string) {
			mu.Lock()
			defer mu.Unlock()
			for _, u := range live.Items {
				if !delivered[u.Name+"/"+u.ResourceVersion] {
					return false, fmt.Sprintf("the watch has not delivered user %s at resourceVersion %s yet", u.Name, u.ResourceVersion)
				}
			}
			return true, ""
		})
	}
	checkWrites := func(when string) {
		mu.Lock()
		defer mu.Unlock()
		for _, id := range ids {
			if writes[id] != 1 {
				t.Errorf("%s: user %s was written %d times by the controller after its create, want 1 (status)", when, id, writes[id])
			}
		}
	}

	for i := range ids {
		ids[i] = f.createUser(fmt.Sprintf("once-%02d@example.com", i), nil)
	}
	for _, id := range ids {
		f.awaitCondition(&rosterv1.OrgUser{ObjectMeta: metav1.ObjectMeta{Namespace: f.org.Namespace, Name: id}},
			rosterv1.ConditionSynced, metav1.ConditionTrue, controllers.ReasonInStore, 60*time.Second)
	}
	f.eventually(30*time.Second, func() (bool, string) {
		depth := orgUserMetric(t, "workqueue_depth") - queuedBefore
		active := orgUserMetric(t, "controller_runtime_active_workers")
		return depth == 0 && active == 0, fmt.Sprintf("orguser controller: %v queued, %v running", depth, active)
	})
	reconciles := orgUserMetric(t, "controller_runtime_reconcile_total") - before
	// A few more than n: a finalizer patch that met a newer object than the cache's conflicts
	// and is retried.
	if reconciles > n+n/10 {
		t.Errorf("%v reconciles for %d new users, want about one each", reconciles, n)
	}
	// Every write made until the controller went idle has reached the watch: exactly one each.
	caughtUp()
	mu.Lock()
	for _, id := range ids {
		if !createdFinal[id] {
			t.Errorf("user %s was created without the finalizer %s", id, controllers.Finalizer)
		}
	}
	mu.Unlock()
	checkWrites("once the controller was idle")

	// No routine event either. The recorder sends events in order: once the deactivation's
	// event, recorded after every create, is stored, any event of the creates would be too.
	f.scim.Do(t, http.MethodPatch, "/Users/"+ids[0], map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "replace", "value": map[string]any{"active": false}}},
	}).Expect(t, http.StatusOK)
	f.awaitEvent(f.user(ids[0]), controllers.EventDeactivated, 30*time.Second)
	var events corev1.EventList
	if err := env.Client.List(f.ctx, &events, client.InNamespace(f.org.Namespace)); err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		// A Warning (a store hiccup on a loaded machine) is not a routine event.
		if e.InvolvedObject.Kind == "OrgUser" && e.Type == corev1.EventTypeNormal && e.Reason != controllers.EventDeactivated {
			t.Errorf("event %s %q on new user %s, want none but the deactivation's", e.Reason, e.Message, e.InvolvedObject.Name)
		}
	}
	// Nor a late write of a user (one that a goroutine made after its reconcile, say).
	caughtUp()
	checkWrites("at the end")
}

// TestCreatedThenDeletedBackToBack: users and teams deleted through SCIM right after their
// create, often before the controllers' first reconcile (they carry the finalizer from the
// create on), leave the apiserver and have no rows in the store: nothing stays Terminating.
// Whether the delete beats the first reconcile is up to the scheduler; that the create carries
// the finalizer is asserted by TestNewUserIsReconciledOnce.
func TestCreatedThenDeletedBackToBack(t *testing.T) {
	f := newFixture(t, sqliteURL(t), nil)
	const n = 10
	var users, teams []string
	for i := range n {
		id := f.createUser(fmt.Sprintf("brief-%02d@example.com", i), nil)
		f.scim.Do(t, http.MethodDelete, "/Users/"+id, nil).Expect(t, http.StatusNoContent)
		users = append(users, id)
		team := f.createGroup(fmt.Sprintf("brief-%02d", i))
		f.scim.Do(t, http.MethodDelete, "/Groups/"+team, nil).Expect(t, http.StatusNoContent)
		teams = append(teams, team)
	}
	for i := range n {
		f.awaitGone(f.user(users[i]))
		f.awaitGone(f.team(teams[i]))
		if row, err := f.store.ObserveUser(f.ctx, f.org.Name, users[i]); !identitystore.IsNotFound(err) {
			t.Errorf("user %s deleted right after its create: row %+v, err %v; want none", users[i], row, err)
		}
		if row, err := f.store.ObserveTeam(f.ctx, f.org.Name, teams[i]); !identitystore.IsNotFound(err) {
			t.Errorf("team %s deleted right after its create: row %+v, err %v; want none", teams[i], row, err)
		}
	}
}

// orgUserMetric sums a controller-runtime metric's series of the orguser controller (label
// controller or, for the work queue, name).
func orgUserMetric(t *testing.T, name string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if (l.GetName() == "controller" || l.GetName() == "name") && l.GetValue() == "orguser" {
					total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
	}
	return total
}
