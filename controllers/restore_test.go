package controllers_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/identitystore"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
)

// namespacedKinds are the Roster kinds a backup of an organization's namespace holds, in the
// order a restore creates them (Velero restores custom resources in name order; any order
// works, since Roster links them by name).
var namespacedKinds = []string{"OrgUser", "OrgTeam", "OrgTeamNameClaim", "OrgTeamMemberSlice"}

// backup lists the Roster objects of the org's namespace as a backup tool does and keeps
// what a restore writes back: no resourceVersion, uid, creationTimestamp, generation,
// managedFields or status (the apiserver sets the first five on create and ignores status
// there). Velero also strips ownerReferences: the owners come back with new uids, and the
// garbage collector would delete a dependent whose owner uid no longer exists.
func backup(t *testing.T, f *fixture) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, kind := range namespacedKinds {
		list := listKind(t, f, kind)
		for i := range list.Items {
			o := &list.Items[i]
			for _, field := range []string{"resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "ownerReferences"} {
				unstructured.RemoveNestedField(o.Object, "metadata", field)
			}
			unstructured.RemoveNestedField(o.Object, "status")
			out = append(out, o.DeepCopy())
		}
	}
	return out
}

// listKind lists the objects of one Roster kind in the org's namespace.
func listKind(t *testing.T, f *fixture, kind string) *unstructured.UnstructuredList {
	t.Helper()
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(rosterv1.GroupVersion.WithKind(kind + "List"))
	if err := env.Client.List(f.ctx, list, client.InNamespace(f.org.Namespace)); err != nil {
		t.Fatal(err)
	}
	return list
}

// loseObjects makes the org's Roster objects vanish as a lost cluster does: with Roster
// stopped, finalizers removed and the objects deleted, so the identity store keeps its rows.
func loseObjects(t *testing.T, f *fixture) {
	t.Helper()
	for _, kind := range namespacedKinds {
		for i, list := 0, listKind(t, f, kind); i < len(list.Items); i++ {
			o := &list.Items[i]
			if len(o.GetFinalizers()) > 0 {
				o.SetFinalizers(nil)
				if err := env.Client.Update(f.ctx, o); err != nil {
					t.Fatalf("removing the finalizers of %s %s: %v", kind, o.GetName(), err)
				}
			}
			if err := env.Client.Delete(f.ctx, o); client.IgnoreNotFound(err) != nil {
				t.Fatalf("deleting %s %s: %v", kind, o.GetName(), err)
			}
		}
		if left := listKind(t, f, kind).Items; len(left) > 0 {
			t.Fatalf("%d %s left after the loss", len(left), kind)
		}
	}
}

// TestRestoreOfAnOlderBackupConvergesAfterAFullPush: a backup taken before the identity
// provider deactivated a user and took a member out of a team brings both grants back when
// restored — in the apiserver, and through the controllers in the identity store. The full
// push from the identity provider that docs/operations.md requires after every restore (Okta:
// each user PUT with its profile, each group's members replaced) takes them away again.
func TestRestoreOfAnOlderBackupConvergesAfterAFullPush(t *testing.T) {
	storeURL := sqliteURL(t)
	f := newFixture(t, storeURL, nil)
	ada := f.createUser("ada@example.com", nil)
	bob := f.createUser("bob@example.com", nil)
	eng := f.createGroup("Eng", ada, bob)
	f.awaitMembers(10*time.Second, eng, ada, bob)
	f.awaitUserRow(bob, func(u identitystore.User) string { return map[bool]string{true: "", false: "inactive"}[u.Active] })

	snapshot := backup(t, f)
	if len(snapshot) < 5 { // two users, the team, its name claim, a member slice
		t.Fatalf("backup holds %d objects, want at least 5", len(snapshot))
	}

	// The revocations, after the backup.
	deactivate := map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "replace", "value": map[string]any{"active": false}}},
	}
	f.scim.Do(t, http.MethodPatch, "/Users/"+bob, deactivate).Expect(t, http.StatusOK)
	f.patchMembers(eng, nil, []string{bob})
	f.awaitMembers(10*time.Second, eng, ada)
	f.awaitUserRow(bob, func(u identitystore.User) string { return map[bool]string{true: "still active", false: ""}[u.Active] })

	// The cluster is lost; the identity store is not.
	f.roster.Stop()
	loseObjects(t, f)

	// The restore creates the objects back. Velero, as here, creates them with new uids and
	// without status or ownerReferences; an etcd snapshot restore brings back the whole
	// cluster as it was, uids, resourceVersions and status included — for Roster the same
	// older state either way.
	for _, o := range snapshot {
		if err := env.Client.Create(f.ctx, o.DeepCopy()); err != nil {
			t.Fatalf("restoring %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	r := env.StartRoster(t, func(c *app.Config) { c.IdentityStore = storeURL })
	f.roster, f.scim = r, scimtest.New(r.BaseURL, f.org.Name, f.org.Token)
	f.eventually(10*time.Second, func() (bool, string) {
		s := f.scim.Do(t, http.MethodGet, "/ServiceProviderConfig", nil).Status
		return s == http.StatusOK, fmt.Sprintf("token not accepted yet: %d", s)
	})

	// The old grants are back, and Roster writes them to the store.
	if got := f.sliceMembers(eng); !slices.Equal(got, sortedIDs(ada, bob)) {
		t.Fatalf("members after the restore = %v, want the backup's %v", got, sortedIDs(ada, bob))
	}
	f.awaitMembers(15*time.Second, eng, ada, bob)
	f.awaitUserRow(bob, func(u identitystore.User) string { return map[bool]string{true: "", false: "still inactive"}[u.Active] })

	// The full push: every user and group with the identity provider's current state.
	for _, u := range []struct {
		id, userName string
		active       bool
	}{{ada, "ada@example.com", true}, {bob, "bob@example.com", false}} {
		body := map[string]any{
			"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
			"id":       u.id,
			"userName": u.userName,
			"name":     map[string]any{"givenName": "Given " + u.userName, "familyName": "Family"},
			"emails":   []map[string]any{{"value": u.userName, "type": "work", "primary": true}},
			"active":   u.active,
		}
		f.scim.Do(t, http.MethodPut, "/Users/"+u.id, body).Expect(t, http.StatusOK)
	}
	push := map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{
			{"op": "replace", "value": map[string]any{"id": eng, "displayName": "Eng"}},
			{"op": "replace", "path": "members", "value": []map[string]any{{"value": ada, "display": "ada@example.com"}}},
		},
	}
	f.scim.Do(t, http.MethodPatch, "/Groups/"+eng, push).Expect(t, http.StatusNoContent)

	// Converged: in the apiserver at once, in the store once the controllers caught up.
	if got := f.sliceMembers(eng); !slices.Equal(got, []string{ada}) {
		t.Errorf("members after the full push = %v, want [%s]", got, ada)
	}
	u := f.user(bob)
	if err := env.Client.Get(f.ctx, key(u), u); err != nil || u.Spec.IsActive() {
		t.Errorf("bob after the full push: active %v (%v), want inactive", u.Spec.IsActive(), err)
	}
	f.awaitMembers(15*time.Second, eng, ada)
	f.awaitUserRow(bob, func(u identitystore.User) string { return map[bool]string{true: "still active", false: ""}[u.Active] })
}

func sortedIDs(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}
