package admission_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/controllers"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
	"github.com/rosterhq/roster/internal/testutil/testenv"
	"github.com/rosterhq/roster/webhook/admission"
)

// teamEditors is the group the install's OrgTeam editor role is bound to here: what a tenant
// namespace editor holds through the built-in edit role, which aggregates that role.
const teamEditors = "roster-test:team-editors"

var (
	editorsOnce sync.Once
	editorsErr  error
)

// as returns a client that impersonates user, a member of groups and of teamEditors.
// envtest runs no aggregation controller, so the install's OrgTeam editor ClusterRole
// (config/rbac/orgteam_editor_role.yaml) is bound to teamEditors directly.
func as(t *testing.T, user string, groups ...string) client.Client {
	t.Helper()
	editorsOnce.Do(func() {
		f, err := os.Open("../../config/rbac/orgteam_editor_role.yaml")
		if err != nil {
			editorsErr = err
			return
		}
		defer f.Close()
		var role rbacv1.ClusterRole
		if editorsErr = yaml.NewYAMLOrJSONDecoder(f, 4096).Decode(&role); editorsErr != nil {
			return
		}
		role.Name = "roster-orgteam-editor-test"
		ctx := context.Background()
		if editorsErr = env.Client.Create(ctx, &role); editorsErr != nil {
			return
		}
		binding := &rbacv1.ClusterRoleBinding{
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "Group", Name: teamEditors}},
		}
		binding.Name = role.Name
		editorsErr = env.Client.Create(ctx, binding)
	})
	if editorsErr != nil {
		t.Fatalf("binding the OrgTeam editor role: %v", editorsErr)
	}
	cfg := rest.CopyConfig(env.Config) // a system:masters user, who may impersonate
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: append(groups, teamEditors, "system:authenticated")}
	c, err := newClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// getTeam reads a team from the apiserver.
func getTeam(t *testing.T, ns, name string) *rosterv1.OrgTeam {
	t.Helper()
	var team rosterv1.OrgTeam
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &team); err != nil {
		t.Fatal(err)
	}
	return &team
}

// teamSlices reads a team's member slices from the apiserver, and all their members.
func teamSlices(t *testing.T, ns, team string) ([]rosterv1.OrgTeamMemberSlice, []string) {
	t.Helper()
	var list rosterv1.OrgTeamMemberSliceList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns), client.MatchingLabels{rosterv1.TeamLabel: team}); err != nil {
		t.Fatal(err)
	}
	var members []string
	for _, sl := range list.Items {
		members = append(members, sl.Spec.Members...)
	}
	return list.Items, members
}

// eventsFor lists the events of reason on an object, in namespace ns.
func eventsFor(t *testing.T, ns, name, reason string) []corev1.Event {
	t.Helper()
	var list corev1.EventList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []corev1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.Name == name && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

func mergePatch(format string, args ...any) client.Patch {
	return client.RawPatch("application/merge-patch+json", []byte(fmt.Sprintf(format, args...)))
}

// TestDisablingSCIM: while SCIM is enabled nobody turns a SCIM team manual by hand, not even
// Roster's own service account; switching the organization to spec.scim: Disabled makes
// SCIM answer 403 and turns its teams manual, with events, after which a tenant editor edits
// them. Users stay read-only, and enabling SCIM again leaves the teams manual.
func TestDisablingSCIM(t *testing.T) {
	ctx := context.Background()
	org, c := newOrg(t)
	ada := c.Do(t, http.MethodPost, "/Users", `{"userName":"ada@example.com"}`).Expect(t, http.StatusCreated).String("id")
	gid := c.Do(t, http.MethodPost, "/Groups", fmt.Sprintf(`{"displayName":"Eng","members":[{"value":%q}]}`, ada)).Expect(t, http.StatusCreated).String("id")
	editor := as(t, "dana-editor")

	// Enabled: managedBy does not move by hand, for a tenant editor or Roster's own service
	// account, whose other writes the webhook configuration's matchCondition lets through
	// unjudged (this test's Roster runs as another user, so the webhook alone would refuse
	// the label below).
	release := mergePatch(`{"spec":{"managedBy":%q}}`, rosterv1.ManagedByManual)
	team := getTeam(t, org.Namespace, gid)
	expectDenied(t, editor.Patch(ctx, team, release), teamWebhook, "spec.managedBy", "only Roster turns a SCIM team manual, when SCIM is disabled for the organization")
	sa := as(t, "system:serviceaccount:roster-system:roster-controller-manager")
	if err := sa.Patch(ctx, getTeam(t, org.Namespace, gid), mergePatch(`{"metadata":{"labels":{"probe":"skipped"}}}`)); err != nil {
		t.Fatalf("Roster's service account is not skipped by the matchCondition: %v", err)
	}
	expectDenied(t, sa.Patch(ctx, getTeam(t, org.Namespace, gid), release), teamWebhook, "spec.managedBy")
	expectDenied(t, roster(t).Manager.GetClient().Patch(ctx, getTeam(t, org.Namespace, gid), release), teamWebhook, "spec.managedBy",
		fmt.Sprintf("SCIM is not disabled for organization %q", org.Name))
	// And a manual team never becomes a SCIM team (the CRD's rule, for everyone).
	hand := newTeam(org.Namespace, "Oncall", rosterv1.ManagedByManual)
	if err := editor.Create(ctx, hand); err != nil {
		t.Fatal(err)
	}
	if err := editor.Patch(ctx, hand, mergePatch(`{"spec":{"managedBy":%q}}`, rosterv1.ManagedBySCIM)); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "managedBy is immutable") {
		t.Errorf("manual → scim: %v", err)
	}

	// The switch. Once the SCIM server's cache has it (a watch round trip), it answers 403.
	var o rosterv1.Organization
	if err := env.Client.Get(ctx, client.ObjectKey{Name: org.Name}, &o); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Patch(ctx, &o, mergePatch(`{"spec":{"scim":"Disabled"}}`)); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return c.Do(t, http.MethodGet, "/Groups", nil).Status == http.StatusForbidden })
	denied := c.Do(t, http.MethodPost, "/Users", `{"userName":"grace@example.com"}`).ExpectError(t, http.StatusForbidden, "")
	if d := denied.String("detail"); !strings.Contains(d, fmt.Sprintf("SCIM is disabled for organization %q", org.Name)) || !strings.Contains(d, "spec.scim: Enabled") {
		t.Errorf("detail: %s", d)
	}
	wrong := *c
	wrong.Token = "roster_not-the-token"
	wrong.Do(t, http.MethodGet, "/Groups", nil).ExpectError(t, http.StatusUnauthorized, "")

	// The teams are manual now, each with an event, and one on the Organization.
	eventually(t, func() bool { return getTeam(t, org.Namespace, gid).Spec.ManagedBy == rosterv1.ManagedByManual })
	eventually(t, func() bool { return len(eventsFor(t, org.Namespace, gid, controllers.EventManagedByManual)) == 1 })
	eventually(t, func() bool { return len(eventsFor(t, clusterEvents, org.Name, controllers.EventTeamsReleased)) == 1 })
	if e := eventsFor(t, org.Namespace, gid, controllers.EventManagedByManual)[0]; !strings.Contains(e.Message, "stays manual if SCIM is enabled again") {
		t.Errorf("event: %s", e.Message)
	}

	// A tenant editor changes the team and its members now; users stay the identity provider's.
	team = getTeam(t, org.Namespace, gid)
	if err := editor.Patch(ctx, team, mergePatch(`{"spec":{"displayName":"Engineering"}}`)); err != nil {
		t.Fatalf("renaming a released team: %v", err)
	}
	// A slice is judged on the webhook's cached team, which trails the release by a watch
	// round trip (the release was read from the apiserver above): a stale answer can only
	// refuse, as SCIM-managed, a write that passes a moment later (admission.cachedTeams).
	// The editor retries that refusal; any other fails the test.
	slices, _ := teamSlices(t, org.Namespace, gid)
	testenv.Eventually(t, 15*time.Second, func() (bool, string) {
		err := editor.Patch(ctx, &slices[0], mergePatch(`{"spec":{"members":[]}}`))
		if err != nil && !(apierrors.IsForbidden(err) && strings.Contains(err.Error(), "are provisioned by SCIM")) {
			t.Fatalf("changing a released team's members: %v", err)
		}
		return err == nil, fmt.Sprintf("changing a released team's members: %v", err)
	})
	var u rosterv1.OrgUser
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: org.Namespace, Name: ada}, &u); err != nil {
		t.Fatal(err)
	}
	expectDenied(t, others(t)["cluster-admin"].Patch(ctx, &u, mergePatch(`{"spec":{"displayName":"Ada"}}`)), userWebhook, "spec.displayName")

	// Enabled again: SCIM answers, the team stays manual, and a push of the same group finds
	// its name held by the manual team rather than taking the team over.
	if err := env.Client.Patch(ctx, &o, mergePatch(`{"spec":{"scim":"Enabled"}}`)); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return c.Do(t, http.MethodGet, "/Groups", nil).Status == http.StatusOK })
	c.Do(t, http.MethodPost, "/Groups", `{"displayName":"Engineering"}`).ExpectError(t, http.StatusConflict, "uniqueness")
	c.Do(t, http.MethodGet, "/Groups/"+gid, nil).ExpectError(t, http.StatusNotFound, "")
	if got := getTeam(t, org.Namespace, gid); got.Spec.ManagedBy != rosterv1.ManagedByManual {
		t.Errorf("managedBy %q after enabling SCIM again", got.Spec.ManagedBy)
	}
}

// clusterEvents is the namespace of the events of cluster-scoped objects (Organizations).
const clusterEvents = "default"

// TestBreakGlass: a member of the break-glass group edits a SCIM team's members once the
// team carries the reason and Roster has recorded its members (each write a Warning event);
// without the reason, or outside the group, the write is refused with a message that says
// what is missing. The identity provider's next write — a PATCH that names neither the member
// removed by hand nor the one added by hand — ends the break-glass and puts back the members
// it had set before applying its own change.
func TestBreakGlass(t *testing.T) {
	ctx := context.Background()
	org, c := newOrg(t)
	newUser := func(name string) string {
		return c.Do(t, http.MethodPost, "/Users", fmt.Sprintf(`{"userName":"%s@example.com"}`, name)).Expect(t, http.StatusCreated).String("id")
	}
	ada, mallory, carol, dave := newUser("ada"), newUser("mallory"), newUser("carol"), newUser("dave")
	gid := c.Do(t, http.MethodPost, "/Groups", fmt.Sprintf(`{"displayName":"Prod","members":[{"value":%q},{"value":%q}]}`, ada, mallory)).Expect(t, http.StatusCreated).String("id")
	glass := as(t, "erin-oncall", breakGlassGroup)
	editor := as(t, "frank-editor")
	annotate := mergePatch(`{"metadata":{"annotations":{%q:"INC-42: mallory's laptop was stolen"}}}`, rosterv1.BreakGlassAnnotation)
	// setMembers sets the members of the slice that lists ada (the room slice Roster adds
	// for a break-glass edit lists nobody).
	setMembers := func(c client.Client, members string) error {
		slices, _ := teamSlices(t, org.Namespace, gid)
		for i := range slices {
			if len(slices[i].Spec.Members) > 0 {
				return c.Patch(ctx, &slices[i], mergePatch(`{"spec":{"members":%s}}`, members))
			}
		}
		t.Fatalf("no slice of team %s lists a member", gid)
		return nil
	}
	sameMembers := func(got []string, want ...string) bool {
		slices.Sort(got)
		slices.Sort(want)
		return slices.Equal(got, want)
	}
	onlyAda := fmt.Sprintf("[%q]", ada)

	// Outside the group: refused, naming the group that may.
	expectDenied(t, editor.Patch(ctx, getTeam(t, org.Namespace, gid), annotate), teamWebhook, "metadata.annotations[scim.roster.dev/break-glass]",
		fmt.Sprintf(`in an emergency, a member of group %q can edit it by hand`, breakGlassGroup))
	// In the group, without the reason on the team: refused, saying how to give it.
	expectDenied(t, setMembers(glass, onlyAda), sliceWebhook, "spec.members",
		fmt.Sprintf("first give the reason on the team (kubectl annotate orgteam -n %s %s %s=", org.Namespace, gid, rosterv1.BreakGlassAnnotation))

	// With it: the team, then — once Roster has recorded the members the identity provider
	// set — its members: mallory out, carol in.
	if err := glass.Patch(ctx, getTeam(t, org.Namespace, gid), annotate); err != nil {
		t.Fatalf("annotating as a member of the break-glass group: %v", err)
	}
	eventually(t, func() bool {
		err := setMembers(glass, fmt.Sprintf("[%q,%q]", ada, carol))
		if err != nil && !strings.Contains(err.Error(), "Roster is recording the members") {
			t.Fatalf("a break-glass member change: %v", err)
		}
		return err == nil
	})
	if _, members := teamSlices(t, org.Namespace, gid); !sameMembers(members, ada, carol) {
		t.Fatalf("members after the break-glass change: %v", members)
	}
	// SCIM shows the members as they are, not Roster's record of them.
	eventually(t, func() bool {
		var got []string
		for _, m := range c.Do(t, http.MethodGet, "/Groups/"+gid, nil).Expect(t, http.StatusOK).Get("members").([]any) {
			got = append(got, m.(map[string]any)["value"].(string))
		}
		return sameMembers(got, ada, carol)
	})
	// A new slice is refused: it could be stored after the identity provider's write.
	room := gid + "-break-glass"
	extra := &rosterv1.OrgTeamMemberSlice{Spec: rosterv1.OrgTeamMemberSliceSpec{Team: gid, Members: []string{dave}}}
	extra.Name, extra.Namespace, extra.Labels = gid+"-mine", org.Namespace, map[string]string{rosterv1.TeamLabel: gid}
	if err := glass.Create(ctx, extra); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "add members to OrgTeamMemberSlice "+room) {
		t.Errorf("creating a slice by hand: %v", err)
		_ = env.Client.Delete(ctx, extra)
	}
	// Still nobody else, and still not the team's other fields.
	expectDenied(t, editor.Patch(ctx, getTeam(t, org.Namespace, gid), mergePatch(`{"metadata":{"labels":{"x":"y"}}}`)), teamWebhook, "metadata.labels[x]", breakGlassGroup)
	expectDenied(t, setMembers(editor, "[]"), sliceWebhook, "spec.members", breakGlassGroup)
	expectDenied(t, glass.Patch(ctx, getTeam(t, org.Namespace, gid), mergePatch(`{"spec":{"displayName":"Mine"}}`)), teamWebhook, "spec.displayName",
		"a break-glass edit of the team itself only sets or removes annotation")

	// The identity provider's next write, a PATCH (as Okta and Entra push memberships) that
	// names neither mallory nor carol, ends it: mallory is back, carol gone, dave added.
	c.Do(t, http.MethodPatch, "/Groups/"+gid, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],`+
		`"Operations":[{"op":"add","path":"members","value":[{"value":%q}]}]}`, dave)).Expect(t, http.StatusNoContent)
	if _, members := teamSlices(t, org.Namespace, gid); !sameMembers(members, ada, mallory, dave) {
		t.Errorf("members after the identity provider's PATCH: %v, want ada, mallory and dave", members)
	}
	if a := getTeam(t, org.Namespace, gid).Annotations; a[rosterv1.BreakGlassAnnotation] != "" || a["scim.roster.dev/break-glass-state"] != "" {
		t.Errorf("the identity provider's write left the break-glass on: %v", a)
	}
	var snapshot rosterv1.OrgTeamMemberSliceList
	if err := env.Client.List(ctx, &snapshot, client.InNamespace(org.Namespace), client.HasLabels{"scim.roster.dev/snapshot-of"}); err != nil || len(snapshot.Items) > 0 {
		t.Errorf("snapshot slices left after the restore: %d (%v)", len(snapshot.Items), err)
	}
	expectDenied(t, setMembers(glass, onlyAda), sliceWebhook, "spec.members", "first give the reason on the team")

	// Each admitted write is logged, and a Warning event on the team.
	if lines := webhookLogs.Find("break-glass write admitted", map[string]string{
		"user": "erin-oncall", "group": breakGlassGroup, "namespace": org.Namespace, "team": gid, "reason": "INC-42: mallory's laptop was stolen",
	}); len(lines) != 2 {
		t.Errorf("want two break-glass log lines, found %d in:\n%s", len(lines), webhookLogs)
	}
	eventually(t, func() bool { return len(eventsFor(t, org.Namespace, gid, admission.EventBreakGlass)) == 2 })
	for _, e := range eventsFor(t, org.Namespace, gid, admission.EventBreakGlass) {
		if e.Type != corev1.EventTypeWarning || !strings.Contains(e.Message, `by erin-oncall (group roster:break-glass), reason: "INC-42: mallory's laptop was stolen"`) {
			t.Errorf("event %s: %s", e.Type, e.Message)
		}
	}
}

// TestBreakGlassAcrossReplicas: with two replicas, both of which open break-glass edits and
// serve SCIM, PATCHes racing on both to end the same break-glass restore the members once:
// the hand edit is reverted and no PATCH is lost.
func TestBreakGlassAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	org, c := newOrg(t)
	other := env.StartRoster(t, func(c *app.Config) { c.Webhook.Disabled = true }) // the shared Roster serves the webhook
	c2 := scimtest.New(other.BaseURL, org.Name, org.Token)
	eventually(t, func() bool { return c2.Do(t, http.MethodGet, "/ServiceProviderConfig", nil).Status == http.StatusOK })
	newUser := func(name string) string {
		return c.Do(t, http.MethodPost, "/Users", fmt.Sprintf(`{"userName":"%s@example.com"}`, name)).Expect(t, http.StatusCreated).String("id")
	}
	ada, bob, carol := newUser("ada"), newUser("bob"), newUser("carol")
	gid := c.Do(t, http.MethodPost, "/Groups", fmt.Sprintf(`{"displayName":"Ops","members":[{"value":%q},{"value":%q}]}`, ada, bob)).Expect(t, http.StatusCreated).String("id")
	var pushed []string
	for i := range 6 {
		pushed = append(pushed, newUser(fmt.Sprintf("u%d", i)))
	}

	glass := as(t, "erin-oncall", breakGlassGroup)
	if err := glass.Patch(ctx, getTeam(t, org.Namespace, gid), mergePatch(`{"metadata":{"annotations":{%q:"INC-7"}}}`, rosterv1.BreakGlassAnnotation)); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool {
		sl, _ := teamSlices(t, org.Namespace, gid)
		for i := range sl {
			if len(sl[i].Spec.Members) > 0 {
				err := glass.Patch(ctx, &sl[i], mergePatch(`{"spec":{"members":[%q,%q]}}`, ada, carol))
				if err != nil && !strings.Contains(err.Error(), "Roster is recording the members") {
					t.Fatalf("a break-glass member change: %v", err)
				}
				return err == nil
			}
		}
		return false
	})

	var wg sync.WaitGroup
	for i, id := range pushed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replica := c
			if i%2 == 1 {
				replica = c2
			}
			replica.Do(t, http.MethodPatch, "/Groups/"+gid, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],`+
				`"Operations":[{"op":"add","path":"members","value":[{"value":%q}]}]}`, id)).Expect(t, http.StatusNoContent)
		}()
	}
	wg.Wait()
	if _, members := teamSlices(t, org.Namespace, gid); !slices.Equal(sorted(members), sorted(append([]string{ada, bob}, pushed...))) {
		t.Errorf("members after the racing PATCHes: %v, want ada, bob and the %d pushed", members, len(pushed))
	}
	if a := getTeam(t, org.Namespace, gid).Annotations; a[rosterv1.BreakGlassAnnotation] != "" || a["scim.roster.dev/break-glass-state"] != "" {
		t.Errorf("the identity provider's writes left the break-glass on: %v", a)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestBreakGlassRoomSquatted: the slice where break-glass additions go has a name anyone can
// predict; a tenant who creates it first, for a manual team of theirs, makes Roster refuse the
// break-glass (a Warning event) instead of routing the emergency admin's additions there.
func TestBreakGlassRoomSquatted(t *testing.T) {
	ctx := context.Background()
	org, c := newOrg(t)
	gid := c.Do(t, http.MethodPost, "/Groups", `{"displayName":"Payments"}`).Expect(t, http.StatusCreated).String("id")
	// The tenant's manual team, and a slice of it under the SCIM team's break-glass name
	// (as cluster-admin here; a namespace editor may do the same for a manual team).
	decoy := newTeam(org.Namespace, "Decoy", rosterv1.ManagedByManual)
	if err := env.Client.Create(ctx, decoy); err != nil {
		t.Fatal(err)
	}
	squat := &rosterv1.OrgTeamMemberSlice{Spec: rosterv1.OrgTeamMemberSliceSpec{Team: decoy.Name}}
	squat.Namespace, squat.Name = org.Namespace, rosterv1.BreakGlassSliceName(gid)
	squat.Labels = map[string]string{rosterv1.TeamLabel: decoy.Name}
	if err := env.Client.Create(ctx, squat); err != nil {
		t.Fatal(err)
	}
	glass := as(t, "erin-oncall", breakGlassGroup)
	if err := glass.Patch(ctx, getTeam(t, org.Namespace, gid), mergePatch(`{"metadata":{"annotations":{%q:"INC-9"}}}`, rosterv1.BreakGlassAnnotation)); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return len(eventsFor(t, org.Namespace, gid, controllers.EventBreakGlassRefused)) > 0 })
	if state := getTeam(t, org.Namespace, gid).Annotations["scim.roster.dev/break-glass-state"]; !strings.HasPrefix(state, "refused ") {
		t.Fatalf("break-glass state %q with a squatted room, want refused", state)
	}
}
