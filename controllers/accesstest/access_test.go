package accesstest_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/access"
	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/naming"
)

// TestGroupMode: an Okta group Eng becomes one Group subject oidc:Eng in every namespace the
// selector picks — a namespace that gains the label gets the binding, one that loses it loses
// it — and a team rename moves a binding that names the team by id to the new group name.
func TestGroupMode(t *testing.T) {
	role := podReader(t, "test-pod-reader")
	o := newOrg(t, &rosterv1.AccessSpec{Subjects: rosterv1.SubjectsGroup, GroupPrefix: "oidc:", AllowedRoles: []rosterv1.RoleRef{role}})
	ada := o.createUser("ada@example.com")
	team := o.createGroup("Eng", ada)
	app := o.org.Name + "-app"
	other := namespace(t, o.org.Name+"-other", nil)
	// The label is the org's own: namespaces of earlier runs (go test -count=2) stay in the
	// shared control plane and must not match.
	label := map[string]string{"team": "eng-" + o.org.Name}
	namespace(t, app, label)

	b := &rosterv1.TeamRoleBinding{Spec: rosterv1.TeamRoleBindingSpec{
		Team: rosterv1.TeamRef{ID: team}, RoleRef: role,
		Namespaces: &rosterv1.NamespaceSelection{Selector: &metav1.LabelSelector{MatchLabels: label}},
	}}
	b.Name, b.Namespace = "eng-pods", o.org.Namespace
	if err := env.Client.Create(o.ctx, b); err != nil {
		t.Fatal(err)
	}
	member := who{user: "oidc:ada@example.com", groups: []string{"oidc:Eng"}}
	awaitAccess(t, member, app, true)
	if canGetPods(t, member, other.Name) {
		t.Errorf("a namespace without the label grants access")
	}
	if canGetPods(t, who{user: "mallory", groups: []string{"Eng"}}, app) {
		t.Errorf("the group name without the prefix grants access")
	}
	// The status is patched after the objects it counts, and an earlier render (before the
	// controller's cache had the namespace) may have set Ready already: wait for the counts.
	awaitStatus(t, b, func(st *rosterv1.TeamRoleBindingStatus) bool {
		return st.Subjects == 1 && st.Team == "Eng" && st.RenderedCount == 1 && st.Namespaces == app
	})
	rb := rendered(t, b)
	if len(rb) != 1 || rb[0].Labels[rosterv1.TeamLabel] != team || rb[0].Labels[rosterv1.OrgLabel] != o.org.Name ||
		rb[0].Labels[rosterv1.BindingKindLabel] != rosterv1.KindTeamRoleBinding || rb[0].Labels[rosterv1.ManagedByLabel] != "roster" ||
		!strings.HasPrefix(rb[0].Name, "roster-eng-pods-") {
		t.Fatalf("rendered = %+v", rb)
	}

	// The other namespace gains the label: it gets the binding; the first loses it.
	other.Labels = label
	if err := env.Client.Update(o.ctx, other); err != nil {
		t.Fatal(err)
	}
	awaitAccess(t, member, other.Name, true)
	var appNS = namespaceObj(t, app)
	appNS.Labels = nil
	if err := env.Client.Update(o.ctx, appNS); err != nil {
		t.Fatal(err)
	}
	awaitAccess(t, member, app, false)

	// Renamed in the identity provider: the group is oidc:Platform now.
	o.patch("/Groups/"+team, map[string]any{"op": "replace", "path": "displayName", "value": "Platform"})
	awaitAccess(t, who{user: "x", groups: []string{"oidc:Platform"}}, other.Name, true)
	awaitAccess(t, member, other.Name, false)
}

func namespaceObj(t *testing.T, name string) *corev1.Namespace {
	t.Helper()
	ns := &corev1.Namespace{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, ns); err != nil {
		t.Fatal(err)
	}
	return ns
}

// TestUserMode: each active member is a User subject; removing a member, deactivating a user
// and deleting the team each take access away, as the apiserver's authorizer sees it.
func TestUserMode(t *testing.T) {
	role := podReader(t, "test-pod-reader")
	o := newOrg(t, &rosterv1.AccessSpec{Subjects: rosterv1.SubjectsUser, UserPrefix: "oidc:", AllowedRoles: []rosterv1.RoleRef{role}})
	ada, bob, cy := o.createUser("ada@example.com"), o.createUser("bob@example.com"), o.createUser("cy@example.com")
	team := o.createGroup("Eng", ada, bob, cy)
	b := &rosterv1.TeamRoleBinding{Spec: rosterv1.TeamRoleBindingSpec{Team: rosterv1.TeamRef{DisplayName: "eng"}, RoleRef: role}}
	b.Name, b.Namespace = "eng", o.org.Namespace
	if err := env.Client.Create(o.ctx, b); err != nil {
		t.Fatal(err)
	}
	ns := o.org.Namespace
	for _, u := range []string{"ada", "bob", "cy"} {
		awaitAccess(t, who{user: "oidc:" + u + "@example.com"}, ns, true)
	}
	if canGetPods(t, who{user: "ada@example.com"}, ns) {
		t.Error("the userName without the prefix grants access")
	}
	// As in TestGroupMode: an earlier render (before the cache had every user) set Ready.
	awaitStatus(t, b, func(st *rosterv1.TeamRoleBindingStatus) bool { return st.Subjects == 3 })

	// Removed from the group in the identity provider.
	o.patch("/Groups/"+team, map[string]any{"op": "remove", "path": fmt.Sprintf(`members[value eq "%s"]`, bob)})
	awaitAccess(t, who{user: "oidc:bob@example.com"}, ns, false)
	// Deactivated in the identity provider.
	o.patch("/Users/"+cy, map[string]any{"op": "replace", "value": map[string]any{"active": false}})
	awaitAccess(t, who{user: "oidc:cy@example.com"}, ns, false)
	if !canGetPods(t, who{user: "oidc:ada@example.com"}, ns) {
		t.Error("ada lost access with the others")
	}

	// The email claim instead of userName: the subjects follow the settings.
	o.setAccess(&rosterv1.AccessSpec{Subjects: rosterv1.SubjectsUser, UserClaim: rosterv1.UserClaimEmail, AllowedRoles: []rosterv1.RoleRef{role}})
	awaitAccess(t, who{user: "mail-ada@example.com"}, ns, true)
	awaitAccess(t, who{user: "oidc:ada@example.com"}, ns, false)

	// The group deleted: no binding, a readable status and an event.
	o.scim.Do(t, http.MethodDelete, "/Groups/"+team, nil).Expect(t, http.StatusNoContent)
	awaitAccess(t, who{user: "mail-ada@example.com"}, ns, false)
	c := awaitReady(t, b, metav1.ConditionFalse, "TeamNotFound")
	if !strings.Contains(c.Message, `display name "eng"`) || len(rendered(t, b)) != 0 || b.Status.RenderedCount != 0 {
		t.Errorf("after the team's deletion: %q, %d rendered", c.Message, len(rendered(t, b)))
	}
	awaitEvent(t, b, "TeamNotFound")
}

// TestRoleNotAllowed: a role outside the organization's allowedRoles renders nothing, and
// says so; allowing it renders it.
func TestRoleNotAllowed(t *testing.T) {
	role := podReader(t, "test-pod-reader")
	o := newOrg(t, &rosterv1.AccessSpec{GroupPrefix: "oidc:", AllowedRoles: []rosterv1.RoleRef{{Kind: "ClusterRole", Name: "view"}}})
	o.createGroup("Eng")
	b := &rosterv1.TeamRoleBinding{Spec: rosterv1.TeamRoleBindingSpec{Team: rosterv1.TeamRef{DisplayName: "Eng"}, RoleRef: role}}
	b.Name, b.Namespace = "eng", o.org.Namespace
	if err := env.Client.Create(o.ctx, b); err != nil {
		t.Fatal(err)
	}
	c := awaitReady(t, b, metav1.ConditionFalse, "RoleNotAllowed")
	for _, want := range []string{`ClusterRole "test-pod-reader"`, "spec.access.allowedRoles", "ClusterRole/view"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("message lacks %q: %s", want, c.Message)
		}
	}
	if n := len(rendered(t, b)); n != 0 {
		t.Errorf("%d RoleBindings of a role that is not allowed", n)
	}
	awaitEvent(t, b, "RoleNotAllowed")
	grp := who{user: "x", groups: []string{"oidc:Eng"}}
	if canGetPods(t, grp, o.org.Namespace) {
		t.Error("access granted through a role that is not allowed")
	}
	o.setAccess(&rosterv1.AccessSpec{GroupPrefix: "oidc:", AllowedRoles: []rosterv1.RoleRef{role}})
	awaitAccess(t, grp, o.org.Namespace, true)

	// Bad input: a team named both ways is refused by the API, nothing is created.
	bad := &rosterv1.TeamRoleBinding{Spec: rosterv1.TeamRoleBindingSpec{Team: rosterv1.TeamRef{DisplayName: "Eng", ID: "g-1"}, RoleRef: role}}
	bad.Name, bad.Namespace = "bad", o.org.Namespace
	if err := env.Client.Create(o.ctx, bad); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "exactly one of displayName and id") {
		t.Errorf("team by displayName and id: %v", err)
	}
}

// TestHandEdits: a rendered RoleBinding refuses anyone but Roster (a cluster-admin included),
// and what gets through anyway (here: a write as Roster's own identity, as a bypassed webhook
// would let through) is reverted; a deleted one comes back.
func TestHandEdits(t *testing.T) {
	role := podReader(t, "test-pod-reader")
	o := newOrg(t, &rosterv1.AccessSpec{GroupPrefix: "oidc:", AllowedRoles: []rosterv1.RoleRef{role}})
	o.createGroup("Eng")
	b := &rosterv1.TeamRoleBinding{Spec: rosterv1.TeamRoleBindingSpec{Team: rosterv1.TeamRef{DisplayName: "Eng"}, RoleRef: role}}
	b.Name, b.Namespace = "eng", o.org.Namespace
	if err := env.Client.Create(o.ctx, b); err != nil {
		t.Fatal(err)
	}
	var rb rbacv1.RoleBinding
	eventually(t, 10*time.Second, func() (bool, string) {
		l := rendered(t, b)
		if len(l) != 1 {
			return false, fmt.Sprintf("%d rendered", len(l))
		}
		rb = l[0]
		return true, ""
	})
	mallory := rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "mallory"}

	au, err := env.Environment.AddUser(envtest.User{Name: "alice-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := client.New(au.Config(), client.Options{Scheme: env.Client.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	edit := rb.DeepCopy()
	edit.Subjects = append(edit.Subjects, mallory)
	err = admin.Update(o.ctx, edit)
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `admission webhook "vrolebinding.scim.roster.dev" denied the request`) ||
		!strings.Contains(err.Error(), `TeamRoleBinding "eng"`) {
		t.Fatalf("a cluster-admin's hand edit: %v", err)
	}
	unlabel := rb.DeepCopy()
	delete(unlabel.Labels, rosterv1.BindingKindLabel)
	if err := admin.Update(o.ctx, unlabel); !apierrors.IsForbidden(err) {
		t.Errorf("a cluster-admin removing the label: %v", err)
	}
	if err := admin.Delete(o.ctx, rb.DeepCopy()); !apierrors.IsForbidden(err) {
		t.Errorf("a cluster-admin's delete: %v", err)
	}
	fake := &rbacv1.RoleBinding{RoleRef: rb.RoleRef, Subjects: []rbacv1.Subject{mallory}}
	fake.Name, fake.Namespace, fake.Labels = "fake", rb.Namespace, map[string]string{rosterv1.BindingKindLabel: rosterv1.KindTeamRoleBinding}
	if err := admin.Create(o.ctx, fake); !apierrors.IsForbidden(err) {
		t.Errorf("a cluster-admin creating a binding that passes for Roster's: %v", err)
	}

	// Forced through: reverted. (The object is checked, not a SubjectAccessReview: the
	// apiserver's authorizer follows bindings through its own watch, so right after the
	// edit it may not grant mallory anything yet either way.)
	if err := env.Client.Update(o.ctx, edit); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		var cur rbacv1.RoleBinding
		if err := env.Client.Get(o.ctx, client.ObjectKeyFromObject(&rb), &cur); err != nil {
			return false, err.Error()
		}
		named := slices.Contains(cur.Subjects, mallory)
		return cur.ResourceVersion != edit.ResourceVersion && !named,
			fmt.Sprintf("RoleBinding at %s (the edit's: %s) names mallory: %v", cur.ResourceVersion, edit.ResourceVersion, named)
	})
	awaitAccess(t, who{user: "mallory"}, o.org.Namespace, false)
	// Deleted: back, as a new object.
	if err := env.Client.Delete(o.ctx, &rb); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		var cur rbacv1.RoleBinding
		err := env.Client.Get(o.ctx, client.ObjectKeyFromObject(&rb), &cur)
		return err == nil && cur.UID != rb.UID, fmt.Sprintf("not recreated: %v", err)
	})
	awaitAccess(t, who{user: "x", groups: []string{"oidc:Eng"}}, o.org.Namespace, true)

	// Deleting the TeamRoleBinding deletes what it rendered (its finalizer: no garbage
	// collector runs here).
	if err := env.Client.Delete(o.ctx, b); err != nil {
		t.Fatal(err)
	}
	awaitAccess(t, who{user: "x", groups: []string{"oidc:Eng"}}, o.org.Namespace, false)
	eventually(t, 10*time.Second, func() (bool, string) {
		err := env.Client.Get(o.ctx, client.ObjectKeyFromObject(b), b)
		return apierrors.IsNotFound(err), fmt.Sprintf("TeamRoleBinding still there: %v", err)
	})
}

// TestClusterTeamRoleBinding: a ClusterRole with no namespaces becomes one
// ClusterRoleBinding; deleting the ClusterTeamRoleBinding takes it away.
func TestClusterTeamRoleBinding(t *testing.T) {
	role := podReader(t, "test-pod-reader")
	o := newOrg(t, &rosterv1.AccessSpec{GroupPrefix: "oidc:", AllowedRoles: []rosterv1.RoleRef{role}})
	o.createGroup("SRE")
	b := &rosterv1.ClusterTeamRoleBinding{Spec: rosterv1.ClusterTeamRoleBindingSpec{
		Organization: o.org.Name, Team: rosterv1.TeamRef{DisplayName: "SRE"}, RoleRef: role}}
	b.Name = o.org.Name + "-sre"
	if err := env.Client.Create(o.ctx, b); err != nil {
		t.Fatal(err)
	}
	sre := who{user: "x", groups: []string{"oidc:SRE"}}
	awaitAccess(t, sre, "kube-system", true)
	awaitReady(t, b, metav1.ConditionTrue, "Rendered")
	if len(b.Status.Rendered) != 1 || b.Status.Rendered[0].Kind != "ClusterRoleBinding" || b.Status.Namespaces != "(cluster)" {
		t.Errorf("status = %+v", b.Status)
	}
	if err := env.Client.Delete(o.ctx, b); err != nil {
		t.Fatal(err)
	}
	awaitAccess(t, sre, "kube-system", false)
}

// TestLargeTeamChunks: 2,500 members in User mode are split over three RoleBindings of at
// most 1,000 subjects, and removing one member rewrites exactly one of them.
func TestLargeTeamChunks(t *testing.T) {
	role := podReader(t, "test-pod-reader")
	o := newOrg(t, &rosterv1.AccessSpec{Subjects: rosterv1.SubjectsUser, AllowedRoles: []rosterv1.RoleRef{role}})
	const n = 2500
	ids := make([]string, n)
	for i := range ids {
		name := fmt.Sprintf("u%04d@example.com", i)
		u := &rosterv1.OrgUser{Spec: rosterv1.OrgUserSpec{UserName: name}}
		u.Name, u.Namespace = naming.UserObjectName(name), o.org.Namespace
		u.Labels = map[string]string{rosterv1.OrgLabel: o.org.Name}
		if err := env.Client.Create(o.ctx, u); err != nil {
			t.Fatal(err)
		}
		ids[i] = u.Name
	}
	// A SCIM team written directly as Roster's SCIM server would (faster than 2,500 SCIM
	// requests; env.Client is Roster's identity, so the webhook lets it).
	team := &rosterv1.OrgTeam{Spec: rosterv1.OrgTeamSpec{DisplayName: "Big", ManagedBy: rosterv1.ManagedBySCIM}}
	team.Name, team.Namespace = "g-big", o.org.Namespace
	if err := env.Client.Create(o.ctx, team); err != nil {
		t.Fatal(err)
	}
	var slices_ []*rosterv1.OrgTeamMemberSlice
	for i := 0; i < n; i += rosterv1.MaxMembersPerSlice {
		sl := &rosterv1.OrgTeamMemberSlice{Spec: rosterv1.OrgTeamMemberSliceSpec{Team: team.Name, Members: ids[i:min(n, i+rosterv1.MaxMembersPerSlice)]}}
		sl.Name, sl.Namespace = fmt.Sprintf("%s-%d", team.Name, i), o.org.Namespace
		sl.Labels = map[string]string{rosterv1.TeamLabel: team.Name, rosterv1.OrgLabel: o.org.Name}
		if err := env.Client.Create(o.ctx, sl); err != nil {
			t.Fatal(err)
		}
		slices_ = append(slices_, sl)
	}
	b := &rosterv1.TeamRoleBinding{Spec: rosterv1.TeamRoleBindingSpec{Team: rosterv1.TeamRef{ID: team.Name}, RoleRef: role}}
	b.Name, b.Namespace = "big", o.org.Namespace
	if err := env.Client.Create(o.ctx, b); err != nil {
		t.Fatal(err)
	}
	count := func(l []rbacv1.RoleBinding) int {
		c := 0
		for _, rb := range l {
			c += len(rb.Subjects)
		}
		return c
	}
	var before []rbacv1.RoleBinding
	eventually(t, 30*time.Second, func() (bool, string) {
		before = rendered(t, b)
		return len(before) == 3 && count(before) == n, fmt.Sprintf("%d RoleBindings with %d subjects", len(before), count(before))
	})
	for _, rb := range before {
		if len(rb.Subjects) > rosterv1.MaxSubjectsPerBinding {
			t.Errorf("%s has %d subjects", rb.Name, len(rb.Subjects))
		}
	}
	// Remove one member.
	gone := "u1234@example.com"
	sl := slices_[0]
	if err := env.Client.Get(o.ctx, client.ObjectKeyFromObject(sl), sl); err != nil {
		t.Fatal(err)
	}
	sl.Spec.Members = slices.DeleteFunc(sl.Spec.Members, func(id string) bool { return id == naming.UserObjectName(gone) })
	if err := env.Client.Update(o.ctx, sl); err != nil {
		t.Fatal(err)
	}
	var after []rbacv1.RoleBinding
	eventually(t, 10*time.Second, func() (bool, string) {
		after = rendered(t, b)
		return count(after) == n-1, fmt.Sprintf("%d subjects, want %d", count(after), n-1)
	})
	version := map[string]string{}
	for _, rb := range before {
		version[rb.Name] = rb.ResourceVersion
	}
	var rewritten []string
	for _, rb := range after {
		if version[rb.Name] != rb.ResourceVersion {
			rewritten = append(rewritten, rb.Name)
		}
		if slices.ContainsFunc(rb.Subjects, func(s rbacv1.Subject) bool { return s.Name == gone }) {
			t.Errorf("%s still names %s", rb.Name, gone)
		}
	}
	if len(after) != 3 || len(rewritten) != 1 {
		t.Errorf("removing one member rewrote %v of %d RoleBindings, want exactly one", rewritten, len(after))
	}
}

// awaitEvent waits for a Warning event with the reason on obj.
func awaitEvent(t *testing.T, obj client.Object, reason string) {
	t.Helper()
	eventually(t, 10*time.Second, func() (bool, string) {
		var events corev1.EventList
		if err := env.Client.List(context.Background(), &events, client.InNamespace(obj.GetNamespace())); err != nil {
			return false, err.Error()
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Name == obj.GetName() && e.Reason == reason {
				return true, ""
			}
		}
		return false, fmt.Sprintf("no %s event on %s", reason, obj.GetName())
	})
}

// manualTeam creates a manual OrgTeam with the given members, as a namespace editor could.
func (o *org) manualTeam(name, displayName string, members ...string) {
	o.t.Helper()
	team := &rosterv1.OrgTeam{Spec: rosterv1.OrgTeamSpec{DisplayName: displayName, ManagedBy: rosterv1.ManagedByManual}}
	team.Name, team.Namespace = name, o.org.Namespace
	if err := env.Client.Create(o.ctx, team); err != nil {
		o.t.Fatal(err)
	}
	sl := &rosterv1.OrgTeamMemberSlice{Spec: rosterv1.OrgTeamMemberSliceSpec{Team: name, Members: members}}
	sl.Name, sl.Namespace = name+"-0", o.org.Namespace
	sl.Labels = map[string]string{rosterv1.TeamLabel: name, rosterv1.OrgLabel: o.org.Name}
	if err := env.Client.Create(o.ctx, sl); err != nil {
		o.t.Fatal(err)
	}
}

func (o *org) renameManual(name, displayName string) {
	o.t.Helper()
	var team rosterv1.OrgTeam
	if err := env.Client.Get(o.ctx, client.ObjectKey{Namespace: o.org.Namespace, Name: name}, &team); err != nil {
		o.t.Fatal(err)
	}
	base := team.DeepCopy()
	team.Spec.DisplayName = displayName
	if err := env.Client.Patch(o.ctx, &team, client.MergeFrom(base)); err != nil {
		o.t.Fatal(err)
	}
}

// TestManualTeamsGrantNothing: only teams the identity provider pushes grant access. A manual
// team that borrows the display name of a group not pushed yet renders nothing (its
// hand-picked members get no access); once the group is pushed, the SCIM team is bound and
// the manual duplicate neither adds its members nor takes the team's access away. A manual
// team bound by id says so.
func TestManualTeamsGrantNothing(t *testing.T) {
	role := podReader(t, "test-pod-reader")
	o := newOrg(t, &rosterv1.AccessSpec{Subjects: rosterv1.SubjectsUser, AllowedRoles: []rosterv1.RoleRef{role}})
	ada, mallory := o.createUser("ada@example.com"), o.createUser("mallory@example.com")
	o.manualTeam("g-manual-eng", "Eng", mallory)
	b := &rosterv1.TeamRoleBinding{Spec: rosterv1.TeamRoleBindingSpec{Team: rosterv1.TeamRef{DisplayName: "Eng"}, RoleRef: role}}
	b.Name, b.Namespace = "eng", o.org.Namespace
	if err := env.Client.Create(o.ctx, b); err != nil {
		t.Fatal(err)
	}
	ns := o.org.Namespace
	awaitReady(t, b, metav1.ConditionFalse, "TeamNotFound")
	if n := len(rendered(t, b)); n != 0 || canGetPods(t, who{user: "mallory@example.com"}, ns) {
		t.Fatalf("a manual team's member got access: %d rendered", n)
	}

	// The manual team steps aside (SCIM refuses a name a manual team holds), the group is
	// pushed, then the manual team takes the name again: manual teams hold no claim.
	o.renameManual("g-manual-eng", "Other")
	team := o.createGroup("Eng", ada)
	awaitAccess(t, who{user: "ada@example.com"}, ns, true)
	o.renameManual("g-manual-eng", "ENG")
	// A member added after the rename: once bob has access, the rename was seen too.
	bob := o.createUser("bob@example.com")
	o.patch("/Groups/"+team, map[string]any{"op": "add", "path": "members", "value": []map[string]any{{"value": bob}}})
	awaitAccess(t, who{user: "bob@example.com"}, ns, true)
	awaitReady(t, b, metav1.ConditionTrue, "Rendered")
	// The status follows the rendered objects (it is patched after them): wait for its count.
	eventually(t, 10*time.Second, func() (bool, string) {
		if err := env.Client.Get(o.ctx, client.ObjectKeyFromObject(b), b); err != nil {
			return false, err.Error()
		}
		return b.Status.Subjects == 2, fmt.Sprintf("status subjects %d, want 2 (ada and bob)", b.Status.Subjects)
	})
	if canGetPods(t, who{user: "mallory@example.com"}, ns) || b.Status.Subjects != 2 || !canGetPods(t, who{user: "ada@example.com"}, ns) {
		t.Errorf("with a manual duplicate of the name: subjects %d, mallory or ada wrong", b.Status.Subjects)
	}

	byID := &rosterv1.TeamRoleBinding{Spec: rosterv1.TeamRoleBindingSpec{Team: rosterv1.TeamRef{ID: "g-manual-eng"}, RoleRef: role}}
	byID.Name, byID.Namespace = "manual", o.org.Namespace
	if err := env.Client.Create(o.ctx, byID); err != nil {
		t.Fatal(err)
	}
	c := awaitReady(t, byID, metav1.ConditionFalse, "TeamNotSCIM")
	if !strings.Contains(c.Message, "manual team") || len(rendered(t, byID)) != 0 {
		t.Errorf("bound by id: %q, %d rendered", c.Message, len(rendered(t, byID)))
	}
	awaitEvent(t, byID, "TeamNotSCIM")
}

// TestReservedSubjects: a group renamed to one of Kubernetes' own groups (no groupPrefix) is
// never bound, and says why; a prefix starting with system: is refused by the API.
func TestReservedSubjects(t *testing.T) {
	role := podReader(t, "test-pod-reader")
	o := newOrg(t, &rosterv1.AccessSpec{AllowedRoles: []rosterv1.RoleRef{role}})
	team := o.createGroup("Eng")
	b := &rosterv1.TeamRoleBinding{Spec: rosterv1.TeamRoleBindingSpec{Team: rosterv1.TeamRef{ID: team}, RoleRef: role}}
	b.Name, b.Namespace = "eng", o.org.Namespace
	if err := env.Client.Create(o.ctx, b); err != nil {
		t.Fatal(err)
	}
	ns := o.org.Namespace
	awaitAccess(t, who{user: "x", groups: []string{"Eng"}}, ns, true)
	o.patch("/Groups/"+team, map[string]any{"op": "replace", "path": "displayName", "value": "system:authenticated"})
	c := awaitReady(t, b, metav1.ConditionFalse, "ReservedSubject")
	if !strings.Contains(c.Message, `"system:authenticated"`) || len(rendered(t, b)) != 0 {
		t.Errorf("renamed to system:authenticated: %q, %d rendered", c.Message, len(rendered(t, b)))
	}
	if canGetPods(t, who{user: "anyone", groups: []string{"system:authenticated"}}, ns) {
		t.Error("everyone authenticated may get pods")
	}
	awaitEvent(t, b, "ReservedSubject")

	for _, a := range []*rosterv1.AccessSpec{{GroupPrefix: "system:"}, {UserPrefix: "system:serviceaccount:"}} {
		var obj rosterv1.Organization
		if err := env.Client.Get(o.ctx, client.ObjectKey{Name: o.org.Name}, &obj); err != nil {
			t.Fatal(err)
		}
		base := obj.DeepCopy()
		obj.Spec.Access = a
		if err := env.Client.Patch(o.ctx, &obj, client.MergeFrom(base)); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "may not start with system:") {
			t.Errorf("spec.access %+v: %v", a, err)
		}
	}
}

// TestOrganizationDeleted: deleting an Organization takes its teams' access away at once, and
// deleting its TeamRoleBinding afterwards leaves another organization's binding of the same
// name alone.
func TestOrganizationDeleted(t *testing.T) {
	role := podReader(t, "test-pod-reader")
	a := newOrg(t, &rosterv1.AccessSpec{GroupPrefix: "a:", AllowedRoles: []rosterv1.RoleRef{role}})
	b := newOrg(t, &rosterv1.AccessSpec{GroupPrefix: "b:", AllowedRoles: []rosterv1.RoleRef{role}})
	bind := func(o *org) *rosterv1.TeamRoleBinding {
		o.createGroup("Eng")
		trb := &rosterv1.TeamRoleBinding{Spec: rosterv1.TeamRoleBindingSpec{Team: rosterv1.TeamRef{DisplayName: "Eng"}, RoleRef: role}}
		trb.Name, trb.Namespace = "eng", o.org.Namespace
		if err := env.Client.Create(o.ctx, trb); err != nil {
			t.Fatal(err)
		}
		return trb
	}
	ta, tb := bind(a), bind(b)
	engA, engB := who{user: "x", groups: []string{"a:Eng"}}, who{user: "y", groups: []string{"b:Eng"}}
	awaitAccess(t, engA, a.org.Namespace, true)
	awaitAccess(t, engB, b.org.Namespace, true)

	var orgA rosterv1.Organization
	orgA.Name = a.org.Name
	if err := env.Client.Delete(a.ctx, &orgA); err != nil {
		t.Fatal(err)
	}
	awaitAccess(t, engA, a.org.Namespace, false)
	awaitReady(t, ta, metav1.ConditionFalse, "OrganizationNotFound")
	if n := len(rendered(t, ta)); n != 0 {
		t.Errorf("%d RoleBindings of a deleted organization", n)
	}

	if err := env.Client.Delete(a.ctx, ta); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		err := env.Client.Get(a.ctx, client.ObjectKeyFromObject(ta), ta)
		return apierrors.IsNotFound(err), fmt.Sprintf("TeamRoleBinding still there: %v", err)
	})
	if n := len(rendered(t, tb)); n != 1 || !canGetPods(t, engB, b.org.Namespace) {
		t.Errorf("another organization's binding of the same name: %d rendered", n)
	}
}

// TestNameConflict: a RoleBinding made by hand under the name Roster would render (names are
// predictable) is neither taken over nor replaced; the binding says which object is in the
// way and renders everywhere else, and renders there once it is gone.
func TestNameConflict(t *testing.T) {
	role := podReader(t, "test-pod-reader")
	o := newOrg(t, &rosterv1.AccessSpec{GroupPrefix: "oidc:", AllowedRoles: []rosterv1.RoleRef{role}})
	o.createGroup("Eng")
	squatted := namespace(t, o.org.Name+"-squat", nil).Name
	theirs := &rbacv1.RoleBinding{
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "someone"}},
	}
	theirs.Name = access.BaseName(rosterv1.KindTeamRoleBinding, o.org.Namespace, "eng", role)
	theirs.Namespace = squatted
	if err := env.Client.Create(o.ctx, theirs); err != nil {
		t.Fatal(err)
	}
	b := &rosterv1.TeamRoleBinding{Spec: rosterv1.TeamRoleBindingSpec{Team: rosterv1.TeamRef{DisplayName: "Eng"}, RoleRef: role,
		Namespaces: &rosterv1.NamespaceSelection{Names: []string{squatted, o.org.Namespace}}}}
	b.Name, b.Namespace = "eng", o.org.Namespace
	if err := env.Client.Create(o.ctx, b); err != nil {
		t.Fatal(err)
	}
	eng := who{user: "x", groups: []string{"oidc:Eng"}}
	awaitAccess(t, eng, o.org.Namespace, true)
	c := awaitReady(t, b, metav1.ConditionFalse, "NameConflict")
	if want := "RoleBinding " + squatted + "/" + theirs.Name; !strings.Contains(c.Message, want) {
		t.Errorf("message %q does not name %s", c.Message, want)
	}
	awaitEvent(t, b, "NameConflict")
	var cur rbacv1.RoleBinding
	if err := env.Client.Get(o.ctx, client.ObjectKeyFromObject(theirs), &cur); err != nil {
		t.Fatal(err)
	}
	if cur.UID != theirs.UID || cur.ResourceVersion != theirs.ResourceVersion {
		t.Errorf("the hand-made RoleBinding was changed: %+v", cur)
	}
	if canGetPods(t, eng, squatted) {
		t.Error("the team got access through the hand-made RoleBinding's name")
	}

	if err := env.Client.Delete(o.ctx, &cur); err != nil {
		t.Fatal(err)
	}
	awaitAccess(t, eng, squatted, true)
	awaitReady(t, b, metav1.ConditionTrue, "Rendered")
}

// TestRevokeWhileUnsettled: while a membership change is open on the team (a large PUT in
// flight), nobody is added, but a user deactivated or taken out of the team's slices loses
// access at once; Ready and observedGeneration wait for the render after the change.
func TestRevokeWhileUnsettled(t *testing.T) {
	role := podReader(t, "test-pod-reader")
	o := newOrg(t, &rosterv1.AccessSpec{Subjects: rosterv1.SubjectsUser, AllowedRoles: []rosterv1.RoleRef{role}})
	ada, bob, cy := o.createUser("ada@example.com"), o.createUser("bob@example.com"), o.createUser("cy@example.com")
	team := o.createGroup("Eng", ada, bob, cy)
	b := &rosterv1.TeamRoleBinding{Spec: rosterv1.TeamRoleBindingSpec{Team: rosterv1.TeamRef{ID: team}, RoleRef: role}}
	b.Name, b.Namespace = "eng", o.org.Namespace
	if err := env.Client.Create(o.ctx, b); err != nil {
		t.Fatal(err)
	}
	ns := o.org.Namespace
	awaitAccess(t, who{user: "cy@example.com"}, ns, true)
	awaitReady(t, b, metav1.ConditionTrue, "Rendered")

	// An open change mark, as the SCIM server writes before a multi-slice change.
	var obj rosterv1.OrgTeam
	if err := env.Client.Get(o.ctx, client.ObjectKey{Namespace: ns, Name: team}, &obj); err != nil {
		t.Fatal(err)
	}
	base := obj.DeepCopy()
	if obj.Annotations == nil {
		obj.Annotations = map[string]string{}
	}
	obj.Annotations[membership.MarkPrefix+"test"] = "open " + time.Now().UTC().Format(time.RFC3339)
	if err := env.Client.Patch(o.ctx, &obj, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	bBase := b.DeepCopy()
	b.Spec.Namespaces = &rosterv1.NamespaceSelection{Names: []string{ns}} // a new generation
	if err := env.Client.Patch(o.ctx, b, client.MergeFrom(bBase)); err != nil {
		t.Fatal(err)
	}
	o.patch("/Users/"+cy, map[string]any{"op": "replace", "value": map[string]any{"active": false}})
	awaitAccess(t, who{user: "cy@example.com"}, ns, false)
	var slices_ rosterv1.OrgTeamMemberSliceList
	if err := env.Client.List(o.ctx, &slices_, client.InNamespace(ns), client.MatchingLabels{rosterv1.TeamLabel: team}); err != nil {
		t.Fatal(err)
	}
	for i := range slices_.Items {
		sl := &slices_.Items[i]
		if slices.Contains(sl.Spec.Members, bob) {
			sl.Spec.Members = slices.DeleteFunc(sl.Spec.Members, func(id string) bool { return id == bob })
			if err := env.Client.Update(o.ctx, sl); err != nil {
				t.Fatal(err)
			}
		}
	}
	awaitAccess(t, who{user: "bob@example.com"}, ns, false)
	if !canGetPods(t, who{user: "ada@example.com"}, ns) {
		t.Error("ada lost access while the change was open")
	}
	if err := env.Client.Get(o.ctx, client.ObjectKeyFromObject(b), b); err != nil {
		t.Fatal(err)
	}
	if b.Status.ObservedGeneration == b.Generation {
		t.Errorf("observedGeneration %d advanced while the team was not settled", b.Status.ObservedGeneration)
	}

	// The change completes: the render catches up.
	if err := env.Client.Get(o.ctx, client.ObjectKey{Namespace: ns, Name: team}, &obj); err != nil {
		t.Fatal(err)
	}
	base = obj.DeepCopy()
	delete(obj.Annotations, membership.MarkPrefix+"test")
	if err := env.Client.Patch(o.ctx, &obj, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		if err := env.Client.Get(o.ctx, client.ObjectKeyFromObject(b), b); err != nil {
			return false, err.Error()
		}
		return b.Status.ObservedGeneration == b.Generation && b.Status.Subjects == 1,
			fmt.Sprintf("observedGeneration %d of %d, %d subjects", b.Status.ObservedGeneration, b.Generation, b.Status.Subjects)
	})
}
