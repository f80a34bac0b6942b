package scim_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/index"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
	"github.com/rosterhq/roster/internal/testutil/testenv"
)

// filtered returns the ids of the users a filter selects, sorted.
func filtered(t *testing.T, c *scimtest.Client, f string) []string {
	t.Helper()
	r := c.Do(t, http.MethodGet, "/Users?filter="+urlq(f)+"&count=100", nil).Expect(t, http.StatusOK)
	res, _ := r.Get("Resources").([]any)
	if r.Get("totalResults") != float64(len(res)) {
		t.Fatalf("%s: totalResults is not the number of resources: %s", f, r.Raw)
	}
	var ids []string
	for i := range res {
		ids = append(ids, r.String(fmt.Sprintf("Resources.%d.id", i)))
	}
	return sortedIDs(ids...)
}

// TestUserLookupsFollowWrites: filters by userName, externalId and email (answered by the
// ordered index, not a cache field index) stay exact across creates, an email change, an email
// removal and a delete, each checked right after the write on the same replica, back to back.
func TestUserLookupsFollowWrites(t *testing.T) {
	c, _ := newOrgClient(t)
	user := func(userName, ext string, emails ...string) string {
		var ms []string
		for _, e := range emails {
			ms = append(ms, fmt.Sprintf(`{"type":"work","value":%q}`, e))
		}
		return fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"externalId":%q,"emails":[%s],"active":true}`,
			userName, ext, strings.Join(ms, ","))
	}
	expect := func(step string, want map[string][]string) {
		t.Helper()
		for f, ids := range want {
			if got := filtered(t, c, f); fmt.Sprint(got) != fmt.Sprint(sortedIDs(ids...)) {
				t.Errorf("%s: %s selects %v, want %v", step, f, got, sortedIDs(ids...))
			}
		}
	}
	ann := c.Do(t, http.MethodPost, "/Users", user("Ann@Example.com", "ext-A", "Shared@Example.com")).Expect(t, http.StatusCreated).String("id")
	expect("after creating ann", map[string][]string{
		`userName eq "ann@example.COM"`:      {ann},
		`emails eq "SHARED@example.com"`:     {ann},
		`externalId eq "ext-A"`:              {ann},
		`externalId eq "ext-a"`:              nil, // caseExact
		`externalId eq "ext-"`:               nil, // a prefix is no match
		`userName eq "ann@example.co"`:       nil,
		`emails.value eq "shared@example.c"`: nil,
	})
	bob := c.Do(t, http.MethodPost, "/Users", user("bob@example.com", "ext-a", "shared@EXAMPLE.com", "Bob@Example.com")).Expect(t, http.StatusCreated).String("id")
	expect("after creating bob", map[string][]string{
		`emails.value eq "shared@example.com"`:                     {ann, bob},
		`emails[value eq "Shared@Example.com"]`:                    {ann, bob},
		`emails[type eq "work" and value eq "bob@example.com"]`:    {bob},
		`externalId eq "ext-a"`:                                    {bob},
		`externalId eq "ext-A"`:                                    {ann},
		`emails eq "shared@example.com" and userName sw "bob"`:     {bob},
		`emails eq "shared@example.com" and externalId eq "ext-A"`: {ann},
	})
	c.Do(t, http.MethodPut, "/Users/"+ann, user("Ann@Example.com", "ext-A", "ann@new.example")).Expect(t, http.StatusOK)
	expect("after ann's email changed", map[string][]string{
		`emails eq "shared@example.com"`: {bob},
		`emails eq "ANN@new.example"`:    {ann},
		`userName eq "Ann@Example.com"`:  {ann},
	})
	c.Do(t, http.MethodPatch, "/Users/"+bob, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"emails"}]}`).Expect(t, http.StatusOK)
	expect("after bob's emails were removed", map[string][]string{
		`emails eq "shared@example.com"`: nil,
		`emails eq "bob@example.com"`:    nil,
		`userName eq "bob@example.com"`:  {bob},
	})
	c.Do(t, http.MethodDelete, "/Users/"+ann, nil).Expect(t, http.StatusNoContent)
	expect("after ann was deleted", map[string][]string{
		`userName eq "ann@example.com"`: nil,
		`emails eq "ann@new.example"`:   nil,
		`externalId eq "ext-A"`:         nil,
		`externalId eq "ext-a"`:         {bob},
	})
}

// TestIndexesNamespacedOnly: the manager's cache keeps the team and slice indexes under
// "<namespace>/<value>" only (no controller-runtime "__all_namespaces/" copy), and users have
// no field index at all; lookups through them still find what they should.
func TestIndexesNamespacedOnly(t *testing.T) {
	c, org := newOrgClient(t)
	u := c.Do(t, http.MethodPost, "/Users", oktaUser("idx@example.com")).Expect(t, http.StatusCreated).String("id")
	g := c.Do(t, http.MethodPost, "/Groups", fmt.Sprintf(`{"displayName":"Idx Team","externalId":"ext-g","members":[{"value":%q}]}`, u)).
		Expect(t, http.StatusCreated).String("id")
	ctx := context.Background()
	indexer := func(obj client.Object) toolscache.Indexer {
		inf, err := sharedRoster.Manager.GetCache().GetInformer(ctx, obj)
		if err != nil {
			t.Fatal(err)
		}
		return inf.(toolscache.SharedIndexInformer).GetIndexer()
	}
	if ix := indexer(&rosterv1.OrgUser{}).GetIndexers(); len(ix) > 1 { // the namespace index only
		t.Errorf("OrgUser informer has field indexes: %v", keysOf(ix))
	}
	want := map[string]struct {
		obj   client.Object
		value string
	}{
		index.TeamName:       {&rosterv1.OrgTeam{}, "idx team"},
		index.TeamExternalID: {&rosterv1.OrgTeam{}, "ext-g"},
		index.SliceTeam:      {&rosterv1.OrgTeamMemberSlice{}, g},
		index.SliceMember:    {&rosterv1.OrgTeamMemberSlice{}, u},
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		for field, w := range want {
			ix := indexer(w.obj)
			if _, ok := ix.GetIndexers()[index.IndexName(field)]; !ok {
				return false, fmt.Sprintf("%T has no index %s", w.obj, field)
			}
			found := false
			for _, v := range ix.ListIndexFuncValues(index.IndexName(field)) {
				if strings.HasPrefix(v, "__all_namespaces/") || !strings.Contains(v, "/") {
					return false, fmt.Sprintf("%T index %s has a key %q that is not namespaced", w.obj, field, v)
				}
				found = found || v == org.Namespace+"/"+w.value
			}
			if !found {
				return false, fmt.Sprintf("%T index %s has no key %s/%s", w.obj, field, org.Namespace, w.value)
			}
		}
		return true, ""
	})
	var slices rosterv1.OrgTeamMemberSliceList
	if err := index.SlicesWithMember(u).List(ctx, sharedRoster.Manager.GetClient(), org.Namespace, &slices); err != nil || len(slices.Items) != 1 {
		t.Errorf("member lookup in %s: %d slices, %v", org.Namespace, len(slices.Items), err)
	}
	if err := index.SlicesWithMember(u).List(ctx, sharedRoster.Manager.GetClient(), "", &slices); err == nil {
		t.Error("a lookup without a namespace did not fail")
	}
	if r := c.Do(t, http.MethodGet, "/Groups?filter="+urlq(`displayName eq "IDX TEAM"`)+"&excludedAttributes=members", nil).Expect(t, http.StatusOK); r.Get("totalResults") != float64(1) {
		t.Errorf("displayName filter through the namespaced index: %s", r.Raw)
	}
}

func keysOf(m toolscache.Indexers) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
