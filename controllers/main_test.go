package controllers_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/controllers"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/identitystore"
	"github.com/rosterhq/roster/internal/identitystore/open"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
	"github.com/rosterhq/roster/internal/testutil/testenv"
)

// env is the real kube-apiserver + etcd shared by this package's tests. Each test runs its
// own Roster manager against its own identity store and works in its own organization.
// Managers of earlier tests are stopped, so tests must not run in parallel: two managers'
// controllers would both reconcile every object.
var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Run(m, &env)) }

// fixture is a running Roster with an identity store, an org and clients for both.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	roster *testenv.Roster
	org    testenv.Org
	scim   *scimtest.Client
	// store reads (and, for drift tests, writes) the database directly, beside Roster.
	store identitystore.Store
}

// newFixture starts a Roster writing to storeURL as a shard serving (and caching) a fresh
// organization alone, created before it starts as a shard's organizations are, and returns its
// fixture. Why a shard: the package's tests share one apiserver and leave their organizations'
// objects behind; a Roster of every namespace would reconcile all of them into this test's
// store — time on a loaded machine, and, while the store fails, back-off retries queued ahead
// of the test's own objects.
func newFixture(t *testing.T, storeURL string, mutate func(*app.Config)) *fixture {
	t.Helper()
	org := env.NewOrgWith(t, "st", func(o *rosterv1.Organization) {
		o.Labels = map[string]string{"roster.dev/test": o.Name}
	})
	r := env.StartRoster(t, func(c *app.Config) {
		c.IdentityStore = storeURL
		c.Organizations = "roster.dev/test=" + org.Name
		if mutate != nil {
			mutate(c)
		}
	})
	return newFixtureOf(t, r, storeURL, org)
}

// newUnshardedFixture is newFixture for a Roster of every organization (the default install),
// for what must hold in both.
func newUnshardedFixture(t *testing.T, storeURL string) *fixture {
	t.Helper()
	r := env.StartRoster(t, func(c *app.Config) { c.IdentityStore = storeURL })
	return newFixtureOf(t, r, storeURL, env.NewOrg(t, "st"))
}

// newFixtureOf is the fixture of org served by r, which writes to storeURL.
func newFixtureOf(t *testing.T, r *testenv.Roster, storeURL string, org testenv.Org) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := open.Open(ctx, storeURL)
	if err != nil {
		t.Fatalf("opening the store beside Roster: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	f := &fixture{t: t, ctx: ctx, roster: r, org: org, scim: scimtest.New(r.BaseURL, org.Name, org.Token), store: st}
	f.eventually(10*time.Second, func() (bool, string) {
		s := f.scim.Do(t, http.MethodGet, "/ServiceProviderConfig", nil).Status
		return s == http.StatusOK, fmt.Sprintf("token not accepted yet: %d", s)
	})
	return f
}

// eventually polls cond until it holds or the timeout passes; the last message explains.
func (f *fixture) eventually(timeout time.Duration, cond func() (bool, string)) {
	f.t.Helper()
	eventually(f.t, timeout, cond)
}

func eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	testenv.Eventually(t, timeout, cond)
}

// createUser creates a user through SCIM and returns its id.
func (f *fixture) createUser(userName string, extra map[string]any) string {
	f.t.Helper()
	body := map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": userName,
		"name":     map[string]any{"givenName": "Given " + userName, "familyName": "Family"},
		"emails":   []map[string]any{{"value": userName, "type": "work", "primary": true}},
		"active":   true,
	}
	for k, v := range extra {
		body[k] = v
	}
	return f.scim.Do(f.t, http.MethodPost, "/Users", body).Expect(f.t, http.StatusCreated).String("id")
}

// createGroup creates a SCIM-managed team through SCIM and returns its id.
func (f *fixture) createGroup(displayName string, members ...string) string {
	f.t.Helper()
	refs := make([]map[string]any, len(members))
	for i, m := range members {
		refs[i] = map[string]any{"value": m}
	}
	body := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": displayName, "members": refs}
	return f.scim.Do(f.t, http.MethodPost, "/Groups", body).Expect(f.t, http.StatusCreated).String("id")
}

// patchMembers adds and removes members of a SCIM group.
func (f *fixture) patchMembers(group string, add, remove []string) {
	f.t.Helper()
	var ops []map[string]any
	if len(add) > 0 {
		vals := make([]map[string]any, len(add))
		for i, m := range add {
			vals[i] = map[string]any{"value": m}
		}
		ops = append(ops, map[string]any{"op": "add", "path": "members", "value": vals})
	}
	for _, m := range remove {
		ops = append(ops, map[string]any{"op": "remove", "path": fmt.Sprintf(`members[value eq "%s"]`, m)})
	}
	body := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": ops}
	f.scim.Do(f.t, http.MethodPatch, "/Groups/"+group, body).Expect(f.t, http.StatusNoContent)
}

// newUserObject creates an OrgUser directly through the apiserver, as kubectl would.
func (f *fixture) newUserObject(userName string, active bool) *rosterv1.OrgUser {
	f.t.Helper()
	u := &rosterv1.OrgUser{Spec: rosterv1.OrgUserSpec{UserName: userName, Active: &active, DisplayName: "Object " + userName}}
	u.Name, u.Namespace = naming.UserObjectName(userName), f.org.Namespace
	u.Labels = map[string]string{rosterv1.OrgLabel: f.org.Name}
	if err := env.Client.Create(f.ctx, u); err != nil {
		f.t.Fatalf("creating OrgUser: %v", err)
	}
	return u
}

// newTeamObject creates an OrgTeam and one member slice directly through the apiserver.
func (f *fixture) newTeamObject(name, displayName, managedBy string, members ...string) *rosterv1.OrgTeam {
	f.t.Helper()
	team := &rosterv1.OrgTeam{Spec: rosterv1.OrgTeamSpec{DisplayName: displayName, ManagedBy: managedBy}}
	team.Name, team.Namespace = name, f.org.Namespace
	team.Labels = map[string]string{rosterv1.OrgLabel: f.org.Name}
	if err := env.Client.Create(f.ctx, team); err != nil {
		f.t.Fatalf("creating OrgTeam: %v", err)
	}
	if len(members) > 0 {
		f.newSlice(team, members...)
	}
	return team
}

func (f *fixture) newSlice(team *rosterv1.OrgTeam, members ...string) *rosterv1.OrgTeamMemberSlice {
	f.t.Helper()
	sl := &rosterv1.OrgTeamMemberSlice{Spec: rosterv1.OrgTeamMemberSliceSpec{Team: team.Name, Members: members}}
	sl.GenerateName, sl.Namespace = team.Name+"-", team.Namespace
	sl.Labels = map[string]string{rosterv1.TeamLabel: team.Name, rosterv1.OrgLabel: f.org.Name}
	if err := env.Client.Create(f.ctx, sl); err != nil {
		f.t.Fatalf("creating OrgTeamMemberSlice: %v", err)
	}
	return sl
}

// userRow waits for the user's row to satisfy check.
func (f *fixture) awaitUserRow(id string, check func(identitystore.User) string) identitystore.User {
	f.t.Helper()
	var row identitystore.User
	f.eventually(10*time.Second, func() (bool, string) {
		var err error
		row, err = f.store.ObserveUser(f.ctx, f.org.Name, id)
		if err != nil {
			return false, fmt.Sprintf("user %s: %v", id, err)
		}
		msg := check(row)
		return msg == "", fmt.Sprintf("user %s row %+v: %s", id, row, msg)
	})
	return row
}

// awaitMembers waits until the store lists exactly want as the team's members.
func (f *fixture) awaitMembers(timeout time.Duration, team string, want ...string) {
	f.t.Helper()
	want = slices.Clone(want)
	slices.Sort(want)
	f.eventually(timeout, func() (bool, string) {
		got, err := f.store.ObserveMembers(f.ctx, f.org.Name, team)
		if err != nil {
			return false, err.Error()
		}
		return slices.Equal(got, want), fmt.Sprintf("members of %s in the store = %v, want %v", team, got, want)
	})
}

// awaitCondition waits until obj's condition of type typ has the status and reason.
func (f *fixture) awaitCondition(obj client.Object, typ string, status metav1.ConditionStatus, reason string, timeout time.Duration) {
	f.t.Helper()
	f.eventually(timeout, func() (bool, string) {
		if err := env.Client.Get(f.ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(conditionsOf(obj), typ)
		if c == nil {
			return false, fmt.Sprintf("%s has no %s condition", obj.GetName(), typ)
		}
		return c.Status == status && c.Reason == reason,
			fmt.Sprintf("%s %s = %s/%s (%s), want %s/%s", obj.GetName(), typ, c.Status, c.Reason, c.Message, status, reason)
	})
}

func key(o client.Object) client.ObjectKey { return client.ObjectKeyFromObject(o) }

func conditionsOf(obj client.Object) []metav1.Condition {
	switch o := obj.(type) {
	case *rosterv1.OrgUser:
		return o.Status.Conditions
	case *rosterv1.OrgTeam:
		return o.Status.Conditions
	case *rosterv1.Organization:
		return o.Status.Conditions
	}
	return nil
}

func (f *fixture) user(id string) *rosterv1.OrgUser {
	u := &rosterv1.OrgUser{}
	u.Name, u.Namespace = id, f.org.Namespace
	return u
}

func (f *fixture) team(id string) *rosterv1.OrgTeam {
	t := &rosterv1.OrgTeam{}
	t.Name, t.Namespace = id, f.org.Namespace
	return t
}

func (f *fixture) organization() *rosterv1.Organization {
	o := &rosterv1.Organization{}
	o.Name = f.org.Name
	return o
}

// awaitGone waits until the object no longer exists (its finalizer was removed).
func (f *fixture) awaitGone(obj client.Object) {
	f.t.Helper()
	f.eventually(10*time.Second, func() (bool, string) {
		err := env.Client.Get(f.ctx, client.ObjectKeyFromObject(obj), obj)
		return client.IgnoreNotFound(err) == nil && err != nil,
			fmt.Sprintf("%s still exists (finalizers %v, err %v)", obj.GetName(), obj.GetFinalizers(), err)
	})
}

// awaitFinalizer waits until the controllers put their finalizer on obj.
func (f *fixture) awaitFinalizer(obj client.Object) {
	f.t.Helper()
	f.eventually(10*time.Second, func() (bool, string) {
		if err := env.Client.Get(f.ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, err.Error()
		}
		return controllerutil.ContainsFinalizer(obj, controllers.Finalizer), fmt.Sprintf("finalizers of %s: %v", obj.GetName(), obj.GetFinalizers())
	})
}

// awaitEvent waits for an event with the reason on the object and returns its message.
func (f *fixture) awaitEvent(obj client.Object, reason string, timeout time.Duration) string {
	f.t.Helper()
	return f.awaitEventMentioning(obj, reason, "", timeout)
}

// awaitEventMentioning is awaitEvent for an event whose message contains text: an event of the
// same reason recorded earlier (at the team's creation, say) does not count.
func (f *fixture) awaitEventMentioning(obj client.Object, reason, text string, timeout time.Duration) string {
	f.t.Helper()
	var msg string
	f.eventually(timeout, func() (bool, string) {
		var events corev1.EventList
		if err := env.Client.List(f.ctx, &events, client.InNamespace(obj.GetNamespace())); err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, e := range events.Items {
			if e.InvolvedObject.Name == obj.GetName() {
				if e.Reason == reason && strings.Contains(e.Message, text) {
					msg = e.Message
					return true, ""
				}
				seen = append(seen, e.Reason+": "+e.Message)
			}
		}
		return false, fmt.Sprintf("no %s event mentioning %q on %s; events: %s", reason, text, obj.GetName(), strings.Join(seen, "; "))
	})
	return msg
}

// sliceMembers returns the members listed by the team's slices.
func (f *fixture) sliceMembers(team string) []string {
	f.t.Helper()
	var list rosterv1.OrgTeamMemberSliceList
	if err := env.Client.List(f.ctx, &list, client.InNamespace(f.org.Namespace)); err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, sl := range list.Items {
		if sl.Spec.Team == team {
			out = append(out, sl.Spec.Members...)
		}
	}
	slices.Sort(out)
	return out
}
