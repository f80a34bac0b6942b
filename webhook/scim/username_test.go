package scim_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/metrics"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
	"github.com/rosterhq/roster/internal/testutil/testenv"
)

// entraRenameAndDisable is the PATCH Entra sends when a person leaves and their account is
// renamed at once (replayed from Microsoft's collection): the userName change, the email, the
// name and the deactivation in one request.
const entraRenameAndDisable = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
 {"op":"Replace","path":"userName","value":"former.ada@example.com"},
 {"op":"Replace","path":"emails[type eq \"work\"].value","value":"former.ada@example.com"},
 {"op":"Replace","path":"name.familyName","value":"Former"},
 {"op":"Replace","path":"active","value":"False"}]}`

// TestUserNameChangePolicies: with Reject (the default) Entra's rename-and-disable PATCH is
// refused whole — and the audit line and the metric say a deactivation was refused with it;
// with Ignore the deactivation and the rest apply, the userName stays, and a Warning event on
// the OrgUser records what was dropped.
func TestUserNameChangePolicies(t *testing.T) {
	ctx := context.Background()
	logs, log := testenv.NewLogRecorder(1)
	// Trusting loopback lets the test name its requests (X-Request-Id) to find their audit lines.
	r := env.StartRoster(t, func(c *app.Config) { c.SCIMLog, c.TrustedProxies = &log, []string{"127.0.0.1"} })
	for _, tc := range []struct {
		policy      rosterv1.UserNameChangePolicy
		label       string
		status      int
		wantActive  bool
		wantAudit   map[string]string
		wantEvent   bool
		wantMessage string
	}{
		{policy: "", label: "reject", status: http.StatusBadRequest, wantActive: true,
			wantAudit: map[string]string{"status": "400", "scimType": "mutability", "userNameChange": "reject", "refusedDeactivation": "true"}},
		{policy: rosterv1.UserNameChangesIgnore, label: "ignore", status: http.StatusOK, wantActive: false,
			wantAudit: map[string]string{"status": "200", "userNameChange": "ignore"}, wantEvent: true},
	} {
		t.Run(tc.label, func(t *testing.T) {
			org := env.NewOrgWith(t, "uname-"+tc.label, func(o *rosterv1.Organization) { o.Spec.UserNameChanges = tc.policy })
			c := scimtest.New(r.BaseURL, org.Name, org.Token)
			waitForToken(t, c)
			id := c.Do(t, http.MethodPost, "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@example.com",`+
				`"name":{"givenName":"Ada","familyName":"Lovelace"},"emails":[{"primary":true,"type":"work","value":"ada@example.com"}],"active":true}`).
				Expect(t, http.StatusCreated).String("id")
			counter := metrics.UserNameChangesRefused.WithLabelValues(org.Name, tc.label)
			before := testutil.ToFloat64(counter)

			resp := c.Do(t, http.MethodPatch, "/Users/"+id, entraRenameAndDisable, "X-Request-Id: uname-"+tc.label)
			if tc.status == http.StatusBadRequest {
				resp.ExpectError(t, http.StatusBadRequest, "mutability")
			} else {
				resp.Expect(t, tc.status)
				if got := resp.String("userName"); got != "ada@example.com" {
					t.Errorf("answered userName %q, want the kept ada@example.com", got)
				}
			}

			// The apiserver holds the outcome: all or (Ignore) all but the userName.
			var u rosterv1.OrgUser
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: org.Namespace, Name: id}, &u); err != nil {
				t.Fatal(err)
			}
			if u.Spec.IsActive() != tc.wantActive || u.Spec.UserName != "ada@example.com" {
				t.Errorf("stored active=%v userName=%q, want active=%v userName ada@example.com", u.Spec.IsActive(), u.Spec.UserName, tc.wantActive)
			}
			if wantFamily := map[bool]string{true: "Lovelace", false: "Former"}[tc.wantActive]; u.Spec.Name == nil || u.Spec.Name.FamilyName != wantFamily {
				t.Errorf("stored name %+v, want familyName %s", u.Spec.Name, wantFamily)
			}
			if got := testutil.ToFloat64(counter) - before; got != 1 {
				t.Errorf("roster_scim_username_changes_refused_total counted %v times, want 1", got)
			}
			msg := map[int]string{http.StatusBadRequest: "SCIM write rejected", http.StatusOK: "SCIM write"}[tc.status]
			expectFields(t, auditLine(t, logs, msg, "uname-"+tc.label), tc.wantAudit)

			// Ignore leaves a Warning event on the user; Reject none (the IdP got the 400).
			find := func() []corev1.Event {
				var events corev1.EventList
				if err := env.Client.List(ctx, &events, client.InNamespace(org.Namespace)); err != nil {
					t.Fatal(err)
				}
				var out []corev1.Event
				for _, e := range events.Items {
					if e.Reason == "UserNameChangeIgnored" && e.InvolvedObject.Name == id {
						out = append(out, e)
					}
				}
				return out
			}
			if tc.wantEvent {
				eventually(t, 10*time.Second, func() bool { return len(find()) == 1 }, "no UserNameChangeIgnored event on %s", id)
				if e := find()[0]; e.Type != corev1.EventTypeWarning || !strings.Contains(e.Message, "former.ada@example.com") {
					t.Errorf("event %s %q: want a Warning naming the refused userName", e.Type, e.Message)
				}
			} else if got := find(); len(got) != 0 {
				t.Errorf("Reject recorded events %v, want none", got)
			}
		})
	}
}
