package shard_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/shard"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
	"github.com/rosterhq/roster/internal/testutil/testenv"
)

const shardLabel = "roster.dev/shard"

// labelled returns a mutation that puts an Organization in shard value.
func labelled(value string) func(*rosterv1.Organization) {
	return func(o *rosterv1.Organization) { o.Labels = map[string]string{shardLabel: value} }
}

func selector(value string) string { return shardLabel + "=" + value }

// TestShardsServeAndCacheOnlyTheirOrgs: two shards on one apiserver. Each serves its own
// organization and answers the other's exactly like an organization that does not exist; its
// cache holds nothing of the other's; both shards' leaders run at once (both organizations
// get status); and the webhook of a shard that holds neither organization judges both.
func TestShardsServeAndCacheOnlyTheirOrgs(t *testing.T) {
	ctx := context.Background()
	orgA := env.NewOrgWith(t, "sa", labelled("t1a"))
	orgB := env.NewOrgWith(t, "sb", labelled("t1b"))
	a := startShard(t, selector("t1a"), "a-0", sqliteURL(t))
	b := startShard(t, selector("t1b"), "b-0", sqliteURL(t))

	user := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@example.com"}`
	scimtest.New(a.baseURL, orgA.Name, orgA.Token).Do(t, http.MethodPost, "/Users", user).Expect(t, http.StatusCreated)
	scimtest.New(b.baseURL, orgB.Name, orgB.Token).Do(t, http.MethodPost, "/Users", user).Expect(t, http.StatusCreated)

	// The other shard's organization, with its valid token, is answered like one that does not exist.
	for _, tc := range []struct {
		srv *replica
		org testenv.Org
	}{{b, orgA}, {a, orgB}} {
		for _, path := range []string{"/Users", "/Groups", "/ServiceProviderConfig"} {
			got := scimtest.New(tc.srv.baseURL, tc.org.Name, tc.org.Token).Do(t, http.MethodGet, path, nil)
			unknown := scimtest.New(tc.srv.baseURL, "no-such-org", tc.org.Token).Do(t, http.MethodGet, path, nil)
			if got.Status != unknown.Status || string(got.Raw) != string(unknown.Raw) || got.Status < 400 {
				t.Errorf("GET %s of %s on the other shard: %d %s; an unknown org gets %d %s", path, tc.org.Name, got.Status, got.Raw, unknown.Status, unknown.Raw)
			}
		}
		got := scimtest.New(tc.srv.baseURL, tc.org.Name, tc.org.Token).Do(t, http.MethodPost, "/Users", `{"userName":"eve@example.com"}`)
		if got.Status != http.StatusUnauthorized {
			t.Errorf("POST /Users of %s on the other shard: %d %s, want 401", tc.org.Name, got.Status, got.Raw)
		}
	}

	// Neither cache holds the other shard's organization or anything in its namespace.
	for _, tc := range []struct {
		srv        *replica
		own, other testenv.Org
	}{{a, orgA, orgB}, {b, orgB, orgA}} {
		c := tc.srv.Manager.GetCache()
		var org rosterv1.Organization
		if err := c.Get(ctx, types.NamespacedName{Name: tc.other.Name}, &org); !apierrors.IsNotFound(err) {
			t.Errorf("shard of %s: Organization %s from its cache: %v, want not found", tc.own.Name, tc.other.Name, err)
		}
		for _, list := range []client.ObjectList{&rosterv1.OrgUserList{}, &rosterv1.OrgTeamList{}, &rosterv1.OrgTeamMemberSliceList{}} {
			if err := c.List(ctx, list, client.InNamespace(tc.other.Namespace)); err == nil {
				t.Errorf("shard of %s: listing %T in %s from its cache succeeded: the namespace is cached", tc.own.Name, list, tc.other.Namespace)
			}
		}
		var users rosterv1.OrgUserList
		if err := c.List(ctx, &users); err != nil {
			t.Fatal(err)
		}
		for _, u := range users.Items {
			if u.Namespace == tc.other.Namespace {
				t.Errorf("shard of %s caches user %s/%s of the other shard", tc.own.Name, u.Namespace, u.Name)
			}
		}
	}

	// Each shard's controllers run under their own leader: both organizations get status,
	// and both users reach their shard's store.
	for _, tc := range []struct {
		srv *replica
		org testenv.Org
	}{{a, orgA}, {b, orgB}} {
		testenv.Eventually(t, 30*time.Second, func() (bool, string) {
			var org rosterv1.Organization
			if err := env.Client.Get(ctx, types.NamespacedName{Name: tc.org.Name}, &org); err != nil {
				return false, err.Error()
			}
			return len(org.Status.Conditions) > 0, fmt.Sprintf("organization %s has no status conditions", tc.org.Name)
		})
	}
	if a.cfg.Organizations == b.cfg.Organizations {
		t.Fatal("the two shards share a selector")
	}

	// A ClusterTeamRoleBinding is rendered by its organization's shard only: one of an
	// organization no shard serves is left alone (no finalizer, no status) by both, and that
	// is checked once b has judged one of its own, created after it.
	orgZ := env.NewOrgWith(t, "sz", labelled("t1z"))
	ctrb := func(org string) *rosterv1.ClusterTeamRoleBinding {
		c := &rosterv1.ClusterTeamRoleBinding{Spec: rosterv1.ClusterTeamRoleBindingSpec{Organization: org,
			Team: rosterv1.TeamRef{DisplayName: "nobody"}, RoleRef: rosterv1.RoleRef{Kind: "ClusterRole", Name: "view"}}}
		c.Name = org + "-view"
		if err := env.Client.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	orphan, own := ctrb(orgZ.Name), ctrb(orgB.Name)
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(own), own); err != nil {
			return false, err.Error()
		}
		return len(own.Status.Conditions) > 0, "shard b did not judge the ClusterTeamRoleBinding of its organization"
	})
	if c := own.Status.Conditions[0]; c.Reason == "OrganizationNotFound" {
		t.Errorf("the ClusterTeamRoleBinding of %s was judged by a shard that does not serve it: %+v", orgB.Name, c)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(orphan), orphan); err != nil {
		t.Fatal(err)
	}
	if len(orphan.Finalizers) > 0 || len(orphan.Status.Conditions) > 0 {
		t.Errorf("a shard touched the ClusterTeamRoleBinding of %s, which no shard serves: finalizers %v, status %+v", orgZ.Name, orphan.Finalizers, orphan.Status)
	}
	for _, c := range []client.Object{orphan, own} {
		if err := env.Client.Delete(ctx, c); err != nil {
			t.Fatal(err)
		}
	}

	// The webhook is served by a shard holding neither organization. A person's manual team
	// and its members in orgB are allowed (the team is read live, not refused because the
	// namespace is not cached); the members of a SCIM team there are refused.
	admin, err := env.Environment.AddUser(envtest.User{Name: "dana", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dana, err := client.New(admin.Config(), client.Options{Scheme: app.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	manual := team(orgB.Namespace, "oncall", rosterv1.ManagedByManual)
	if err := dana.Create(ctx, manual); err != nil {
		t.Fatalf("a person creating a manual team in another shard's org: %v", err)
	}
	if err := dana.Create(ctx, membership.NewSlice(manual, []string{"u-1"})); err != nil {
		t.Fatalf("a person adding members to a manual team in another shard's org: %v", err)
	}
	scimTeam := team(orgB.Namespace, "eng", rosterv1.ManagedBySCIM)
	if err := b.Manager.GetClient().Create(ctx, scimTeam); err != nil {
		t.Fatalf("Roster creating a SCIM team: %v", err)
	}
	err = dana.Create(ctx, membership.NewSlice(scimTeam, []string{"u-2"}))
	if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) {
		t.Fatalf("a person adding members to a SCIM team: %v, want a denial", err)
	}
	if apierrors.IsServiceUnavailable(err) {
		t.Fatalf("the webhook could not judge another shard's team: %v", err)
	}
}

func team(namespace, name, managedBy string) *rosterv1.OrgTeam {
	t := &rosterv1.OrgTeam{Spec: rosterv1.OrgTeamSpec{DisplayName: name, ManagedBy: managedBy}}
	t.Name, t.Namespace = "g-"+name, namespace
	t.Labels = map[string]string{rosterv1.OrgLabel: namespace}
	return t
}

// TestShardRestartsOneReplicaAtATime: an organization created into a shard and one
// relabelled from another shard make the replicas of both shards restart, each shard's
// replicas one at a time; after the restart the new organizations are served by their new
// shard and no longer by the old one.
func TestShardRestartsOneReplicaAtATime(t *testing.T) {
	ctx := context.Background()
	orgB := env.NewOrgWith(t, "rb", labelled("t2b"))
	a0 := startShard(t, selector("t2a"), "a-0", "")
	a1 := startShard(t, selector("t2a"), "a-1", "")
	b := startShard(t, selector("t2b"), "b-0", "")
	scimtest.New(b.baseURL, orgB.Name, orgB.Token).Do(t, http.MethodPost, "/Users", `{"userName":"ada@example.com"}`).Expect(t, http.StatusCreated)

	// Back to back: a new organization of shard a, and orgB moved from b to a.
	orgC := env.NewOrgWith(t, "rc", labelled("t2a"))
	var org rosterv1.Organization
	if err := env.Client.Get(ctx, types.NamespacedName{Name: orgB.Name}, &org); err != nil {
		t.Fatal(err)
	}
	org.Labels[shardLabel] = "t2a"
	if err := env.Client.Update(ctx, &org); err != nil {
		t.Fatal(err)
	}
	moved := time.Now()

	// One replica of a restarts; the other waits for its turn.
	var first, second *replica
	select {
	case err := <-a0.done:
		a0.done <- err
		first, second = a0, a1
	case err := <-a1.done:
		a1.done <- err
		first, second = a1, a0
	case <-time.After(60 * time.Second):
		t.Fatal("no replica of shard a restarted within 60s of its set of organizations changing")
	}
	if err := <-first.done; !errors.Is(err, shard.ErrChanged) {
		t.Fatalf("replica %s stopped with %v, want shard.ErrChanged", first.cfg.Identity, err)
	} else {
		first.done <- err
	}
	lease := leaseName(t, first)
	holder, err := shard.Holder(ctx, env.Client, "default", lease)
	if err != nil || holder != first.cfg.Identity {
		t.Fatalf("turn to restart held by %q (%v), want %s", holder, err, first.cfg.Identity)
	}
	select {
	case err := <-second.done:
		second.done <- err
		t.Fatalf("both replicas of shard a stopped at once (%s: %v)", second.cfg.Identity, err)
	default:
	}
	// Shard b lost orgB: its own turn (another Lease) lets it restart meanwhile.
	testenv.Eventually(t, 60*time.Second, func() (bool, string) {
		select {
		case err := <-b.done:
			b.done <- err
			return errors.Is(err, shard.ErrChanged), fmt.Sprintf("shard b stopped with %v", err)
		default:
			return false, "shard b did not restart after losing its organization"
		}
	})

	// The first comes back with the new set, serves both organizations and hands the turn
	// back, so the second restarts in turn, not before.
	firstBack := time.Now()
	first = first.restart(t)
	for _, o := range []testenv.Org{orgB, orgC} {
		scimtest.New(first.baseURL, o.Name, o.Token).Do(t, http.MethodPost, "/Users", `{"userName":"grace@example.com"}`).Expect(t, http.StatusCreated)
	}
	t.Logf("the relabelled organization was served by its new shard %s after the relabel", time.Since(moved).Round(time.Millisecond))
	testenv.Eventually(t, 60*time.Second, func() (bool, string) {
		select {
		case err := <-second.done:
			second.done <- err
			return errors.Is(err, shard.ErrChanged), fmt.Sprintf("second replica stopped with %v", err)
		default:
			return false, "the second replica did not restart after the first came back"
		}
	})
	if !second.stoppedAt.After(firstBack) {
		t.Errorf("replica %s stopped at %s, before %s came back at %s: both replicas were down at once",
			second.cfg.Identity, second.stoppedAt.Format(time.StampMilli), first.cfg.Identity, firstBack.Format(time.StampMilli))
	}
	second = second.restart(t)
	scimtest.New(second.baseURL, orgC.Name, orgC.Token).Do(t, http.MethodGet, "/Users?filter="+`userName%20eq%20%22grace@example.com%22`, nil).Expect(t, http.StatusOK)

	b = b.restart(t)
	if got := scimtest.New(b.baseURL, orgB.Name, orgB.Token).Do(t, http.MethodGet, "/Users", nil); got.Status != http.StatusUnauthorized {
		t.Errorf("shard b after orgB moved away: GET /Users %d %s, want 401", got.Status, got.Raw)
	}
	var users rosterv1.OrgUserList
	if err := b.Manager.GetCache().List(ctx, &users); err != nil {
		t.Fatal(err)
	}
	for _, u := range users.Items {
		if u.Namespace == orgB.Namespace {
			t.Errorf("shard b still caches %s/%s after orgB moved away", u.Namespace, u.Name)
		}
	}
}

// leaseName is the shard's restart Lease.
func leaseName(t *testing.T, r *replica) string {
	t.Helper()
	s, err := shard.Load(context.Background(), env.Client, r.cfg.Organizations)
	if err != nil {
		t.Fatal(err)
	}
	return s.RestartLeaseName(app.LeaderElectionID)
}

// TestTurnsAreExclusive: of a shard's replicas, one at a time holds the turn to restart; it
// is free again when the holder ends it or when it expires, and a replica racing for it loses
// to the one that got it.
func TestTurnsAreExclusive(t *testing.T) {
	ctx := context.Background()
	replica := func(id string, turn time.Duration) *shard.Watcher {
		return &shard.Watcher{API: env.Client, Namespace: "default", Name: "turns-basic-restart", Identity: id, TurnDuration: turn}
	}
	r0, r1 := replica("r-0", time.Minute), replica("r-1", time.Minute)
	took := func(w *shard.Watcher, want bool) {
		t.Helper()
		ok, err := w.TryTurn(ctx)
		if err != nil || ok != want {
			t.Fatalf("%s taking the turn: %v, %v; want %v", w.Identity, ok, err, want)
		}
	}
	took(r0, true)
	took(r1, false)
	took(r0, true) // its own, again (a retry)
	if err := r1.EndTurn(ctx); err != nil {
		t.Fatal(err)
	}
	took(r1, false) // r1 cannot end r0's turn
	if err := r0.EndTurn(ctx); err != nil {
		t.Fatal(err)
	}
	took(r1, true)
	took(r0, false)

	// A turn whose holder never comes back expires.
	short := replica("r-2", time.Second)
	short.Name = "turns-expiry-restart"
	took(short, true)
	late := replica("r-3", time.Minute)
	late.Name = short.Name
	took(late, false)
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		ok, err := late.TryTurn(ctx)
		return ok && err == nil, fmt.Sprintf("the expired turn was not taken over: %v, %v", ok, err)
	})

	// Racing: exactly one wins.
	race := make([]*shard.Watcher, 4)
	wins := make(chan bool, len(race))
	for i := range race {
		race[i] = replica(fmt.Sprintf("x-%d", i), time.Minute)
		race[i].Name = "turns-race-restart"
		go func(w *shard.Watcher) {
			ok, err := w.TryTurn(ctx)
			if err != nil {
				t.Error(err)
			}
			wins <- ok
		}(race[i])
	}
	won := 0
	for range race {
		if <-wins {
			won++
		}
	}
	if won != 1 {
		t.Fatalf("%d replicas took the same turn at once, want 1", won)
	}
}

// TestShardReadsItsOwnWrites: a shard's cache watches each of its namespaces apart, so a
// revision delivered in one organization's namespace says nothing of another's. With users
// created in one organization without pause, each user created in the other is found by the
// filter Okta sends right after its POST, on the same replica.
func TestShardReadsItsOwnWrites(t *testing.T) {
	orgX := env.NewOrgWith(t, "rx", labelled("t3"))
	orgY := env.NewOrgWith(t, "ry", labelled("t3"))
	r := startShard(t, selector("t3"), "c-0", "")
	x := scimtest.New(r.baseURL, orgX.Name, orgX.Token)
	y := scimtest.New(r.baseURL, orgY.Name, orgY.Token)

	stop := make(chan struct{})
	busy := make(chan struct{})
	go func() {
		defer close(busy)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			y.Do(t, http.MethodPost, "/Users", fmt.Sprintf(`{"userName":"noise-%d@example.com"}`, i))
		}
	}()
	defer func() { close(stop); <-busy }()
	for i := range 30 {
		name := fmt.Sprintf("user-%d@example.com", i)
		x.Do(t, http.MethodPost, "/Users", fmt.Sprintf(`{"userName":%q}`, name)).Expect(t, http.StatusCreated)
		got := x.Do(t, http.MethodGet, "/Users?filter="+url.QueryEscape(fmt.Sprintf("userName eq %q", name)), nil).Expect(t, http.StatusOK)
		if n, _ := got.Get("totalResults").(float64); n != 1 {
			t.Fatalf("round %d: the filter right after the POST found %v users, want 1: %s", i, got.Get("totalResults"), got.Raw)
		}
	}
}
