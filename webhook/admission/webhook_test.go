package admission_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/controllers"
	"github.com/rosterhq/roster/internal/controlplane"
	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/testutil/testenv"
)

var teamSeq atomic.Int64

// newTeam builds a team of org; the name is unique in the package.
func newTeam(org, displayName, managedBy string) *rosterv1.OrgTeam {
	t := &rosterv1.OrgTeam{Spec: rosterv1.OrgTeamSpec{DisplayName: displayName, ManagedBy: managedBy}}
	t.Name = fmt.Sprintf("g-%s-%d", strings.ToLower(displayName), teamSeq.Add(1))
	t.Namespace = org
	t.Labels = map[string]string{rosterv1.OrgLabel: org}
	return t
}

// scimTeam creates a SCIM-managed team with one member slice the way the SCIM server does:
// with the manager's own client, through the webhook.
func scimTeam(t *testing.T, org string, members ...string) (*rosterv1.OrgTeam, *rosterv1.OrgTeamMemberSlice) {
	t.Helper()
	ctx := context.Background()
	mc := roster(t).Manager.GetClient()
	team := newTeam(org, "Eng", rosterv1.ManagedBySCIM)
	if err := mc.Create(ctx, team); err != nil {
		t.Fatalf("Roster creating a SCIM team: %v", err)
	}
	sl := membership.NewSlice(team, members)
	if err := mc.Create(ctx, sl); err != nil {
		t.Fatalf("Roster creating a member slice: %v", err)
	}
	return team, sl
}

// expectDenied checks what a person at kubectl reads: which webhook refused, the field, and
// that the identity provider is where to make the change.
func expectDenied(t *testing.T, err error, webhook, field string, more ...string) {
	t.Helper()
	if !apierrors.IsForbidden(err) {
		t.Fatalf("want 403 Forbidden from the webhook, got %v", err)
	}
	msg := err.Error()
	for _, want := range append([]string{
		fmt.Sprintf("admission webhook %q denied the request", webhook),
		field + ": Forbidden: ",
		"the identity provider of organization",
	}, more...) {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
}

const (
	userWebhook  = "vorguser.scim.roster.dev"
	teamWebhook  = "vorgteam.scim.roster.dev"
	sliceWebhook = "vorgteammemberslice.scim.roster.dev"
)

// TestRosterWritesPass: the SCIM server creates, changes and deletes users over HTTP, and
// Roster's own client writes SCIM-managed teams, their slices and their status — all through
// the webhook, which knows Roster's identity from a SelfSubjectReview.
func TestRosterWritesPass(t *testing.T) {
	org, c := newOrg(t)
	resp := c.Do(t, http.MethodPost, "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@example.com","name":{"givenName":"Ada","familyName":"Lovelace"},"active":true}`).Expect(t, http.StatusCreated)
	id := resp.String("id")
	c.Do(t, http.MethodPatch, "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`).Expect(t, http.StatusOK)
	c.Do(t, http.MethodPut, "/Users/"+id, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@example.com","displayName":"Ada L.","active":true}`).Expect(t, http.StatusOK)
	c.Do(t, http.MethodDelete, "/Users/"+id, nil).Expect(t, http.StatusNoContent)

	ctx := context.Background()
	mc := roster(t).Manager.GetClient()
	team, sl := scimTeam(t, org.Name, "u-1", "u-2")
	sl.Spec.Members = append(sl.Spec.Members, "u-3")
	if err := mc.Update(ctx, sl); err != nil {
		t.Fatalf("Roster changing members: %v", err)
	}
	team.Spec.DisplayName = "Engineering"
	if err := mc.Update(ctx, team); err != nil {
		t.Fatalf("Roster renaming a SCIM team: %v", err)
	}
	team.Status.MemberCount = 3
	if err := mc.Status().Update(ctx, team); err != nil {
		t.Fatalf("Roster writing a SCIM team's status: %v", err)
	}
	if err := mc.DeleteAllOf(ctx, &rosterv1.OrgTeamMemberSlice{}, client.InNamespace(org.Name), client.MatchingLabels{rosterv1.TeamLabel: team.Name}); err != nil {
		t.Fatalf("Roster deleting a team's slices: %v", err)
	}
	if err := mc.Delete(ctx, team); err != nil {
		t.Fatalf("Roster deleting a SCIM team: %v", err)
	}

	// With an identity store, the SCIM server creates users and teams with the store
	// controllers' finalizer on (internal/directory), and the controllers remove it.
	u := &rosterv1.OrgUser{Spec: rosterv1.OrgUserSpec{UserName: "fin@example.com"}}
	u.Name, u.Namespace = naming.UserObjectName(u.Spec.UserName), org.Name
	u.Labels = map[string]string{rosterv1.OrgLabel: org.Name}
	u.Finalizers = []string{controllers.Finalizer}
	withFinalizer := newTeam(org.Name, "Fin", rosterv1.ManagedBySCIM)
	withFinalizer.Finalizers = []string{controllers.Finalizer}
	for _, obj := range []client.Object{u, withFinalizer} {
		if err := mc.Create(ctx, obj); err != nil {
			t.Fatalf("Roster creating %s with its finalizer: %v", obj.GetName(), err)
		}
		if err := mc.Delete(ctx, obj); err != nil {
			t.Fatalf("Roster deleting %s: %v", obj.GetName(), err)
		}
		// A conflict is another writer of the object (the delete's own update reaching a
		// cached read): read again and retry.
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := mc.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
				return err
			}
			// What the store controllers do once the rows are gone. (Any writer may remove
			// finalizers from an object being deleted: only the create above tests Roster.)
			obj.SetFinalizers(nil)
			return mc.Update(ctx, obj)
		})
		if client.IgnoreNotFound(err) != nil {
			t.Fatalf("Roster removing the finalizer of %s: %v", obj.GetName(), err)
		}
	}
}

// TestOthersCannotWriteWhatSCIMOwns: a cluster-admin and an RBAC-allowed user are refused
// every create, update and delete of OrgUsers, SCIM-managed teams and their member slices,
// and nothing changes.
func TestOthersCannotWriteWhatSCIMOwns(t *testing.T) {
	for who, other := range others(t) {
		t.Run(who, func(t *testing.T) {
			ctx := context.Background()
			org, c := newOrg(t)
			id := c.Do(t, http.MethodPost, "/Users", `{"userName":"grace@example.com"}`).Expect(t, http.StatusCreated).String("id")
			team, sl := scimTeam(t, org.Name, "u-1")

			// OrgUsers.
			u := &rosterv1.OrgUser{Spec: rosterv1.OrgUserSpec{UserName: "mallory@example.com"}}
			u.Name, u.Namespace, u.Labels = "u-mallory", org.Name, map[string]string{rosterv1.OrgLabel: org.Name}
			expectDenied(t, other.Create(ctx, u), userWebhook, "spec.userName", "assign the person to Roster's app there")
			var got rosterv1.OrgUser
			if err := other.Get(ctx, client.ObjectKey{Namespace: org.Name, Name: id}, &got); err != nil {
				t.Fatal(err)
			}
			got.Spec.DisplayName = "Someone Else"
			expectDenied(t, other.Update(ctx, &got), userWebhook, "spec.displayName", `user "grace@example.com" is provisioned by SCIM`)
			expectDenied(t, other.Patch(ctx, &got, client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"labels":{"team":"x"}}}`))), userWebhook, "metadata.labels[team]")
			expectDenied(t, other.Delete(ctx, &got), userWebhook, "spec.userName", "unassign or deactivate the user there")
			expectDenied(t, other.DeleteAllOf(ctx, &rosterv1.OrgUser{}, client.InNamespace(org.Name)), userWebhook, "spec.userName")

			// A SCIM-managed team.
			expectDenied(t, other.Create(ctx, newTeam(org.Name, "Shadow", rosterv1.ManagedBySCIM)), teamWebhook, "spec.managedBy", "create the team with managedBy: manual")
			renamed := team.DeepCopy()
			renamed.Spec.DisplayName = "Renamed"
			expectDenied(t, other.Update(ctx, renamed), teamWebhook, "spec.displayName", `team "Eng" is provisioned by SCIM`, "(Okta: Push Groups")
			expectDenied(t, other.Delete(ctx, team), teamWebhook, "spec.managedBy", "delete or unlink the pushed group there")

			// Its members.
			more := sl.DeepCopy()
			more.Spec.Members = append(more.Spec.Members, "u-mallory")
			expectDenied(t, other.Update(ctx, more), sliceWebhook, "spec.members",
				fmt.Sprintf(`the members of team "Eng" are provisioned by SCIM from the identity provider of organization %q; change them there (Okta: Push Groups`, org.Name))
			expectDenied(t, other.Create(ctx, membership.NewSlice(team, []string{"u-mallory"})), sliceWebhook, "spec.members")
			expectDenied(t, other.Delete(ctx, sl), sliceWebhook, "spec.team")
			expectDenied(t, other.DeleteAllOf(ctx, &rosterv1.OrgTeamMemberSlice{}, client.InNamespace(org.Name)), sliceWebhook, "spec.team")

			// Nothing changed.
			var after rosterv1.OrgTeamMemberSlice
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(sl), &after); err != nil || strings.Join(after.Spec.Members, ",") != "u-1" {
				t.Errorf("slice after the denials: %v %v", after.Spec.Members, err)
			}
			var users rosterv1.OrgUserList
			if err := env.Client.List(ctx, &users, client.InNamespace(org.Name)); err != nil || len(users.Items) != 1 || users.Items[0].Spec.DisplayName != "" {
				t.Errorf("users after the denials: %+v %v", users.Items, err)
			}
		})
	}
}

// TestManualTeamsFollowRBAC: a team created by hand, and its members, stay editable by
// anyone RBAC allows.
func TestManualTeamsFollowRBAC(t *testing.T) {
	for who, other := range others(t) {
		t.Run(who, func(t *testing.T) {
			ctx := context.Background()
			org, _ := newOrg(t)
			team := newTeam(org.Name, "Oncall", rosterv1.ManagedByManual)
			if err := other.Create(ctx, team); err != nil {
				t.Fatalf("creating a manual team: %v", err)
			}
			sl := membership.NewSlice(team, []string{"u-1"})
			if err := other.Create(ctx, sl); err != nil {
				t.Fatalf("creating a manual team's slice right after the team: %v", err)
			}
			sl.Spec.Members = append(sl.Spec.Members, "u-2")
			if err := other.Update(ctx, sl); err != nil {
				t.Fatalf("changing a manual team's members: %v", err)
			}
			team.Spec.DisplayName = "On-call"
			if err := other.Update(ctx, team); err != nil {
				t.Fatalf("renaming a manual team: %v", err)
			}
			if err := other.Delete(ctx, sl); err != nil {
				t.Fatalf("deleting a manual team's slice: %v", err)
			}
			if err := other.Delete(ctx, team); err != nil {
				t.Fatalf("deleting a manual team: %v", err)
			}

			// A slice naming a team that does not exist is refused (it would pre-seed the
			// members of a team pushed later under that name), and says what to do.
			orphan := &rosterv1.OrgTeamMemberSlice{Spec: rosterv1.OrgTeamMemberSliceSpec{Team: "g-not-yet", Members: []string{"u-1"}}}
			orphan.Name, orphan.Namespace = "g-not-yet-1", org.Name
			if err := other.Create(ctx, orphan); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "create the team first") {
				t.Errorf("slice of a missing team: %v", err)
			}
		})
	}
}

// TestKubernetesCleanupPasses: deleting an organization's namespace must not hang on the
// webhook. envtest runs no kube-controller-manager, so its namespace controller and garbage
// collector are played by users of their names doing what they do.
func TestKubernetesCleanupPasses(t *testing.T) {
	ctx := context.Background()
	org, c := newOrg(t)
	c.Do(t, http.MethodPost, "/Users", `{"userName":"linus@example.com"}`).Expect(t, http.StatusCreated)
	team, sl := scimTeam(t, org.Name, "u-1")
	cfg := func(name string) client.Client {
		t.Helper()
		au, err := env.Environment.AddUser(envtest.User{Name: name, Groups: []string{"system:masters"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		cl, err := newClient(au.Config())
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	gc := cfg("system:serviceaccount:kube-system:generic-garbage-collector")
	nsController := cfg("system:serviceaccount:kube-system:namespace-controller")

	// The garbage collector orphans a slice (ownerReferences only) but cannot change members.
	orphaned := sl.DeepCopy()
	orphaned.OwnerReferences = nil
	if err := gc.Update(ctx, orphaned); err != nil {
		t.Fatalf("garbage collector orphaning a slice: %v", err)
	}
	orphaned.Spec.Members = nil
	expectDenied(t, gc.Update(ctx, orphaned), sliceWebhook, "spec.members")

	// The namespace controller empties a deleted namespace, with delete-collection requests.
	for _, obj := range []client.Object{&rosterv1.OrgTeamMemberSlice{}, &rosterv1.OrgTeam{}, &rosterv1.OrgUser{}} {
		if err := nsController.DeleteAllOf(ctx, obj, client.InNamespace(org.Name)); err != nil {
			t.Fatalf("namespace controller deleting %T: %v", obj, err)
		}
	}
	var teams rosterv1.OrgTeamList
	if err := env.Client.List(ctx, &teams, client.InNamespace(org.Name)); err != nil || len(teams.Items) != 0 {
		t.Errorf("teams left: %v %v (%s)", len(teams.Items), err, team.Name)
	}
}

// TestUnstickingADeletion: when Roster deleted an object but its finalizer cannot be
// removed by Roster (the identity store is gone for good), an admin may remove finalizers —
// and nothing else — from the terminating object.
func TestUnstickingADeletion(t *testing.T) {
	ctx := context.Background()
	org, _ := newOrg(t)
	mc := roster(t).Manager.GetClient()
	team := newTeam(org.Name, "Legacy", rosterv1.ManagedBySCIM)
	team.Finalizers = []string{"test.roster.dev/stuck"}
	if err := mc.Create(ctx, team); err != nil {
		t.Fatal(err)
	}
	admin := others(t)["cluster-admin"]
	var live rosterv1.OrgTeam
	if err := admin.Get(ctx, client.ObjectKeyFromObject(team), &live); err != nil {
		t.Fatal(err)
	}
	live.Finalizers = nil
	expectDenied(t, admin.Update(ctx, &live), teamWebhook, "metadata.finalizers")

	if err := mc.Delete(ctx, team); err != nil {
		t.Fatal(err)
	}
	if err := admin.Get(ctx, client.ObjectKeyFromObject(team), &live); err != nil || live.DeletionTimestamp == nil {
		t.Fatalf("team not terminating: %v", err)
	}
	live.Finalizers = nil
	if err := admin.Update(ctx, &live); err != nil {
		t.Fatalf("removing the finalizer of a terminating team: %v", err)
	}
	eventually(t, func() bool {
		return apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKeyFromObject(team), &live))
	})
}

// TestKubectl: what a person with cluster-admin sees from kubectl delete and kubectl edit
// of a SCIM-managed team.
func TestKubectl(t *testing.T) {
	assets, err := controlplane.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	kubectl := filepath.Join(assets, "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		t.Skipf("no kubectl next to the control plane: %v", err)
	}
	others(t)
	au, err := env.Environment.AddUser(envtest.User{Name: "carol-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := au.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	org, _ := newOrg(t)
	team, _ := scimTeam(t, org.Name, "u-1")
	run := func(env []string, args ...string) string {
		cmd := exec.Command(kubectl, append([]string{"--kubeconfig", kubeconfig, "-n", org.Name}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("kubectl %v succeeded:\n%s", args, out)
		}
		return string(out)
	}
	want := fmt.Sprintf(`admission webhook "vorgteam.scim.roster.dev" denied the request: orgteams.scim.roster.dev %q is forbidden: `, team.Name)
	out := run(nil, "delete", "orgteam", team.Name)
	if !strings.Contains(out, "Error from server (Forbidden): "+want+"spec.managedBy: Forbidden: team \"Eng\" is provisioned by SCIM") {
		t.Errorf("kubectl delete:\n%s", out)
	}
	out = run([]string{"KUBE_EDITOR=sed -i s/Eng$/Hacked/"}, "edit", "orgteam", team.Name)
	if !strings.Contains(out, want+"spec.displayName: Forbidden: team \"Eng\" is provisioned by SCIM") {
		t.Errorf("kubectl edit:\n%s", out)
	}
	var live rosterv1.OrgTeam
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(team), &live); err != nil || live.Spec.DisplayName != "Eng" || live.DeletionTimestamp != nil {
		t.Errorf("team after kubectl: %+v %v", live.Spec, err)
	}
}

// TestDenialsLogWhoAsked: a denial is logged at the default level with the requesting
// user and groups, the operation and the object, and the reason — never the object's
// contents.
func TestDenialsLogWhoAsked(t *testing.T) {
	ctx := context.Background()
	org, _ := newOrg(t)
	_, sl := scimTeam(t, org.Name, "u-1")
	more := sl.DeepCopy()
	more.Spec.Members = append(more.Spec.Members, "u-smuggled-member")
	expectDenied(t, others(t)["cluster-admin"].Update(ctx, more), sliceWebhook, "spec.members")

	lines := webhookLogs.Find("denied", map[string]string{
		"user": "alice-admin", "operation": "UPDATE", "kind": "OrgTeamMemberSlice", "namespace": org.Name, "name": sl.Name,
	})
	if len(lines) != 1 {
		t.Fatalf("want one denial line naming alice-admin and the slice at Info, found %d in:\n%s", len(lines), webhookLogs)
	}
	line := lines[0]
	if groups := testenv.FieldString(line["groups"]); !strings.Contains(groups, `"system:masters"`) {
		t.Errorf("denial line groups = %s, want the user's groups", groups)
	}
	if reason := testenv.FieldString(line["reason"]); !strings.Contains(reason, "the identity provider of organization") {
		t.Errorf("denial line reason = %q", reason)
	}
	if strings.Contains(webhookLogs.String(), "u-smuggled-member") {
		t.Error("the denied object's contents were logged")
	}
}
