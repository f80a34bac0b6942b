package scim_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
	"github.com/rosterhq/roster/internal/testutil/testenv"
)

// The tests of this file send the requests of one identity-provider sequence back to back to
// two managers (two informer caches, one apiserver), as two replicas behind a Service with no
// session affinity receive them, with no waiting in between. Only the final assertions wait,
// for the caches to show what the apiserver already holds.

// rounds is how many times each sequence runs: a lost write showed up in a few rounds of 30
// before the directory decided on fresh state.
const rounds = 30

var (
	secondOnce   sync.Once
	secondRoster *testenv.Roster
)

// newReplicaPair returns clients of one fresh organization on the package's two shared
// managers, once both accept its token.
func newReplicaPair(t *testing.T) (a, b *scimtest.Client, org testenv.Org) {
	t.Helper()
	a, org = newOrgClient(t)
	secondOnce.Do(func() { secondRoster = env.StartSharedRoster(t, nil) })
	b = scimtest.New(secondRoster.BaseURL, org.Name, org.Token)
	waitForToken(t, b)
	return a, b, org
}

const okta = `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`

func setActive(t *testing.T, c *scimtest.Client, id string, active bool, headers ...string) *scimtest.Response {
	t.Helper()
	return c.Do(t, http.MethodPatch, "/Users/"+id, fmt.Sprintf(`{%s,"Operations":[{"op":"replace","value":{"active":%t}}]}`, okta, active), headers...)
}

// bookkeep writes to a user what the controllers write (a finalizer, an annotation, status),
// none of which SCIM shows.
func bookkeep(t *testing.T, namespace, id string) {
	t.Helper()
	ctx := context.Background()
	var u rosterv1.OrgUser
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: id}, &u); err != nil {
		t.Fatal(err)
	}
	u.Finalizers = append(u.Finalizers, "test.roster.dev/bookkeeping")
	u.Annotations["test.roster.dev/noted"] = "yes"
	if err := env.Client.Update(ctx, &u); err != nil {
		t.Fatal(err)
	}
	u.Status.ObservedGeneration = u.Generation
	if err := env.Client.Status().Update(ctx, &u); err != nil {
		t.Fatal(err)
	}
}

func addMember(t *testing.T, c *scimtest.Client, group, user string, headers ...string) *scimtest.Response {
	t.Helper()
	return patchGroup(t, c, group, `[{"op":"add","path":"members","value":`+memberList(user)+`}]`, headers...)
}

func removeMember(t *testing.T, c *scimtest.Client, group, user string) *scimtest.Response {
	t.Helper()
	return patchGroup(t, c, group, fmt.Sprintf(`[{"op":"remove","path":"members[value eq \"%s\"]"}]`, user))
}

// converge waits until GET of the group on every replica lists exactly the apiserver's
// members, and returns them.
func converge(t *testing.T, namespace, group string, replicas ...*scimtest.Client) []string {
	t.Helper()
	want := env.LiveMembers(t, namespace, group)
	for i, c := range replicas {
		eventually(t, 5*time.Second, func() bool { return slices.Equal(members(t, c, group), want) },
			"replica %d does not show the apiserver's members %v of %s", i, want, group)
	}
	return want
}

// Sequence 1: a reactivation on B, then a deactivation on A, whose cache may still say
// "inactive" and would call the deactivation a no-op. The user must end inactive.
func TestDeactivateAfterReactivateOnOtherReplica(t *testing.T) {
	a, b, org := newReplicaPair(t)
	for i := range rounds {
		id := a.Do(t, http.MethodPost, "/Users", oktaUser(fmt.Sprintf("flip%d@example.com", i))).Expect(t, http.StatusCreated).String("id")
		setActive(t, a, id, false).Expect(t, http.StatusOK)
		setActive(t, b, id, true).Expect(t, http.StatusOK)
		if r := setActive(t, a, id, false).Expect(t, http.StatusOK); r.Get("active") != false {
			t.Fatalf("round %d: deactivation answered %s", i, r.Raw)
		}
		var u rosterv1.OrgUser
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: org.Namespace, Name: id}, &u); err != nil {
			t.Fatal(err)
		}
		if u.Spec.IsActive() {
			t.Fatalf("round %d: the deactivation was lost: the user is active in the apiserver", i)
		}
		for j, c := range []*scimtest.Client{a, b} {
			eventually(t, 5*time.Second, func() bool { return c.Do(t, http.MethodGet, "/Users/"+id, nil).Get("active") == false },
				"round %d: replica %d still shows the user active", i, j)
		}
	}
}

// Sequence 2: add X on A, then remove X on B (B's cache may not have seen X); likewise a
// replace of all members right after an add on the other replica.
func TestMemberRemovalAfterAddOnOtherReplica(t *testing.T) {
	a, b, org := newReplicaPair(t)
	g := a.Do(t, http.MethodPost, "/Groups", `{"displayName":"Flappers"}`).Expect(t, http.StatusCreated).String("id")
	keep := a.Do(t, http.MethodPost, "/Users", oktaUser("keep@example.com")).Expect(t, http.StatusCreated).String("id")
	for i := range rounds {
		x := a.Do(t, http.MethodPost, "/Users", oktaUser(fmt.Sprintf("x%d@example.com", i))).Expect(t, http.StatusCreated).String("id")
		addMember(t, a, g, x).Expect(t, http.StatusNoContent)
		removeMember(t, b, g, x).Expect(t, http.StatusNoContent)
		if live := env.LiveMembers(t, org.Namespace, g); slices.Contains(live, x) {
			t.Fatalf("round %d: the removal on the other replica was lost: %v", i, live)
		}
		addMember(t, b, g, x).Expect(t, http.StatusNoContent)
		patchGroup(t, a, g, `[{"op":"replace","path":"members","value":`+memberList(keep)+`}]`).Expect(t, http.StatusNoContent)
		if live := env.LiveMembers(t, org.Namespace, g); !slices.Equal(live, []string{keep}) {
			t.Fatalf("round %d: replace planned from a stale member set left %v, want only %s", i, live, keep)
		}
		patchGroup(t, b, g, `[{"op":"remove","path":"members"}]`).Expect(t, http.StatusNoContent)
	}
	if got := converge(t, org.Namespace, g, a, b); len(got) != 0 {
		t.Fatalf("members left: %v", got)
	}
}

// Sequence 3: POST a user, then add it to a group — on the other replica, whose cache does
// not know the user yet, and on the same replica, right after the 201.
func TestCreateThenAddToGroup(t *testing.T) {
	a, b, org := newReplicaPair(t)
	for _, second := range []struct {
		name string
		c    *scimtest.Client
	}{{"other replica", b}, {"same replica", a}} {
		g := a.Do(t, http.MethodPost, "/Groups", `{"displayName":"New hires `+second.name+`"}`).Expect(t, http.StatusCreated).String("id")
		var want []string
		for i := range rounds {
			id := a.Do(t, http.MethodPost, "/Users", oktaUser(fmt.Sprintf("new-%d-%s@example.com", i, second.name[:4]))).Expect(t, http.StatusCreated).String("id")
			addMember(t, second.c, g, id).Expect(t, http.StatusNoContent)
			want = append(want, id)
			var team rosterv1.OrgTeam
			if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: org.Namespace, Name: g}, &team); err != nil {
				t.Fatal(err)
			}
			if team.Status.UnresolvedMemberCount != 0 {
				t.Fatalf("%s, round %d: a user created a moment ago was called unresolved: %v", second.name, i, team.Status.UnresolvedMembers)
			}
		}
		if got := converge(t, org.Namespace, g, a, b); !slices.Equal(got, sorted(want...)) {
			t.Fatalf("%s: members %v, want %v", second.name, got, sorted(want...))
		}
	}
}

// Sequence 3 for reads: a filter by userName sent right after the 201 on the same replica
// (Okta's import does this) finds the user, and likewise a new group by displayName.
func TestFilterRightAfterCreate(t *testing.T) {
	a, _, _ := newReplicaPair(t)
	for i := range rounds {
		name := fmt.Sprintf("seen%d@example.com", i)
		a.Do(t, http.MethodPost, "/Users", oktaUser(name)).Expect(t, http.StatusCreated)
		if r := a.Do(t, http.MethodGet, "/Users?filter="+urlq(`userName eq "`+name+`"`), nil).Expect(t, http.StatusOK); r.Get("totalResults") != float64(1) {
			t.Fatalf("round %d: filter right after the 201 missed the user: %s", i, r.Raw)
		}
		gname := fmt.Sprintf("Seen %d", i)
		a.Do(t, http.MethodPost, "/Groups", fmt.Sprintf(`{"displayName":%q}`, gname)).Expect(t, http.StatusCreated)
		if r := a.Do(t, http.MethodGet, "/Groups?excludedAttributes=members&filter="+urlq(`displayName eq "`+gname+`"`), nil).Expect(t, http.StatusOK); r.Get("totalResults") != float64(1) {
			t.Fatalf("round %d: filter right after the 201 missed the group: %s", i, r.Raw)
		}
	}
}

// Sequence 4: a user is deleted on A while B adds it to a group; then the same userName is
// created again (Entra does this). The new user must not inherit the old membership.
func TestRecreatedUserInheritsNoMembership(t *testing.T) {
	a, b, org := newReplicaPair(t)
	g := a.Do(t, http.MethodPost, "/Groups", `{"displayName":"Leavers"}`).Expect(t, http.StatusCreated).String("id")
	for i := range rounds {
		name := fmt.Sprintf("leaver%d@example.com", i)
		id := a.Do(t, http.MethodPost, "/Users", oktaUser(name)).Expect(t, http.StatusCreated).String("id")
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			if r := a.Do(t, http.MethodDelete, "/Users/"+id, nil); r.Status != http.StatusNoContent {
				t.Errorf("round %d: delete: %d %s", i, r.Status, r.Raw)
			}
		}()
		go func() {
			defer wg.Done()
			if r := addMember(t, b, g, id); r.Status != http.StatusNoContent {
				t.Errorf("round %d: add during delete: %d %s", i, r.Status, r.Raw)
			}
		}()
		wg.Wait()
		recreated := ""
		eventually(t, 10*time.Second, func() bool {
			r := []*scimtest.Client{a, b}[i%2].Do(t, http.MethodPost, "/Users", oktaUser(name))
			if r.Status == http.StatusServiceUnavailable {
				return false // the previous user is still being deleted: Entra retries
			}
			recreated = r.Expect(t, http.StatusCreated).String("id")
			return true
		}, "round %d: re-create never succeeded", i)
		if recreated != id {
			t.Fatalf("ids derive from userNames: %s != %s", recreated, id)
		}
		if live := env.LiveMembers(t, org.Namespace, g); slices.Contains(live, id) {
			t.Fatalf("round %d: the re-created user inherited the deleted user's membership", i)
		}
	}
	if got := converge(t, org.Namespace, g, a, b); len(got) != 0 {
		t.Fatalf("members left: %v", got)
	}
}

// Sequence 5: one ETag sent with If-Match to both replicas for a member change, at once:
// exactly one wins, the other is 412.
func TestIfMatchMemberChangeHasOneWinner(t *testing.T) {
	a, b, org := newReplicaPair(t)
	g := a.Do(t, http.MethodPost, "/Groups", `{"displayName":"Contended"}`).Expect(t, http.StatusCreated).String("id")
	// The ETag is read on the replica that made the team's last change (read-your-writes):
	// the other one's cache may not show that change yet (a read on another replica trails
	// by a watch round trip), and an ETag from before it would fail both writers.
	last := a
	for i := range rounds {
		u1 := a.Do(t, http.MethodPost, "/Users", oktaUser(fmt.Sprintf("c1-%d@example.com", i))).Expect(t, http.StatusCreated).String("id")
		u2 := a.Do(t, http.MethodPost, "/Users", oktaUser(fmt.Sprintf("c2-%d@example.com", i))).Expect(t, http.StatusCreated).String("id")
		etag := last.Do(t, http.MethodGet, "/Groups/"+g+"?excludedAttributes=members", nil).Expect(t, http.StatusOK).Header.Get("ETag")
		codes := make([]int, 2)
		var wg sync.WaitGroup
		for j, c := range []*scimtest.Client{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[j] = addMember(t, c, g, []string{u1, u2}[j], "If-Match: "+etag).Status
			}()
		}
		wg.Wait()
		if j := slices.Index(codes, http.StatusNoContent); j >= 0 {
			last = []*scimtest.Client{a, b}[j]
		}
		slices.Sort(codes)
		if !slices.Equal(codes, []int{http.StatusNoContent, http.StatusPreconditionFailed}) {
			// Say enough to tell a lost precondition from a member that was not resolved.
			var team rosterv1.OrgTeam
			_ = env.Client.Get(context.Background(), client.ObjectKey{Namespace: org.Namespace, Name: g}, &team)
			t.Fatalf("round %d: one version, two writers: %v, want one 204 and one 412; members now %v (u1 %s, u2 %s), unresolved %v, annotations %v",
				i, codes, env.LiveMembers(t, org.Namespace, g), u1, u2, team.Status.UnresolvedMembers, team.Annotations)
		}
		if live := env.LiveMembers(t, org.Namespace, g); slices.Contains(live, u1) == slices.Contains(live, u2) {
			t.Fatalf("round %d: exactly one of the two members must be in, got %v", i, live)
		}
	}
}

// Sequence 6: a PATCH that renames and changes members, whose member write fails, changes
// nothing; a DELETE of a user with a stale If-Match removes it from no team.
func TestFailedWritesChangeNothing(t *testing.T) {
	a, b, org := newReplicaPair(t)
	taken := a.Do(t, http.MethodPost, "/Groups", `{"displayName":"Taken"}`).Expect(t, http.StatusCreated).String("id")
	g := a.Do(t, http.MethodPost, "/Groups", `{"displayName":"Original"}`).Expect(t, http.StatusCreated).String("id")
	u := a.Do(t, http.MethodPost, "/Users", oktaUser("stays@example.com")).Expect(t, http.StatusCreated).String("id")
	addMember(t, a, g, u).Expect(t, http.StatusNoContent)
	for i := range rounds {
		// A member change whose team was deleted on the other replica a moment ago: the rename
		// in the same PATCH must not happen either (there is nothing left to rename, and no
		// claim of the new name may stay behind).
		doomed := a.Do(t, http.MethodPost, "/Groups", fmt.Sprintf(`{"displayName":"Doomed %d"}`, i)).Expect(t, http.StatusCreated).String("id")
		b.Do(t, http.MethodDelete, "/Groups/"+doomed, nil).Expect(t, http.StatusNoContent)
		patchGroup(t, a, doomed, fmt.Sprintf(`[{"op":"replace","value":{"id":%q,"displayName":"Renamed %d"}},{"op":"add","path":"members","value":%s}]`, doomed, i, memberList(u))).
			ExpectError(t, http.StatusNotFound, "")
		a.Do(t, http.MethodPost, "/Groups", fmt.Sprintf(`{"displayName":"Renamed %d"}`, i)).Expect(t, http.StatusCreated)

		// A rename to a taken name together with a member change: 409, and the members stay.
		patchGroup(t, b, g, fmt.Sprintf(`[{"op":"replace","value":{"id":%q,"displayName":"Taken"}},{"op":"remove","path":"members"}]`, g)).
			ExpectError(t, http.StatusConflict, "uniqueness")
		if live := env.LiveMembers(t, org.Namespace, g); !slices.Equal(live, []string{u}) {
			t.Fatalf("round %d: a refused rename still changed the members: %v", i, live)
		}

		// DELETE with a stale If-Match: 412 and the user is still in its team.
		stale := a.Do(t, http.MethodGet, "/Users/"+u, nil).Expect(t, http.StatusOK).Header.Get("ETag")
		b.Do(t, http.MethodPatch, "/Users/"+u, fmt.Sprintf(`{%s,"Operations":[{"op":"replace","path":"displayName","value":"Stays %d"}]}`, okta, i)).Expect(t, http.StatusOK)
		a.Do(t, http.MethodDelete, "/Users/"+u, nil, "If-Match: "+stale).ExpectError(t, http.StatusPreconditionFailed, "")
		if live := env.LiveMembers(t, org.Namespace, g); !slices.Equal(live, []string{u}) {
			t.Fatalf("round %d: a refused DELETE removed the user from its team: %v", i, live)
		}
	}
	if r := a.Do(t, http.MethodGet, "/Groups/"+taken, nil).Expect(t, http.StatusOK); r.String("displayName") != "Taken" {
		t.Fatalf("the holder of the name changed: %s", r.Raw)
	}
	converge(t, org.Namespace, g, a, b)

	// A rename together with a member write that the apiserver refuses (a real write, denied
	// by a policy on the real apiserver, as an outage would fail it): 503, the name stays, and
	// the new name is not left reserved.
	poison := a.Do(t, http.MethodPost, "/Users", oktaUser("poison@example.com")).Expect(t, http.StatusCreated).String("id")
	lift := env.DenySliceWrites(t, org.Namespace, poison)
	for i := range 5 {
		r := patchGroup(t, []*scimtest.Client{a, b}[i%2], g, fmt.Sprintf(`[{"op":"replace","value":{"id":%q,"displayName":"Moved %d"}},{"op":"add","path":"members","value":%s}]`, g, i, memberList(poison)))
		r.ExpectError(t, http.StatusServiceUnavailable, "")
		var team rosterv1.OrgTeam
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: org.Namespace, Name: g}, &team); err != nil {
			t.Fatal(err)
		}
		if team.Spec.DisplayName != "Original" {
			t.Fatalf("the member write failed, yet the rename stayed: %q", team.Spec.DisplayName)
		}
		if live := env.LiveMembers(t, org.Namespace, g); !slices.Equal(live, []string{u}) {
			t.Fatalf("a failed change left members %v", live)
		}
		b.Do(t, http.MethodPost, "/Groups", fmt.Sprintf(`{"displayName":"Moved %d"}`, i)).Expect(t, http.StatusCreated)
	}
	lift()
}

// Groups' ETags move only with what SCIM shows, the same on both replicas; a member change
// under If-Match that changes nothing keeps the version.
func TestGroupETagsAreStableAcrossReplicas(t *testing.T) {
	a, b, org := newReplicaPair(t)
	u := a.Do(t, http.MethodPost, "/Users", oktaUser("tagged@example.com")).Expect(t, http.StatusCreated).String("id")
	for i := range 10 {
		r := a.Do(t, http.MethodPost, "/Groups", fmt.Sprintf(`{"displayName":"Tagged %d","members":%s}`, i, memberList(u))).Expect(t, http.StatusCreated)
		g, v1 := r.String("id"), r.Header.Get("ETag")
		// What the controllers write (a finalizer, status) and a display-name claim's bookkeeping
		// move the resourceVersion, never the version.
		var team rosterv1.OrgTeam
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: org.Namespace, Name: g}, &team); err != nil {
			t.Fatal(err)
		}
		team.Finalizers = append(team.Finalizers, "test.roster.dev/bookkeeping")
		if err := env.Client.Update(context.Background(), &team); err != nil {
			t.Fatal(err)
		}
		team.Status.MemberCount = 1
		if err := env.Client.Status().Update(context.Background(), &team); err != nil {
			t.Fatal(err)
		}
		for j, c := range []*scimtest.Client{a, b} {
			eventually(t, 5*time.Second, func() bool {
				g := c.Do(t, http.MethodGet, "/Groups/"+g+"?excludedAttributes=members", nil)
				return g.Status == http.StatusOK && g.Header.Get("ETag") == v1
			}, "round %d: replica %d shows another version than the POST's %s", i, j, v1)
		}
		// Adding a member that is already in: nothing changes, the version stays.
		same := addMember(t, b, g, u, "If-Match: "+v1).Expect(t, http.StatusNoContent)
		if same.Header.Get("ETag") != v1 {
			t.Fatalf("round %d: a no-op member change moved the version: %s -> %s", i, v1, same.Header.Get("ETag"))
		}
		patchGroup(t, a, g, `[{"op":"remove","path":"members"}]`, "If-Match: "+v1).Expect(t, http.StatusNoContent)
		addMember(t, b, g, u, "If-Match: "+v1).ExpectError(t, http.StatusPreconditionFailed, "")
		if live := env.LiveMembers(t, org.Namespace, g); len(live) != 0 {
			t.Fatalf("round %d: a refused change wrote: %v", i, live)
		}
	}
}

// ETags move only with what SCIM shows: the version from a POST still matches after the
// controllers' bookkeeping, on both replicas, and after a change on one replica the old
// version is refused on the other.
func TestETagsAreStableAcrossReplicas(t *testing.T) {
	a, b, org := newReplicaPair(t)
	for i := range rounds {
		r := a.Do(t, http.MethodPost, "/Users", oktaUser(fmt.Sprintf("tag%d@example.com", i))).Expect(t, http.StatusCreated)
		id, v1 := r.String("id"), r.Header.Get("ETag")
		bookkeep(t, org.Namespace, id)
		for j, c := range []*scimtest.Client{a, b} {
			eventually(t, 5*time.Second, func() bool {
				g := c.Do(t, http.MethodGet, "/Users/"+id, nil)
				return g.Status == http.StatusOK && g.Header.Get("ETag") == v1
			}, "round %d: replica %d shows another version than the POST's %s", i, j, v1)
		}
		r2 := setActive(t, b, id, false).Expect(t, http.StatusOK)
		v2 := r2.Header.Get("ETag")
		if v2 == v1 || r2.String("meta.version") != v2 {
			t.Fatalf("round %d: a change must move the version: %s -> %s (meta %s)", i, v1, v2, r2.String("meta.version"))
		}
		setActive(t, a, id, true, "If-Match: "+v1).ExpectError(t, http.StatusPreconditionFailed, "")
		setActive(t, a, id, true, "If-Match: "+v2).Expect(t, http.StatusOK)
	}
}

// Sequence: DELETE then POST of the same userName answers 503 + Retry-After while the old
// user is terminating, and 201 once it is gone — never 409, which Okta and Entra take as
// permanent.
func TestRecreateRightAfterDeleteIsNever409(t *testing.T) {
	a, b, _ := newReplicaPair(t)
	for i := range rounds {
		name := fmt.Sprintf("again%d@example.com", i)
		id := a.Do(t, http.MethodPost, "/Users", oktaUser(name)).Expect(t, http.StatusCreated).String("id")
		a.Do(t, http.MethodDelete, "/Users/"+id, nil).Expect(t, http.StatusNoContent)
		c := []*scimtest.Client{a, b}[i%2]
		eventually(t, 10*time.Second, func() bool {
			r := c.Do(t, http.MethodPost, "/Users", oktaUser(name))
			switch r.Status {
			case http.StatusCreated:
				return true
			case http.StatusServiceUnavailable:
				if r.Header.Get("Retry-After") == "" {
					t.Fatalf("round %d: 503 without Retry-After", i)
				}
				return false
			}
			t.Fatalf("round %d: POST right after DELETE answered %d %s", i, r.Status, r.Raw)
			return false
		}, "round %d: re-create never succeeded", i)
	}
}

// Unresolved members are reported for the last change: a change on one replica with an
// unknown id records it, and the next change on the other replica (whose cache may not show
// that status yet) clears it.
func TestUnresolvedClearedAcrossReplicas(t *testing.T) {
	a, b, org := newReplicaPair(t)
	g := a.Do(t, http.MethodPost, "/Groups", `{"displayName":"Reported"}`).Expect(t, http.StatusCreated).String("id")
	u := a.Do(t, http.MethodPost, "/Users", oktaUser("known@example.com")).Expect(t, http.StatusCreated).String("id")
	status := func() rosterv1.OrgTeamStatus {
		var team rosterv1.OrgTeam
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: org.Namespace, Name: g}, &team); err != nil {
			t.Fatal(err)
		}
		return team.Status
	}
	for i := range 10 {
		ghost := fmt.Sprintf("u-%032x", i+1) // the shape of an id, but no user
		addMember(t, b, g, ghost).Expect(t, http.StatusNoContent)
		addMember(t, a, g, u).Expect(t, http.StatusNoContent)
		if st := status(); st.UnresolvedMemberCount != 0 || len(st.UnresolvedMembers) != 0 {
			t.Fatalf("round %d: a change without unresolved ids left the other replica's report: %+v", i, st)
		}
	}
	ghost := fmt.Sprintf("u-%032x", 99)
	addMember(t, b, g, ghost).Expect(t, http.StatusNoContent)
	if st := status(); st.UnresolvedMemberCount != 1 || len(st.UnresolvedMembers) != 1 || st.UnresolvedMembers[0] != ghost {
		t.Fatalf("unresolved id not recorded: %+v", st)
	}
}
