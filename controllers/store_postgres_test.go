package controllers_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/controllers"
	rostermetrics "github.com/rosterhq/roster/internal/metrics"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/testutil/pgtest"
)

// pgRows reads the org's rows straight from PostgreSQL: users as "id active", memberships as
// "team user", in order, duplicates included (there must be none).
func pgRows(t *testing.T, url, org string) (users, members []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connecting to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	read := func(q string) []string {
		rows, err := conn.Query(ctx, q, org)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var out []string
		for rows.Next() {
			var a, b string
			if err := rows.Scan(&a, &b); err != nil {
				t.Fatal(err)
			}
			out = append(out, a+" "+b)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	users = read(`SELECT id, active::text FROM roster_users WHERE org = $1 ORDER BY id`)
	members = read(`SELECT team_id, user_id FROM roster_team_members WHERE org = $1 ORDER BY team_id, user_id`)
	return users, members
}

// pgEdit runs statements in one transaction, as a person in psql would.
func pgEdit(t *testing.T, url string, stmts ...pgStmt) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connecting to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s.sql, s.args...); err != nil {
				return fmt.Errorf("%s: %w", s.sql, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

type pgStmt struct {
	sql  string
	args []any
}

func stmt(sql string, args ...any) pgStmt { return pgStmt{sql, args} }

// TestOutagePostgres: PostgreSQL stops while the identity provider keeps writing. SCIM accepts
// every write, conditions say the store is unavailable, and once PostgreSQL is back the store
// holds exactly what the resources say: nothing lost, nothing twice.
func TestOutagePostgres(t *testing.T) {
	srv := pgtest.Start(t)
	url := srv.URL()
	// newFixture's Roster serves this org alone: one of every namespace also reconciled the
	// package's earlier tests' leftovers against this store and, once it was down, retried them
	// ahead of this test's objects (a user created during the outage waited past 15 s).
	f := newFixture(t, url, nil)

	ada := f.createUser("ada@example.com", nil)
	bob := f.createUser("bob@example.com", nil)
	eng := f.createGroup("Engineering", ada, bob)
	f.awaitMembers(10*time.Second, eng, ada, bob)
	f.awaitCondition(f.organization(), rosterv1.ConditionSynced, metav1.ConditionTrue, controllers.ReasonInStore, 10*time.Second)

	if err := srv.Stop(); err != nil {
		t.Fatalf("stopping PostgreSQL: %v", err)
	}
	// Every SCIM write succeeds while the store is down.
	var during []string
	for i := range 5 {
		during = append(during, f.createUser(fmt.Sprintf("outage-%d@example.com", i), nil))
	}
	f.patchMembers(eng, during[:3], []string{bob})
	ops := f.createGroup("Operations", during[3], ada)
	f.scim.Do(t, http.MethodPatch, "/Users/"+during[4], map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "replace", "value": map[string]any{"active": false}}},
	}).Expect(t, http.StatusOK)
	f.scim.Do(t, http.MethodDelete, "/Users/"+during[0], nil).Expect(t, http.StatusNoContent)

	// The conditions say why nothing reaches the store.
	f.awaitCondition(f.user(during[1]), rosterv1.ConditionSynced, metav1.ConditionFalse, controllers.ReasonStoreUnavailable, 15*time.Second)
	f.awaitCondition(f.team(ops), rosterv1.ConditionSynced, metav1.ConditionFalse, controllers.ReasonStoreUnavailable, 15*time.Second)
	f.awaitCondition(f.organization(), rosterv1.ConditionSynced, metav1.ConditionFalse, controllers.ReasonStoreUnavailable, 15*time.Second)
	if n := testutil.ToFloat64(rostermetrics.StoreSyncErrors.WithLabelValues("OrgUser", controllers.ReasonStoreUnavailable)); n < 1 {
		t.Errorf("roster_store_sync_errors_total{kind=OrgUser,reason=StoreUnavailable} = %v during the outage", n)
	}
	f.awaitEvent(f.user(during[1]), controllers.ReasonStoreUnavailable, 10*time.Second)
	// The deleted user waits for the store before it goes.
	f.awaitCondition(f.user(during[0]), rosterv1.ConditionSynced, metav1.ConditionFalse, controllers.ReasonStoreUnavailable, 15*time.Second)
	// The SCIM view is already right.
	f.scim.Do(t, http.MethodGet, "/Users/"+during[0], nil).Expect(t, http.StatusNotFound)

	// The controllers back off: over a few seconds each failing object is retried a few times,
	// not hundreds (a hot loop would be).
	var users rosterv1.OrgUserList
	var teams rosterv1.OrgTeamList
	if err := env.Client.List(f.ctx, &users, client.InNamespace(f.org.Namespace)); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.List(f.ctx, &teams, client.InNamespace(f.org.Namespace)); err != nil {
		t.Fatal(err)
	}
	objects := len(users.Items) + len(teams.Items)
	before := reconcileErrors(t)
	time.Sleep(3 * time.Second) // the measured window
	if retries := reconcileErrors(t) - before; retries > 10*objects {
		t.Errorf("%d failed reconciles of %d objects in 3s while the store is down: not backing off", retries, objects)
	} else {
		t.Logf("%d failed reconciles of %d objects in 3s while the store is down", retries, objects)
	}

	if err := srv.Start(); err != nil {
		t.Fatalf("starting PostgreSQL again: %v", err)
	}
	wantUsers := []string{ada + " true", bob + " true", during[1] + " true", during[2] + " true", during[3] + " true", during[4] + " false"}
	sort.Strings(wantUsers)
	wantMembers := []string{eng + " " + ada, eng + " " + during[1], eng + " " + during[2], ops + " " + ada, ops + " " + during[3]}
	sort.Strings(wantMembers)
	// Converges well within the longest per-object back-off (30s): the watcher re-queues
	// everything when the store answers again.
	f.eventually(20*time.Second, func() (bool, string) {
		users, members := pgRows(t, url, f.org.Name)
		return slices.Equal(users, wantUsers) && slices.Equal(members, wantMembers),
			fmt.Sprintf("rows after recovery:\nusers   %v\nwant    %v\nmembers %v\nwant    %v", users, wantUsers, members, wantMembers)
	})
	f.awaitGone(f.user(during[0]))
	f.awaitCondition(f.organization(), rosterv1.ConditionSynced, metav1.ConditionTrue, controllers.ReasonInStore, 15*time.Second)
	for _, id := range []string{ada, during[1], during[4]} {
		f.awaitCondition(f.user(id), rosterv1.ConditionSynced, metav1.ConditionTrue, controllers.ReasonInStore, 5*time.Second)
	}
	f.awaitCondition(f.team(ops), rosterv1.ConditionSynced, metav1.ConditionTrue, controllers.ReasonInStore, 5*time.Second)
}

// TestDriftPostgres: membership rows added or deleted by hand are put back within seconds for
// a SCIM-managed team, with an event; the same edit of a manual team is left alone.
func TestDriftPostgres(t *testing.T) {
	srv := pgtest.Start(t)
	url := srv.URL()
	// No periodic resync: only the notifications can bring the revert this fast.
	f := newFixture(t, url, nil)

	ada := f.createUser("ada@example.com", nil)
	bob := f.createUser("bob@example.com", nil)
	eve := f.createUser("eve@example.com", nil)
	eng := f.createGroup("Engineering", ada, bob)
	manual := f.newTeamObject(naming.NewTeamObjectName(), "Book club", rosterv1.ManagedByManual, ada, bob)
	f.awaitMembers(10*time.Second, eng, ada, bob)
	f.awaitMembers(10*time.Second, manual.Name, ada, bob)
	f.awaitCondition(f.team(manual.Name), rosterv1.ConditionSynced, metav1.ConditionTrue, controllers.ReasonInStore, 10*time.Second)
	f.awaitCondition(f.team(eng), rosterv1.ConditionSynced, metav1.ConditionTrue, controllers.ReasonInStore, 10*time.Second)

	// The manual team's edit first, then the SCIM team's: once the second is reverted, the
	// first was certainly seen.
	for _, team := range []string{manual.Name, eng} {
		pgEdit(t, url,
			stmt(`INSERT INTO roster_team_members (org, team_id, user_id) VALUES ($1, $2, $3)`, f.org.Name, team, eve),
			stmt(`DELETE FROM roster_team_members WHERE org = $1 AND team_id = $2 AND user_id = $3`, f.org.Name, team, ada))
	}
	start := time.Now()
	f.awaitMembers(10*time.Second, eng, ada, bob)
	t.Logf("drift reverted in %s", time.Since(start).Round(time.Millisecond))
	msg := f.awaitEvent(f.team(eng), controllers.EventDriftReverted, 10*time.Second)
	if !strings.Contains(msg, eve) || !strings.Contains(msg, ada) {
		t.Errorf("drift event %q does not name what was reverted (%s removed, %s re-added)", msg, eve, ada)
	}
	// A second edit of the SCIM team, reverted too, after which the manual team's own
	// notification has long been handled.
	pgEdit(t, url, stmt(`DELETE FROM roster_team_members WHERE org = $1 AND team_id = $2`, f.org.Name, eng))
	f.awaitMembers(10*time.Second, eng, ada, bob)
	if got, err := f.store.ObserveMembers(f.ctx, f.org.Name, manual.Name); err != nil || !slices.Equal(got, sorted(bob, eve)) {
		t.Errorf("manual team's members = %v (%v), want the hand edit %v left alone", got, err, sorted(bob, eve))
	}

	// A manual team's members change in Kubernetes: the slices are written as they are, over
	// the hand edit (docs/identity-store.md, "Manual teams").
	f.newSlice(f.team(manual.Name), eve)
	f.awaitMembers(10*time.Second, manual.Name, ada, bob, eve)
}

func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// reconcileErrors sums controller-runtime's error counter of the store controllers.
func reconcileErrors(t *testing.T) int {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, mf := range families {
		if mf.GetName() != "controller_runtime_reconcile_errors_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && (l.GetValue() == "orguser" || l.GetValue() == "orgteam") {
					total += int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return total
}
