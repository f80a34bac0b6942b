package controllers_test

import (
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/controllers"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/identitystore"
	"github.com/rosterhq/roster/internal/naming"
)

func sqliteURL(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "roster.db") }

// TestUserLifecycleSQLite: users created through SCIM and directly reach the store, follow
// updates, stay (inactive) when deactivated, and leave with their memberships when deleted.
func TestUserLifecycleSQLite(t *testing.T) {
	f := newFixture(t, sqliteURL(t), nil)

	ada := f.createUser("ada@example.com", map[string]any{"externalId": "00u-ada", "displayName": "Ada L."})
	row := f.awaitUserRow(ada, func(u identitystore.User) string { return "" })
	want := identitystore.User{Org: f.org.Name, ID: ada, UserName: "ada@example.com", ExternalID: "00u-ada",
		DisplayName: "Ada L.", GivenName: "Given ada@example.com", FamilyName: "Family", Email: "ada@example.com",
		Active: true, ManagedBy: identitystore.ManagedBySCIM, Extensions: "{}"}
	row.CreatedAt, row.UpdatedAt = time.Time{}, time.Time{}
	if row != want {
		t.Errorf("row of a SCIM user:\n got %+v\nwant %+v", row, want)
	}
	f.awaitFinalizer(f.user(ada))
	f.awaitCondition(f.user(ada), rosterv1.ConditionSynced, metav1.ConditionTrue, controllers.ReasonInStore, 10*time.Second)
	f.awaitCondition(f.user(ada), rosterv1.ConditionReady, metav1.ConditionTrue, controllers.ReasonInStore, 10*time.Second)

	// A user created with kubectl-like writes is synced just the same.
	bob := f.newUserObject("bob@example.com", true)
	f.awaitUserRow(bob.Name, func(u identitystore.User) string {
		if u.DisplayName != "Object bob@example.com" || !u.Active {
			return "not the object's values"
		}
		return ""
	})
	// Bob was created without the finalizer (SCIM creates carry it): the controller adds it.
	f.awaitFinalizer(f.user(bob.Name))

	// An update through SCIM reaches the row, and observedGeneration follows.
	f.scim.Do(t, http.MethodPatch, "/Users/"+ada, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "replace", "path": "displayName", "value": "Ada Lovelace"}},
	}).Expect(t, http.StatusOK)
	f.awaitUserRow(ada, func(u identitystore.User) string {
		if u.DisplayName != "Ada Lovelace" {
			return "displayName not updated"
		}
		return ""
	})
	f.eventually(10*time.Second, func() (bool, string) {
		u := f.user(ada)
		_ = env.Client.Get(f.ctx, key(u), u)
		return u.Status.ObservedGeneration == u.Generation, fmt.Sprintf("observedGeneration %d, generation %d", u.Status.ObservedGeneration, u.Generation)
	})

	// Okta deactivates: the row stays, inactive.
	f.scim.Do(t, http.MethodPatch, "/Users/"+ada, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "replace", "value": map[string]any{"active": false}}},
	}).Expect(t, http.StatusOK)
	f.awaitUserRow(ada, func(u identitystore.User) string {
		if u.Active {
			return "still active"
		}
		return ""
	})
	f.awaitEvent(f.user(ada), controllers.EventDeactivated, 10*time.Second)

	// Both in a team; then bob is deleted directly (not through SCIM): the finalizer takes
	// him out of the slices and the store, then lets the object go.
	team := f.newTeamObject(naming.NewTeamObjectName(), "Engineering", rosterv1.ManagedBySCIM, ada, bob.Name)
	f.awaitMembers(10*time.Second, team.Name, ada, bob.Name)
	if err := env.Client.Delete(f.ctx, bob); err != nil {
		t.Fatal(err)
	}
	f.awaitGone(bob)
	if _, err := f.store.ObserveUser(f.ctx, f.org.Name, bob.Name); !identitystore.IsNotFound(err) {
		t.Errorf("row of deleted user: %v, want not found", err)
	}
	f.awaitMembers(10*time.Second, team.Name, ada)
	if got := f.sliceMembers(team.Name); !slices.Equal(got, []string{ada}) {
		t.Errorf("slices after deleting bob list %v, want only ada", got)
	}

	// Deleted through SCIM as Entra does: gone from the store too.
	f.scim.Do(t, http.MethodDelete, "/Users/"+ada, nil).Expect(t, http.StatusNoContent)
	f.awaitGone(f.user(ada))
	f.awaitMembers(10*time.Second, team.Name)
	if _, err := f.store.ObserveUser(f.ctx, f.org.Name, ada); !identitystore.IsNotFound(err) {
		t.Errorf("row of user deleted through SCIM: %v, want not found", err)
	}
}

// TestTeamLifecycleSQLite: a team's row and memberships follow its slices, counting only
// existing users; memberCount follows; deletion removes row, memberships and slices.
func TestTeamLifecycleSQLite(t *testing.T) {
	f := newFixture(t, sqliteURL(t), nil)
	ada := f.createUser("ada@example.com", nil)
	bob := f.createUser("bob@example.com", nil)
	ghost := naming.UserObjectName("ghost@example.com") // names no user

	team := f.newTeamObject(naming.NewTeamObjectName(), "Platform", rosterv1.ManagedBySCIM, ada, ghost)
	f.awaitMembers(10*time.Second, team.Name, ada)
	f.eventually(10*time.Second, func() (bool, string) {
		row, err := f.store.ObserveTeam(f.ctx, f.org.Name, team.Name)
		return err == nil && row.DisplayName == "Platform" && row.ManagedBy == identitystore.ManagedBySCIM,
			fmt.Sprintf("team row %+v, %v", row, err)
	})
	// An id that names no user is pruned from the slices: ids derive from userNames, so it
	// would make a user created later with that userName a member.
	f.awaitEvent(f.team(team.Name), controllers.EventMembersPruned, 10*time.Second)
	f.eventually(10*time.Second, func() (bool, string) {
		got := f.sliceMembers(team.Name)
		return slices.Equal(got, []string{ada}), fmt.Sprintf("slices list %v, want only %s", got, ada)
	})
	f.awaitCondition(f.team(team.Name), rosterv1.ConditionSynced, metav1.ConditionTrue, controllers.ReasonInStore, 10*time.Second)
	f.eventually(10*time.Second, func() (bool, string) {
		tm := f.team(team.Name)
		_ = env.Client.Get(f.ctx, key(tm), tm)
		return tm.Status.MemberCount == 1, fmt.Sprintf("memberCount %d, want 1", tm.Status.MemberCount)
	})

	// The user appears later: it is not a member.
	f.newUserObject("ghost@example.com", true)
	// A second slice, as a big team has.
	sl := f.newSlice(team, bob)
	f.awaitMembers(10*time.Second, team.Name, ada, bob)
	// The event of this addition, not the team's first (which added ada).
	f.awaitEventMentioning(f.team(team.Name), controllers.EventMembersAdded, bob, 10*time.Second)
	f.eventually(10*time.Second, func() (bool, string) {
		tm := f.team(team.Name)
		_ = env.Client.Get(f.ctx, key(tm), tm)
		return tm.Status.MemberCount == 2, fmt.Sprintf("memberCount %d, want 2", tm.Status.MemberCount)
	})
	if err := env.Client.Delete(f.ctx, sl); err != nil {
		t.Fatal(err)
	}
	f.awaitMembers(10*time.Second, team.Name, ada)
	f.awaitEventMentioning(f.team(team.Name), controllers.EventMembersRemoved, bob, 10*time.Second)

	// Rename: the row follows. The controller may be writing the team's status at the same
	// moment (it has just recorded the removal): a conflict is retried, as kubectl edit would.
	tm := f.team(team.Name)
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(f.ctx, key(tm), tm); err != nil {
			return err
		}
		tm.Spec.DisplayName = "Platform Eng"
		return env.Client.Update(f.ctx, tm)
	}); err != nil {
		t.Fatal(err)
	}
	f.eventually(10*time.Second, func() (bool, string) {
		row, err := f.store.ObserveTeam(f.ctx, f.org.Name, team.Name)
		return err == nil && row.DisplayName == "Platform Eng", fmt.Sprintf("team row %+v, %v", row, err)
	})

	// The Organization sums it up.
	f.awaitCondition(f.organization(), rosterv1.ConditionSynced, metav1.ConditionTrue, controllers.ReasonInStore, 10*time.Second)
	// Counts are recomputed at most every 2 s.
	f.eventually(10*time.Second, func() (bool, string) {
		org := f.organization()
		if err := env.Client.Get(f.ctx, key(org), org); err != nil {
			return false, err.Error()
		}
		return org.Status.Users == 3 && org.Status.Teams == 1 && org.Status.TokenRotatedAt != nil,
			fmt.Sprintf("organization status: users %d teams %d tokenRotatedAt %v, want 3, 1, set", org.Status.Users, org.Status.Teams, org.Status.TokenRotatedAt)
	})

	// kubectl shows whether each object is in the store.
	out := kubectl(t, "get", "orgusers,orgteams", "-n", f.org.Namespace)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, "NAME") {
			if !strings.Contains(line, "SYNCED") {
				t.Errorf("kubectl get has no SYNCED column:\n%s", out)
			}
			continue
		}
		if line != "" && !strings.Contains(line, "True") {
			t.Errorf("kubectl get shows an object not synced: %q\n%s", line, out)
		}
	}
	if out := kubectl(t, "get", "organization", f.org.Name); !strings.Contains(out, "SYNCED") {
		t.Errorf("kubectl get organization has no SYNCED column:\n%s", out)
	}

	// Deleting the team removes its row, memberships and slices.
	if err := env.Client.Delete(f.ctx, tm); err != nil {
		t.Fatal(err)
	}
	f.awaitGone(tm)
	if _, err := f.store.ObserveTeam(f.ctx, f.org.Name, team.Name); !identitystore.IsNotFound(err) {
		t.Errorf("row of deleted team: %v", err)
	}
	f.awaitMembers(10*time.Second, team.Name)
	f.eventually(10*time.Second, func() (bool, string) {
		got := f.sliceMembers(team.Name)
		return len(got) == 0, fmt.Sprintf("slices of the deleted team still list %v", got)
	})
}

// TestPeriodicResyncSQLite: SQLite has no notifications; the periodic resync reverts a
// membership edited in the file by hand, for a SCIM-managed team only.
func TestPeriodicResyncSQLite(t *testing.T) {
	storeURL := sqliteURL(t)
	f := newFixture(t, storeURL, func(c *app.Config) { c.StoreResyncInterval = 500 * time.Millisecond })
	ada := f.createUser("ada@example.com", nil)
	bob := f.createUser("bob@example.com", nil)
	scimTeam := f.newTeamObject(naming.NewTeamObjectName(), "SCIM team", rosterv1.ManagedBySCIM, ada)
	manual := f.newTeamObject(naming.NewTeamObjectName(), "Manual team", rosterv1.ManagedByManual, ada)
	f.awaitMembers(10*time.Second, scimTeam.Name, ada)
	f.awaitMembers(10*time.Second, manual.Name, ada)
	f.awaitCondition(f.team(manual.Name), rosterv1.ConditionSynced, metav1.ConditionTrue, controllers.ReasonInStore, 10*time.Second)

	// Each team's edit in one transaction: as two, a resync pass between them could revert
	// the first alone, and the drift event awaited below would name only bob.
	for _, team := range []string{manual.Name, scimTeam.Name} {
		sqliteEdit(t, storeURL,
			stmt(`INSERT INTO roster_team_members (org, team_id, user_id) VALUES (?1, ?2, ?3)`, f.org.Name, team, bob),
			stmt(`DELETE FROM roster_team_members WHERE org = ?1 AND team_id = ?2 AND user_id = ?3`, f.org.Name, team, ada))
	}
	f.awaitMembers(10*time.Second, scimTeam.Name, ada)
	msg := f.awaitEvent(f.team(scimTeam.Name), controllers.EventDriftReverted, 10*time.Second)
	if !strings.Contains(msg, bob) || !strings.Contains(msg, ada) {
		t.Errorf("drift event %q does not name what was reverted (%s removed, %s re-added)", msg, bob, ada)
	}
	// Once more, so that resync passes that came after the manual edit certainly ran.
	if err := f.store.AddMembers(f.ctx, f.org.Name, scimTeam.Name, []string{bob}); err != nil {
		t.Fatal(err)
	}
	f.awaitMembers(10*time.Second, scimTeam.Name, ada)
	if got, _ := f.store.ObserveMembers(f.ctx, f.org.Name, manual.Name); !slices.Equal(got, []string{bob}) {
		t.Errorf("manual team's members = %v, want the hand edit [%s] left alone", got, bob)
	}
}

// sqliteEdit runs statements on the file of a sqlite:// store in one transaction, as a person
// in the sqlite3 shell would, beside the Roster that has it open.
func sqliteEdit(t *testing.T, storeURL string, stmts ...pgStmt) {
	t.Helper()
	db, err := sql.Open("sqlite", strings.TrimPrefix(storeURL, "sqlite://")+"?_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		if _, err := tx.Exec(s.sql, s.args...); err != nil {
			_ = tx.Rollback()
			t.Fatalf("%s: %v", s.sql, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, err := env.Environment.ControlPlane.KubeCtl().Run(args...)
	out, _ := io.ReadAll(stdout)
	if err != nil {
		errOut, _ := io.ReadAll(stderr)
		t.Fatalf("kubectl %v: %v: %s", args, err, errOut)
	}
	return string(out)
}
