package controllers_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/controllers"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
)

// TestNewUserIsReconciledOnce pins the work a new user costs the controllers: one reconcile
// and two writes of the OrgUser (the finalizer, then the status). Before, the event of the
// controller's own finalizer patch queued every user a second time; that reconcile read the
// store again, computed a status merge patch, and wrote the status a second time whenever the
// cache did not show the first write yet (a loaded replica synced users at 5–10 per second,
// docs/benchmarks.md "Memory"). The users are created back to back; the counts are read once
// the controller has nothing queued or running.
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
	var mu sync.Mutex
	writes := map[string]int{} // MODIFIED events per user: each is one write of the object
	go func() {
		for ev := range w.ResultChan() {
			if u, ok := ev.Object.(*rosterv1.OrgUser); ok && ev.Type == watch.Modified {
				mu.Lock()
				writes[u.Name]++
				mu.Unlock()
			}
		}
	}()

	const n = 40
	ids := make([]string, n)
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
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if writes[id] > 2 {
			t.Errorf("user %s was written %d times by the controller, want 2 (finalizer, status)", id, writes[id])
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
