package scim_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
)

// TestLastRequestTime: an authenticated request (a read too) is recorded in the
// Organization's status.lastRequestTime within an interval, and a replica never moves it back
// (another replica may have recorded a later request).
func TestLastRequestTime(t *testing.T) {
	ctx := context.Background()
	r := env.StartRoster(t, func(c *app.Config) { c.ActivityInterval = 100 * time.Millisecond })
	org := env.NewOrg(t, "activity")
	c := scimtest.New(r.BaseURL, org.Name, org.Token)
	waitForToken(t, c)
	before := time.Now().Truncate(time.Second)
	c.Do(t, http.MethodGet, "/Users?count=1", nil).Expect(t, http.StatusOK)

	get := func() *rosterv1.Organization {
		var o rosterv1.Organization
		if err := env.Client.Get(ctx, client.ObjectKey{Name: org.Name}, &o); err != nil {
			t.Fatal(err)
		}
		return &o
	}
	eventually(t, 10*time.Second, func() bool {
		lrt := get().Status.LastRequestTime
		return lrt != nil && !lrt.Time.Before(before)
	}, "status.lastRequestTime of %s not recorded", org.Name)

	// A later time written by another replica stays.
	later := metav1.NewTime(time.Now().Add(time.Hour).Truncate(time.Second))
	o := get()
	o.Status.LastRequestTime = &later
	if err := env.Client.Status().Update(ctx, o); err != nil {
		t.Fatal(err)
	}
	c.Do(t, http.MethodGet, "/Users?count=1", nil).Expect(t, http.StatusOK)
	// Two intervals and the cache's delivery of the update above; the assertion is that
	// nothing moves it back in that time.
	time.Sleep(time.Second)
	if lrt := get().Status.LastRequestTime; lrt == nil || !lrt.Equal(&later) {
		t.Errorf("status.lastRequestTime = %v, want the later %v kept", lrt, later)
	}
}
