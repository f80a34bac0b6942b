package scim_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
)

const patchOp = `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`

func patchGroup(t *testing.T, c *scimtest.Client, id string, ops string, headers ...string) *scimtest.Response {
	t.Helper()
	return c.Do(t, http.MethodPatch, "/Groups/"+id, `{`+patchOp+`,"Operations":`+ops+`}`, headers...)
}

// members returns the sorted member ids of a group, read over SCIM.
func members(t *testing.T, c *scimtest.Client, id string) []string {
	t.Helper()
	r := c.Do(t, http.MethodGet, "/Groups/"+id, nil).Expect(t, http.StatusOK)
	var out []string
	ms, _ := r.Get("members").([]any)
	for _, m := range ms {
		out = append(out, m.(map[string]any)["value"].(string))
	}
	sort.Strings(out)
	return out
}

func sorted(ids ...string) []string {
	out := append([]string(nil), ids...)
	sort.Strings(out)
	return out
}

func expectMembers(t *testing.T, c *scimtest.Client, id string, want ...string) {
	t.Helper()
	// Reads come from this replica's cache; writes wait for it, so no polling is needed.
	if got := members(t, c, id); fmt.Sprint(got) != fmt.Sprint(sorted(want...)) {
		t.Fatalf("members %v, want %v", got, sorted(want...))
	}
}

func createUsers(t *testing.T, c *scimtest.Client, n int, prefix string) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = c.Do(t, http.MethodPost, "/Users", fmt.Sprintf(`{"userName":"%s%d@example.com"}`, prefix, i)).Expect(t, http.StatusCreated).String("id")
	}
	return ids
}

func memberList(ids ...string) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf(`{"value":%q,"display":"user %d"}`, id, i)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// TestOktaGroupPush follows Okta's group push: create, rename (sent with every membership
// update, id inside the value), add, remove, replace, PUT, delete.
func TestOktaGroupPush(t *testing.T) {
	c, org := newOrgClient(t)
	u := createUsers(t, c, 4, "okta")
	r := c.Do(t, http.MethodPost, "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Eng","members":[]}`).Expect(t, http.StatusCreated)
	id := r.String("id")
	if r.String("displayName") != "Eng" || r.String("meta.resourceType") != "Group" || r.Header.Get("Location") != c.Base+"/Groups/"+id {
		t.Fatalf("create: %s", r.Raw)
	}
	// Rename with the id in the value, plus adds, in one PATCH: 204.
	patchGroup(t, c, id, `[{"op":"replace","value":{"id":"`+id+`","displayName":"Engineering"}},{"op":"add","path":"members","value":`+memberList(u[0], u[1], u[2])+`}]`).Expect(t, http.StatusNoContent)
	expectMembers(t, c, id, u[0], u[1], u[2])
	if g := c.Do(t, http.MethodGet, "/Groups/"+id, nil); g.String("displayName") != "Engineering" {
		t.Fatalf("rename: %s", g.Raw)
	}
	// The same rename again (unchanged) with a removal.
	patchGroup(t, c, id, `[{"op":"replace","value":{"id":"`+id+`","displayName":"Engineering"}},{"op":"remove","path":"members[value eq \"`+u[1]+`\"]"}]`).Expect(t, http.StatusNoContent)
	expectMembers(t, c, id, u[0], u[2])
	// Replace all members.
	patchGroup(t, c, id, `[{"op":"replace","path":"members","value":`+memberList(u[3])+`}]`).Expect(t, http.StatusNoContent)
	expectMembers(t, c, id, u[3])
	// A PUT of the whole group (custom apps).
	r = c.Do(t, http.MethodPut, "/Groups/"+id, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"`+id+`","displayName":"Eng Team","members":`+memberList(u[0], u[3])+`}`).Expect(t, http.StatusOK)
	if r.String("displayName") != "Eng Team" || len(r.Get("members").([]any)) != 2 {
		t.Fatalf("PUT: %s", r.Raw)
	}
	expectMembers(t, c, id, u[0], u[3])
	// The printer columns have what kubectl shows.
	var team rosterv1.OrgTeam
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: org.Namespace, Name: id}, &team); err != nil {
		t.Fatal(err)
	}
	if team.Spec.ManagedBy != rosterv1.ManagedBySCIM || team.Spec.DisplayName != "Eng Team" {
		t.Fatalf("team %+v", team.Spec)
	}
	// Delete: 204, then 404; the slices and the name go with it.
	c.Do(t, http.MethodDelete, "/Groups/"+id, nil).Expect(t, http.StatusNoContent)
	c.Do(t, http.MethodGet, "/Groups/"+id, nil).ExpectError(t, http.StatusNotFound, "")
	var sl rosterv1.OrgTeamMemberSliceList
	if err := env.Client.List(context.Background(), &sl, client.InNamespace(org.Namespace), client.MatchingLabels{rosterv1.TeamLabel: id}); err != nil || len(sl.Items) != 0 {
		t.Fatalf("slices left after delete: %d %v", len(sl.Items), err)
	}
	c.Do(t, http.MethodPost, "/Groups", `{"displayName":"eng team"}`).Expect(t, http.StatusCreated)
}

// TestEntraGroupShapes follows Entra: create with its extra schema URN and externalId, lookup
// by displayName with excludedAttributes=members, capitalised ops, remove with a value list.
func TestEntraGroupShapes(t *testing.T) {
	c, _ := newOrgClient(t)
	c.UserAgent = "Azure AD SCIM Client"
	u := createUsers(t, c, 3, "entra")
	r := c.Do(t, http.MethodPost, "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"Sales"}`).Expect(t, http.StatusCreated)
	id := r.String("id")
	if r.String("externalId") != "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159" {
		t.Fatalf("externalId: %s", r.Raw)
	}
	patchGroup(t, c, id, `[{"op":"Add","path":"members","value":[{"$ref":null,"value":"`+u[0]+`"},{"$ref":null,"value":"`+u[1]+`"},{"$ref":null,"value":"`+u[2]+`"}]}]`).Expect(t, http.StatusNoContent)
	expectMembers(t, c, id, u...)
	// Remove with a value list removes exactly those — never the whole group.
	patchGroup(t, c, id, `[{"op":"Remove","path":"members","value":[{"value":"`+u[1]+`"}]}]`).Expect(t, http.StatusNoContent)
	expectMembers(t, c, id, u[0], u[2])
	patchGroup(t, c, id, `[{"op":"Remove","path":"members[value eq \"`+u[0]+`\"]"}]`).Expect(t, http.StatusNoContent)
	expectMembers(t, c, id, u[2])
	// A member value given as a bare string id is that member.
	patchGroup(t, c, id, `[{"op":"Add","path":"members","value":"`+u[1]+`"}]`).Expect(t, http.StatusNoContent)
	expectMembers(t, c, id, u[1], u[2])
	patchGroup(t, c, id, `[{"op":"Remove","path":"members","value":"`+u[1]+`"}]`).Expect(t, http.StatusNoContent)
	expectMembers(t, c, id, u[2])
	// Lookups without members.
	l := c.Do(t, http.MethodGet, "/Groups?excludedAttributes=members&filter="+urlq(`displayName eq "sales"`), nil).Expect(t, http.StatusOK)
	if l.Get("totalResults") != float64(1) || l.String("Resources.0.id") != id || l.Get("Resources.0.members") != nil {
		t.Fatalf("filter displayName, excludedAttributes=members: %s", l.Raw)
	}
	one := c.Do(t, http.MethodGet, "/Groups/"+id+"?excludedAttributes=members", nil).Expect(t, http.StatusOK)
	if one.Get("members") != nil || one.String("displayName") != "Sales" {
		t.Fatalf("excludedAttributes=members on GET one: %s", one.Raw)
	}
	for _, f := range []string{`externalId eq "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"`, `externalId eq 8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159`, `displayName eq Sales`} {
		l = c.Do(t, http.MethodGet, "/Groups?filter="+urlq(f), nil).Expect(t, http.StatusOK)
		if l.Get("totalResults") != float64(1) {
			t.Fatalf("filter %s: %s", f, l.Raw)
		}
	}
	// Removing the last member leaves no empty "members" in the response.
	patchGroup(t, c, id, `[{"op":"Remove","path":"members[value eq \"`+u[2]+`\"]"}]`).Expect(t, http.StatusNoContent)
	if g := c.Do(t, http.MethodGet, "/Groups/"+id, nil).Expect(t, http.StatusOK); g.Get("members") != nil || strings.Contains(string(g.Raw), "members") {
		t.Fatalf("a group without members: %s", g.Raw)
	}
	// Replace with attributes asked for: 200 with the resource.
	r = patchGroup(t, c, id, `[{"op":"Replace","path":"displayName","value":"Sales EMEA"}]`+"", "X-Ignored: 1")
	r.Expect(t, http.StatusNoContent)
	r = c.Do(t, http.MethodPatch, "/Groups/"+id+"?attributes=displayName", `{`+patchOp+`,"Operations":[{"op":"Replace","path":"externalId","value":"x2"}]}`).Expect(t, http.StatusOK)
	if r.String("displayName") != "Sales EMEA" || r.Get("members") != nil {
		t.Fatalf("PATCH with attributes: %s", r.Raw)
	}
	c.Do(t, http.MethodDelete, "/Groups/"+id, nil).Expect(t, http.StatusNoContent)
}

func TestGroupDisplayNameUnique(t *testing.T) {
	c, org := newOrgClient(t)
	a := c.Do(t, http.MethodPost, "/Groups", `{"displayName":"Ops"}`).Expect(t, http.StatusCreated).String("id")
	c.Do(t, http.MethodPost, "/Groups", `{"displayName":"OPS"}`).ExpectError(t, http.StatusConflict, "uniqueness")
	b := c.Do(t, http.MethodPost, "/Groups", `{"displayName":"Dev"}`).Expect(t, http.StatusCreated).String("id")
	// Renaming onto a taken name is refused and changes nothing.
	patchGroup(t, c, b, `[{"op":"replace","value":{"id":"`+b+`","displayName":"ops"}}]`).ExpectError(t, http.StatusConflict, "uniqueness")
	if g := c.Do(t, http.MethodGet, "/Groups/"+b, nil); g.String("displayName") != "Dev" {
		t.Fatalf("refused rename wrote: %s", g.Raw)
	}
	// A team made by hand holds its name too.
	manual := &rosterv1.OrgTeam{Spec: rosterv1.OrgTeamSpec{DisplayName: "On-Call", ManagedBy: rosterv1.ManagedByManual}}
	manual.Name, manual.Namespace = "on-call", org.Namespace
	if err := env.Client.Create(context.Background(), manual); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() bool {
		var seen rosterv1.OrgTeam
		return sharedRoster.Manager.GetClient().Get(context.Background(), client.ObjectKeyFromObject(manual), &seen) == nil
	}, "manual team not in the SCIM server's cache")
	c.Do(t, http.MethodPost, "/Groups", `{"displayName":"on-call"}`).ExpectError(t, http.StatusConflict, "uniqueness")
	// After a rename the old name is free again.
	patchGroup(t, c, a, `[{"op":"replace","path":"displayName","value":"Operations"}]`).Expect(t, http.StatusNoContent)
	c.Do(t, http.MethodPost, "/Groups", `{"displayName":"Ops"}`).Expect(t, http.StatusCreated)
}

// TestGroupCreateRaceAcrossReplicas: 20 identical group creates over two SCIM servers → one.
func TestGroupCreateRaceAcrossReplicas(t *testing.T) {
	c, other, org := newReplicaPair(t)
	clients := []*scimtest.Client{c, other}
	codes := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := clients[i%2].Do(t, http.MethodPost, "/Groups", `{"displayName":"Racers"}`)
			mu.Lock()
			codes[r.Status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[http.StatusCreated] != 1 || codes[http.StatusConflict] != 19 {
		t.Fatalf("want one 201 and nineteen 409, got %v", codes)
	}
	var teams rosterv1.OrgTeamList
	if err := env.Client.List(context.Background(), &teams, client.InNamespace(org.Namespace)); err != nil || len(teams.Items) != 1 {
		t.Fatalf("want one OrgTeam, got %d (%v)", len(teams.Items), err)
	}
}

func TestUnresolvedMembers(t *testing.T) {
	c, org := newOrgClient(t)
	u := createUsers(t, c, 1, "res")
	ghost := "u-0123456789abcdef0123456789abcdef"
	id := c.Do(t, http.MethodPost, "/Groups", `{"displayName":"Mixed","members":`+memberList(u[0], ghost, "not-even-an-id")+`}`).Expect(t, http.StatusCreated).String("id")
	expectMembers(t, c, id, u[0])
	var team rosterv1.OrgTeam
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: org.Namespace, Name: id}, &team); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(team.Status.UnresolvedMembers) != fmt.Sprint([]string{ghost, "not-even-an-id"}) || team.Status.UnresolvedMemberCount != 2 {
		t.Fatalf("unresolved status: %+v", team.Status)
	}
	patchGroup(t, c, id, `[{"op":"add","path":"members","value":`+memberList(ghost)+`}]`).Expect(t, http.StatusNoContent)
	expectMembers(t, c, id, u[0])
}

// TestBadGroupPatchWritesNothing: one bad operation among good ones fails the request, and
// nothing of it is applied.
func TestBadGroupPatchWritesNothing(t *testing.T) {
	c, _ := newOrgClient(t)
	u := createUsers(t, c, 2, "atomic")
	id := c.Do(t, http.MethodPost, "/Groups", `{"displayName":"Atomic","members":`+memberList(u[0])+`}`).Expect(t, http.StatusCreated).String("id")
	before := c.Do(t, http.MethodGet, "/Groups/"+id, nil).Expect(t, http.StatusOK)
	for _, ops := range []string{
		`[{"op":"add","path":"members","value":` + memberList(u[1]) + `},{"op":"explode","path":"displayName","value":"x"}]`,
		`[{"op":"replace","path":"displayName","value":"Renamed"},{"op":"add","path":"members","value":[{"display":"no value"}]}]`,
		`[{"op":"replace","path":"displayName","value":"Renamed"},{"op":"remove","path":"members[display sw \"x\"]"}]`,
		`[{"op":"add","path":"members","value":` + memberList(u[1]) + `},{"op":"replace","value":{"id":"g-00000000000000000000000000000000","displayName":"Other"}}]`,
	} {
		patchGroup(t, c, id, ops).ExpectError(t, http.StatusBadRequest, "")
	}
	c.Do(t, http.MethodPost, "/Groups", `{"displayName":"Half","members":[{"value":"`+u[0]+`"},{"display":"no value"}]}`).ExpectError(t, http.StatusBadRequest, "invalidValue")
	c.Do(t, http.MethodPost, "/Groups", `{"displayName":"Half","members":"everyone"}`).ExpectError(t, http.StatusBadRequest, "")
	c.Do(t, http.MethodPost, "/Groups", `{"members":[]}`).ExpectError(t, http.StatusBadRequest, "invalidValue")
	if l := c.Do(t, http.MethodGet, "/Groups?filter="+urlq(`displayName eq "Half"`), nil); l.Get("totalResults") != float64(0) {
		t.Fatalf("a refused POST created a group: %s", l.Raw)
	}
	after := c.Do(t, http.MethodGet, "/Groups/"+id, nil).Expect(t, http.StatusOK)
	if after.String("meta.version") != before.String("meta.version") || after.String("displayName") != "Atomic" {
		t.Fatalf("a rejected PATCH wrote: %s", after.Raw)
	}
	expectMembers(t, c, id, u[0])
}

func TestDeleteUserLeavesEveryTeam(t *testing.T) {
	c, _ := newOrgClient(t)
	u := createUsers(t, c, 2, "leaver")
	g1 := c.Do(t, http.MethodPost, "/Groups", `{"displayName":"G1","members":`+memberList(u...)+`}`).Expect(t, http.StatusCreated).String("id")
	g2 := c.Do(t, http.MethodPost, "/Groups", `{"displayName":"G2","members":`+memberList(u[0])+`}`).Expect(t, http.StatusCreated).String("id")
	c.Do(t, http.MethodDelete, "/Users/"+u[0], nil).Expect(t, http.StatusNoContent)
	// At once, on the replica that answered the DELETE: it read its own writes.
	if got := members(t, c, g1); fmt.Sprint(got) != fmt.Sprint([]string{u[1]}) {
		t.Fatalf("G1 members after the DELETE: %v, want only %s", got, u[1])
	}
	if got := members(t, c, g2); len(got) != 0 {
		t.Fatalf("G2 members after the DELETE: %v", got)
	}
}

func TestGroupETags(t *testing.T) {
	c, _ := newOrgClient(t)
	r := c.Do(t, http.MethodPost, "/Groups", `{"displayName":"Tagged"}`).Expect(t, http.StatusCreated)
	id, v1 := r.String("id"), r.Header.Get("ETag")
	if v1 == "" || v1 != r.String("meta.version") {
		t.Fatalf("ETag %q meta.version %q", v1, r.String("meta.version"))
	}
	c.Do(t, http.MethodGet, "/Groups/"+id, nil, "If-None-Match: "+v1).Expect(t, http.StatusNotModified)
	patchGroup(t, c, id, `[{"op":"replace","path":"displayName","value":"Tagged2"}]`, "If-Match: "+v1).Expect(t, http.StatusNoContent)
	patchGroup(t, c, id, `[{"op":"replace","path":"displayName","value":"Tagged3"}]`, "If-Match: "+v1).ExpectError(t, http.StatusPreconditionFailed, "")
	c.Do(t, http.MethodPut, "/Groups/"+id, `{"displayName":"Tagged4"}`, "If-Match: "+v1).ExpectError(t, http.StatusPreconditionFailed, "")
	c.Do(t, http.MethodDelete, "/Groups/"+id, nil, "If-Match: "+v1).ExpectError(t, http.StatusPreconditionFailed, "")
	if g := c.Do(t, http.MethodGet, "/Groups/"+id, nil); g.String("displayName") != "Tagged2" {
		t.Fatalf("stale If-Match wrote: %s", g.Raw)
	}

	// Members live outside the OrgTeam, yet a membership change is a new version too.
	u := createUsers(t, c, 1, "tagged")
	before := c.Do(t, http.MethodGet, "/Groups/"+id, nil).Expect(t, http.StatusOK)
	v2 := before.Header.Get("ETag")
	resp := patchGroup(t, c, id, `[{"op":"add","path":"members","value":`+memberList(u[0])+`}]`, "If-Match: "+v2).Expect(t, http.StatusNoContent)
	v3 := resp.Header.Get("ETag")
	if v3 == "" || v3 == v2 {
		t.Fatalf("ETag after a membership change: %q (was %q)", v3, v2)
	}
	after := c.Do(t, http.MethodGet, "/Groups/"+id, nil, "If-None-Match: "+v2).Expect(t, http.StatusOK)
	if after.Header.Get("ETag") != v3 || after.String("meta.version") != v3 || len(after.Get("members").([]any)) != 1 {
		t.Fatalf("a stale If-None-Match must get the new members and version %s: %s", v3, after.Raw)
	}
	t1, err1 := time.Parse(time.RFC3339Nano, before.String("meta.lastModified"))
	t2, err2 := time.Parse(time.RFC3339Nano, after.String("meta.lastModified"))
	if err1 != nil || err2 != nil || !t2.After(t1) {
		t.Fatalf("lastModified did not advance: %s -> %s", before.String("meta.lastModified"), after.String("meta.lastModified"))
	}
	c.Do(t, http.MethodGet, "/Groups/"+id, nil, "If-None-Match: "+v3).Expect(t, http.StatusNotModified)
	patchGroup(t, c, id, `[{"op":"remove","path":"members"}]`, "If-Match: "+v2).ExpectError(t, http.StatusPreconditionFailed, "")
	c.Do(t, http.MethodDelete, "/Groups/"+id, nil, "If-Match: "+v3).Expect(t, http.StatusNoContent)
}

// TestConcurrentMemberPatchesAcrossReplicas: two SCIM servers apply 40 concurrent
// single-member PATCHes to one team; all 40 members end up present.
func TestConcurrentMemberPatchesAcrossReplicas(t *testing.T) {
	c, other, org := newReplicaPair(t)
	u := createUsers(t, c, 40, "conc")
	// No waiting for the second replica's cache: the users and the team were created a
	// moment ago on the first, and the PATCHes must still find them.
	id := c.Do(t, http.MethodPost, "/Groups", `{"displayName":"Busy"}`).Expect(t, http.StatusCreated).String("id")
	var wg sync.WaitGroup
	errs := make(chan string, 40)
	for i, uid := range u {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := []*scimtest.Client{c, other}[i%2]
			if r := patchGroup(t, cl, id, `[{"op":"add","path":"members","value":`+memberList(uid)+`}]`); r.Status != http.StatusNoContent {
				errs <- fmt.Sprintf("%d %s", r.Status, r.Raw)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("PATCH failed: %s", e)
	}
	if live := env.LiveMembers(t, org.Namespace, id); !slices.Equal(live, sorted(u...)) {
		t.Fatalf("lost member updates: %d of 40 in the apiserver", len(live))
	}
	converge(t, org.Namespace, id, c, other)
}

func TestGroupQueries(t *testing.T) {
	c, _ := newOrgClient(t)
	u := createUsers(t, c, 2, "q")
	ids := map[string]string{}
	for _, name := range []string{"Alpha", "Beta", "Gamma"} {
		ids[name] = c.Do(t, http.MethodPost, "/Groups", `{"displayName":"`+name+`","externalId":"ext-`+name+`"}`).Expect(t, http.StatusCreated).String("id")
	}
	patchGroup(t, c, ids["Beta"], `[{"op":"add","path":"members","value":`+memberList(u[0])+`}]`).Expect(t, http.StatusNoContent)
	if r := c.Do(t, http.MethodGet, "/Groups?count=0", nil); r.Get("totalResults") != float64(3) {
		t.Fatalf("a list right after the creates on the same replica: %s", r.Raw)
	}
	cases := []struct {
		filter string
		want   []string
	}{
		{`displayName co "amm"`, []string{"Gamma"}},
		{`displayName sw "a" or displayName ew "TA"`, []string{"Alpha", "Beta"}},
		{`not (displayName eq "alpha")`, []string{"Beta", "Gamma"}},
		{`displayName ne "Beta" and externalId pr`, []string{"Alpha", "Gamma"}},
		{`externalId eq "ext-Gamma"`, []string{"Gamma"}},
		{`externalId eq "EXT-GAMMA"`, nil},
		{`members[value eq "` + u[0] + `"]`, []string{"Beta"}},
		{`members.value eq "` + u[1] + `"`, nil},
		{`meta.created gt "2001-01-01T00:00:00Z"`, []string{"Alpha", "Beta", "Gamma"}},
		{`meta.lastModified lt "2001-01-01T00:00:00Z"`, nil},
	}
	for _, tc := range cases {
		r := c.Do(t, http.MethodGet, "/Groups?sortBy=displayName&excludedAttributes=members&filter="+urlq(tc.filter), nil).Expect(t, http.StatusOK)
		var got []string
		for _, res := range r.Get("Resources").([]any) {
			got = append(got, res.(map[string]any)["displayName"].(string))
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("filter %s: got %v, want %v", tc.filter, got, tc.want)
		}
	}
	r := c.Do(t, http.MethodGet, "/Groups?sortBy=displayName&sortOrder=descending&count=1&startIndex=2&attributes=displayName", nil).Expect(t, http.StatusOK)
	if r.String("Resources.0.displayName") != "Beta" || r.Get("Resources.0.members") != nil || r.Get("totalResults") != float64(3) {
		t.Fatalf("sorted paging: %s", r.Raw)
	}
	// A user's read-only groups attribute lists its teams.
	g := c.Do(t, http.MethodGet, "/Users/"+u[0], nil).Expect(t, http.StatusOK)
	if g.String("groups.0.value") != ids["Beta"] || g.String("groups.0.display") != "Beta" {
		t.Fatalf("user groups: %s", g.Raw)
	}
	// In several teams: ordered by display name, on a GET and on a list page alike.
	patchGroup(t, c, ids["Gamma"], `[{"op":"add","path":"members","value":`+memberList(u[1])+`}]`).Expect(t, http.StatusNoContent)
	patchGroup(t, c, ids["Alpha"], `[{"op":"add","path":"members","value":`+memberList(u[1])+`}]`).Expect(t, http.StatusNoContent)
	one := c.Do(t, http.MethodGet, "/Users/"+u[1], nil).Expect(t, http.StatusOK)
	listed := c.Do(t, http.MethodGet, "/Users?filter="+urlq(`id eq "`+u[1]+`"`), nil).Expect(t, http.StatusOK)
	for _, r := range []struct {
		what   string
		groups any
	}{{"GET", one.Get("groups")}, {"list", listed.Get("Resources.0.groups")}} {
		gs, _ := r.groups.([]any)
		var got []string
		for _, g := range gs {
			m := g.(map[string]any)
			got = append(got, fmt.Sprint(m["display"], "=", m["value"] == ids[fmt.Sprint(m["display"])], ",", m["type"]))
		}
		if want := []string{"Alpha=true,direct", "Gamma=true,direct"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: groups of a user in Gamma and Alpha: %v, want %v", r.what, got, want)
		}
	}
	// The core schema's URN as attributes names every core attribute: groups of a user,
	// members of a group, as on a request without attributes.
	core := c.Do(t, http.MethodGet, "/Users/"+u[1]+"?attributes="+urlq("urn:ietf:params:scim:schemas:core:2.0:User"), nil).Expect(t, http.StatusOK)
	if gs, _ := core.Get("groups").([]any); len(gs) != 2 {
		t.Fatalf("attributes=<core User URN>: groups %v, want both teams: %s", core.Get("groups"), core.Raw)
	}
	alpha := c.Do(t, http.MethodGet, "/Groups/"+ids["Alpha"]+"?attributes="+urlq("URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:GROUP"), nil).Expect(t, http.StatusOK)
	if ms, _ := alpha.Get("members").([]any); len(ms) != 1 {
		t.Fatalf("attributes=<core Group URN>: members %v, want the one member: %s", alpha.Get("members"), alpha.Raw)
	}
	// A sub-attribute in excludedAttributes or attributes cuts the values, as schema.Project
	// does, and never drops the whole attribute: on GET one, on a list, and for the members
	// streamed from the slices.
	for _, r := range []struct {
		what string
		doc  map[string]any
		key  string
	}{
		{"GET excludedAttributes=groups.value", c.Do(t, http.MethodGet, "/Users/"+u[1]+"?excludedAttributes=groups.value", nil).Expect(t, http.StatusOK).Body, "groups"},
		{"list excludedAttributes=groups.value", listFirst(t, c, "/Users?excludedAttributes=groups.value&filter="+urlq(`id eq "`+u[1]+`"`)), "groups"},
	} {
		gs, _ := r.doc[r.key].([]any)
		var got []string
		for _, g := range gs {
			m := g.(map[string]any)
			got = append(got, fmt.Sprint(m["display"], ",", m["value"], ",", m["$ref"] != nil, ",", m["type"]))
		}
		if want := []string{"Alpha,<nil>,true,direct", "Gamma,<nil>,true,direct"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: groups %v, want %v", r.what, got, want)
		}
	}
	ref := c.Do(t, http.MethodGet, "/Users/"+u[1], nil).Expect(t, http.StatusOK).Get("meta.location")
	for _, tc := range []struct{ query, want string }{
		{"excludedAttributes=members.display", fmt.Sprintf("[map[$ref:%s type:User value:%s]]", ref, u[1])},
		{"excludedAttributes=MEMBERS.%24ref", fmt.Sprintf("[map[type:User value:%s]]", u[1])},
		{"attributes=members.value", fmt.Sprintf("[map[value:%s]]", u[1])},
		{"excludedAttributes=members.value,members.%24ref,members.type", "<nil>"},
	} {
		one := c.Do(t, http.MethodGet, "/Groups/"+ids["Alpha"]+"?"+tc.query, nil).Expect(t, http.StatusOK)
		if got := fmt.Sprint(one.Get("members")); got != tc.want {
			t.Fatalf("GET group %s: members %s, want %s: %s", tc.query, got, tc.want, one.Raw)
		}
		listed := listFirst(t, c, "/Groups?"+tc.query+"&filter="+urlq(`displayName eq "Alpha"`))
		if got := fmt.Sprint(listed["members"]); got != tc.want {
			t.Fatalf("list groups %s: members %s, want %s", tc.query, got, tc.want)
		}
	}
	c.Do(t, http.MethodGet, "/Groups?filter="+urlq(`displayName eq`), nil).ExpectError(t, http.StatusBadRequest, "invalidFilter")
}

// listFirst returns the only resource of a list response.
func listFirst(t *testing.T, c *scimtest.Client, path string) map[string]any {
	t.Helper()
	r := c.Do(t, http.MethodGet, path, nil).Expect(t, http.StatusOK)
	rs, _ := r.Get("Resources").([]any)
	if len(rs) != 1 {
		t.Fatalf("%s: want one resource: %s", path, r.Raw)
	}
	return rs[0].(map[string]any)
}
