package shard_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/controllers"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/shard"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
	"github.com/rosterhq/roster/internal/testutil/testenv"
)

// TestShardAccessOutsideItsNamespacesAndAcrossARelabel: a shard renders a TeamRoleBinding
// into a namespace outside its organizations' and revokes it there when the binding moves
// on (its RoleBinding cache covers every namespace). Then the organization is relabelled to
// another shard while the old shard cannot restart yet (the test holds its turn): the old
// shard's leader, whose cache drops the organization, must not take it for gone. The
// rendered RoleBinding is never deleted (same UID, no delete seen by a watch) and the binding
// never reports OrganizationNotFound, while the new shard takes over and renders a change.
func TestShardAccessOutsideItsNamespacesAndAcrossARelabel(t *testing.T) {
	ctx := context.Background()
	role := rosterv1.RoleRef{Kind: "ClusterRole", Name: "view"}
	o := env.NewOrgWith(t, "acc", func(org *rosterv1.Organization) {
		labelled("t4a")(org)
		org.Spec.Access = &rosterv1.AccessSpec{Subjects: rosterv1.SubjectsGroup, GroupPrefix: "oidc:", AllowedRoles: []rosterv1.RoleRef{role}}
	})
	apps := make([]string, 3)
	for i := range apps {
		apps[i] = env.NewOrg(t, fmt.Sprintf("%s-app%d", o.Name, i)).Namespace // namespaces of no shard's organization
	}
	a := startShard(t, selector("t4a"), "acc-a-0", "")
	b := startShard(t, selector("t4b"), "acc-b-0", "")
	s := scimtest.New(a.baseURL, o.Name, o.Token)
	ada := s.Do(t, http.MethodPost, "/Users", `{"userName":"ada@example.com"}`).Expect(t, http.StatusCreated).String("id")
	team := s.Do(t, http.MethodPost, "/Groups", fmt.Sprintf(`{"displayName":"Eng","members":[{"value":%q}]}`, ada)).Expect(t, http.StatusCreated).String("id")

	trb := &rosterv1.TeamRoleBinding{Spec: rosterv1.TeamRoleBindingSpec{Team: rosterv1.TeamRef{ID: team}, RoleRef: role,
		Namespaces: &rosterv1.NamespaceSelection{Names: []string{apps[0]}}}}
	trb.Name, trb.Namespace = "eng-view", o.Namespace
	if err := env.Client.Create(ctx, trb); err != nil {
		t.Fatal(err)
	}
	renderedIn := func(ns string) []rbacv1.RoleBinding {
		t.Helper()
		var list rbacv1.RoleBindingList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{rosterv1.BindingUIDLabel: string(trb.UID)}); err != nil {
			t.Fatal(err)
		}
		return list.Items
	}
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		return len(renderedIn(apps[0])) == 1, "the TeamRoleBinding was not rendered into " + apps[0]
	})
	setNamespaces(t, trb, apps[1])
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		return len(renderedIn(apps[0])) == 0 && len(renderedIn(apps[1])) == 1,
			fmt.Sprintf("after the binding moved to %s: %d RoleBindings left in %s (want 0), %d in %s (want 1)",
				apps[1], len(renderedIn(apps[0])), apps[0], len(renderedIn(apps[1])), apps[1])
	})
	kept := renderedIn(apps[1])[0]

	// Watch the rendered RoleBinding and the binding's status from here on.
	wc, err := client.NewWithWatch(env.Config, client.Options{Scheme: app.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	rbWatch, err := wc.Watch(ctx, &rbacv1.RoleBindingList{}, client.InNamespace(apps[1]),
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: kept.ResourceVersion}})
	if err != nil {
		t.Fatal(err)
	}
	defer rbWatch.Stop()
	trbWatch, err := wc.Watch(ctx, &rosterv1.TeamRoleBindingList{}, client.InNamespace(o.Namespace))
	if err != nil {
		t.Fatal(err)
	}
	defer trbWatch.Stop()

	// Shard a cannot restart while the test holds its turn: it keeps its old set.
	holder := &shard.Watcher{API: env.Client, Namespace: "default", Name: leaseName(t, a), Identity: "test", TurnDuration: 10 * time.Minute}
	if ok, err := holder.TryTurn(ctx); !ok || err != nil {
		t.Fatalf("holding shard a's turn: %v %v", ok, err)
	}
	t.Cleanup(func() { _ = holder.EndTurn(context.Background()) })
	relabel(t, o.Name, "t4b")
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		var org rosterv1.Organization
		err := a.Manager.GetCache().Get(ctx, client.ObjectKey{Name: o.Name}, &org)
		return err != nil, "shard a's cache still holds the relabelled organization"
	})
	testenv.Eventually(t, 60*time.Second, func() (bool, string) {
		select {
		case err := <-b.done:
			b.done <- err
			return true, ""
		default:
			return false, "shard b did not restart for its new organization"
		}
	})
	b = b.restart(t)
	// A change only the new shard renders, while the old shard's leader still runs.
	setNamespaces(t, trb, apps[1], apps[2])
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		var got rosterv1.TeamRoleBinding
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(trb), &got); err != nil {
			return false, err.Error()
		}
		return got.Status.ObservedGeneration == got.Generation && len(renderedIn(apps[2])) == 1,
			fmt.Sprintf("shard b did not render the change: observed %d of %d, %d RoleBindings in %s", got.Status.ObservedGeneration, got.Generation, len(renderedIn(apps[2])), apps[2])
	})
	if now := renderedIn(apps[1]); len(now) != 1 || now[0].UID != kept.UID {
		t.Errorf("the RoleBinding in %s was replaced or removed across the relabel: %d now, want UID %s", apps[1], len(now), kept.UID)
	}
	// The watches must reach the state just asserted: every event up to it is then checked,
	// and a watch that ended or never got there fails the test instead of passing unseen.
	var final rosterv1.TeamRoleBinding
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(trb), &final); err != nil {
		t.Fatal(err)
	}
	drainUntil(t, trbWatch, "the TeamRoleBinding watch", func(ev watch.Event) bool {
		got, ok := ev.Object.(*rosterv1.TeamRoleBinding)
		if !ok || got.Name != trb.Name {
			return false
		}
		for _, c := range got.Status.Conditions {
			if c.Reason == "OrganizationNotFound" {
				t.Errorf("the binding reported %s (resourceVersion %s): %s", c.Reason, got.ResourceVersion, c.Message)
			}
		}
		return got.ResourceVersion == final.ResourceVersion
	})
	// A RoleBinding of the test's own in the watched namespace: its event comes after every
	// earlier one there (one watch delivers a namespace's events in order).
	marker := &rbacv1.RoleBinding{RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}}
	marker.Name, marker.Namespace = "watch-marker", apps[1]
	if err := env.Client.Create(ctx, marker); err != nil {
		t.Fatal(err)
	}
	drainUntil(t, rbWatch, "the RoleBinding watch", func(ev watch.Event) bool {
		rb, ok := ev.Object.(*rbacv1.RoleBinding)
		if !ok {
			return false
		}
		if ev.Type == watch.Deleted && rb.Labels[rosterv1.BindingUIDLabel] == string(trb.UID) {
			t.Errorf("rendered RoleBinding %s/%s deleted across the relabel", rb.Namespace, rb.Name)
		}
		return rb.UID == marker.UID
	})
}

// drainUntil hands w's events to check until check reports the one the caller waits for; it
// fails the test when the watch ends, reports an error, or does not get there in time.
func drainUntil(t *testing.T, w watch.Interface, what string, check func(watch.Event) bool) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		for {
			select {
			case ev, open := <-w.ResultChan():
				switch {
				case !open:
					t.Fatalf("%s ended before the awaited event", what)
				case ev.Type == watch.Error:
					t.Fatalf("%s failed: %v", what, apierrors.FromObject(ev.Object))
				case check(ev):
					return true, ""
				}
			default:
				return false, what + " has not delivered the awaited event"
			}
		}
	})
}

// setNamespaces points the binding at namespaces.
func setNamespaces(t *testing.T, trb *rosterv1.TeamRoleBinding, namespaces ...string) {
	t.Helper()
	for {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(trb), trb); err != nil {
			t.Fatal(err)
		}
		trb.Spec.Namespaces = &rosterv1.NamespaceSelection{Names: namespaces}
		err := env.Client.Update(context.Background(), trb)
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) {
			t.Fatal(err)
		}
	}
}

// relabel puts the organization called name in shard value.
func relabel(t *testing.T, name, value string) {
	t.Helper()
	for {
		var org rosterv1.Organization
		if err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, &org); err != nil {
			t.Fatal(err)
		}
		org.Labels[shardLabel] = value
		err := env.Client.Update(context.Background(), &org)
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) {
			t.Fatal(err)
		}
	}
}

// TestDeletedOrgsClusterBindingIsFinished: a ClusterTeamRoleBinding keeps the finalizer its
// organization's shard put on it; the organization is then deleted, so no shard serves it.
// Deleting the binding must not hang in Terminating: a shard that never served the
// organization finishes it once the apiserver confirms the organization is gone.
func TestDeletedOrgsClusterBindingIsFinished(t *testing.T) {
	ctx := context.Background()
	startShard(t, selector("t6a"), "del-a-0", "")
	ctrb := &rosterv1.ClusterTeamRoleBinding{Spec: rosterv1.ClusterTeamRoleBindingSpec{Organization: "gone-org-t6",
		Team: rosterv1.TeamRef{DisplayName: "eng"}, RoleRef: rosterv1.RoleRef{Kind: "ClusterRole", Name: "view"}}}
	ctrb.Name, ctrb.Finalizers = "gone-org-t6-view", []string{controllers.BindingFinalizer}
	if err := env.Client.Create(ctx, ctrb); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(ctx, ctrb); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(ctrb), ctrb)
		return apierrors.IsNotFound(err), fmt.Sprintf("the ClusterTeamRoleBinding of a deleted organization is still there (%v): finalizers %v", err, ctrb.Finalizers)
	})
}
