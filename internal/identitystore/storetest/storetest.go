// Package storetest is the conformance suite every identity store driver
// must pass: each promise of identitystore.Store (and of Notifier, when the
// store implements it) is a subtest.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/identitystore"
	"github.com/rosterhq/roster/internal/naming"
)

// Run runs the suite. newStore must return a new, empty store each time it
// is called and close it when the test ends (t.Cleanup).
func Run(t *testing.T, newStore func(t *testing.T) identitystore.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, identitystore.Store)
	}{
		{"User/CreateThenObserve", testUserCreateThenObserve},
		{"User/CreateIsIdempotent", testUserCreateIsIdempotent},
		{"User/CreateOverwritesExisting", testUserCreateOverwrites},
		{"User/Update", testUserUpdate},
		{"User/NotFound", testUserNotFound},
		{"User/DeleteIsIdempotent", testUserDeleteIsIdempotent},
		{"User/UserNameUniqueIgnoringCase", testUserNameUnique},
		{"User/UserNameFoldsAsRosterDoes", testUserNameFolding},
		{"User/DeactivatedUserKeepsRowAndMemberships", testUserDeactivated},
		{"User/ExtensionsRoundTrip", testUserExtensions},
		{"User/ExtensionNumbersCompareAsValues", testUserExtensionNumbers},
		{"Team/CreateObserveUpdateDelete", testTeamLifecycle},
		{"Team/ExtensionsRoundTrip", testTeamExtensions},
		{"Team/NotFound", testTeamNotFound},
		{"Members/AddObserveRemove", testMembersAddObserveRemove},
		{"Members/SortedBytewise", testMembersSorted},
		{"Members/BatchesOfThousands", testMembersLargeBatches},
		{"Members/BeforeUserAndTeamRows", testMembersBeforeRows},
		{"Members/DeleteUserRemovesMemberships", testDeleteUserRemovesMemberships},
		{"Members/DeleteTeamRemovesMemberships", testDeleteTeamRemovesMemberships},
		{"Members/ConcurrentAddsLoseNothing", testConcurrentAdds},
		{"OrgsAreIsolated", testOrgsIsolated},
		{"InvalidInputIsRejected", testInvalidInput},
		{"CanceledContextIsNotUnavailable", testCanceledContext},
		{"Ping", func(t *testing.T, s identitystore.Store) { must(t, s.Ping(t.Context())) }},
		{"Notifier/ReportsChangedTeams", testNotifierReportsChanges},
		{"Notifier/ClosesChannelWhenContextEnds", testNotifierCloses},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr fails unless err wraps target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error = %v, want one wrapping %q", what, err, target)
	}
}

func alice(org string) identitystore.User {
	return identitystore.User{
		Org: org, ID: "2819c223-7f76-453a-919d-413861904646", UserName: "alice@example.com",
		ExternalID: "00u1esetp8bCqzUVa0h7", DisplayName: "Alice Liddell", GivenName: "Alice",
		FamilyName: "Liddell", Email: "alice@example.com", Active: true, ManagedBy: identitystore.ManagedBySCIM,
	}
}

func engineering(org string) identitystore.Team {
	return identitystore.Team{
		Org: org, ID: "e9e30dba-f08f-4109-8486-d5c6a331660a", DisplayName: "Engineering",
		ExternalID: "00g1emaKYZTWRYYRRTSK", ManagedBy: identitystore.ManagedBySCIM,
	}
}

// sameUser compares everything but the timestamps.
func sameUser(t *testing.T, got, want identitystore.User) {
	t.Helper()
	got.CreatedAt, got.UpdatedAt = time.Time{}, time.Time{}
	want.CreatedAt, want.UpdatedAt = time.Time{}, time.Time{}
	want.Extensions = canonical(t, want.Extensions)
	if got != want {
		t.Fatalf("user = %+v\nwant   %+v", got, want)
	}
}

func sameTeam(t *testing.T, got, want identitystore.Team) {
	t.Helper()
	got.CreatedAt, got.UpdatedAt = time.Time{}, time.Time{}
	want.CreatedAt, want.UpdatedAt = time.Time{}, time.Time{}
	want.Extensions = canonical(t, want.Extensions)
	if got != want {
		t.Fatalf("team = %+v\nwant   %+v", got, want)
	}
}

func observeUser(t *testing.T, s identitystore.Store, org, id string) identitystore.User {
	t.Helper()
	u, err := s.ObserveUser(t.Context(), org, id)
	must(t, err)
	return u
}

func members(t *testing.T, s identitystore.Store, org, teamID string) []string {
	t.Helper()
	ids, err := s.ObserveMembers(t.Context(), org, teamID)
	must(t, err)
	return ids
}

func wantMembers(t *testing.T, s identitystore.Store, org, teamID string, want []string) {
	t.Helper()
	got := members(t, s, org, teamID)
	if !slices.Equal(got, want) {
		if len(got) > 20 || len(want) > 20 {
			t.Fatalf("members of %s/%s: got %d ids, want %d (first got %.5q, first want %.5q)",
				org, teamID, len(got), len(want), got, want)
		}
		t.Fatalf("members of %s/%s = %q, want %q", org, teamID, got, want)
	}
}

// userIDs returns n distinct ids that sort in the order they are returned.
func userIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%06d", prefix, i)
	}
	return ids
}

// pause makes sure the store's clock, which has microsecond resolution, has
// moved on, so that a write that wrongly bumps updated_at is visible.
func pause() { time.Sleep(2 * time.Millisecond) }

func testUserCreateThenObserve(t *testing.T, s identitystore.Store) {
	before := time.Now().UTC().Truncate(time.Microsecond)
	want := alice("acme")
	must(t, s.CreateUser(t.Context(), want))
	after := time.Now().UTC()

	got := observeUser(t, s, "acme", want.ID)
	sameUser(t, got, want)
	if got.CreatedAt.Before(before) || got.CreatedAt.After(after) {
		t.Errorf("CreatedAt = %v, want between %v and %v", got.CreatedAt, before, after)
	}
	if !got.UpdatedAt.Equal(got.CreatedAt) {
		t.Errorf("UpdatedAt = %v, want CreatedAt %v on a new row", got.UpdatedAt, got.CreatedAt)
	}
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt location = %v, want UTC", got.CreatedAt.Location())
	}
}

func testUserCreateIsIdempotent(t *testing.T, s identitystore.Store) {
	u := alice("acme")
	must(t, s.CreateUser(t.Context(), u))
	first := observeUser(t, s, "acme", u.ID)
	pause()
	// A controller retrying after a lost reply must not fail, and writing
	// the same values must not touch updated_at.
	must(t, s.CreateUser(t.Context(), u))
	again := observeUser(t, s, "acme", u.ID)
	if again != first {
		t.Fatalf("after re-creating unchanged user: %+v, want unchanged %+v", again, first)
	}
}

func testUserCreateOverwrites(t *testing.T, s identitystore.Store) {
	u := alice("acme")
	must(t, s.CreateUser(t.Context(), u))
	first := observeUser(t, s, "acme", u.ID)
	pause()
	u.DisplayName, u.Email = "Alice Kingsleigh", "alice.k@example.com"
	must(t, s.CreateUser(t.Context(), u))
	got := observeUser(t, s, "acme", u.ID)
	sameUser(t, got, u)
	if !got.CreatedAt.Equal(first.CreatedAt) {
		t.Errorf("CreatedAt changed on upsert: %v -> %v", first.CreatedAt, got.CreatedAt)
	}
	if !got.UpdatedAt.After(first.UpdatedAt) {
		t.Errorf("UpdatedAt = %v, want after %v", got.UpdatedAt, first.UpdatedAt)
	}
}

func testUserUpdate(t *testing.T, s identitystore.Store) {
	u := alice("acme")
	must(t, s.CreateUser(t.Context(), u))
	first := observeUser(t, s, "acme", u.ID)
	pause()

	// Every column but the key changes.
	u = identitystore.User{
		Org: "acme", ID: u.ID, UserName: "ALICE@example.com", ExternalID: "ext-2",
		DisplayName: "A. L.", GivenName: "A", FamilyName: "L", Email: "a@example.org",
		Active: false, ManagedBy: "manual",
	}
	must(t, s.UpdateUser(t.Context(), u))
	got := observeUser(t, s, "acme", u.ID)
	sameUser(t, got, u)
	if !got.CreatedAt.Equal(first.CreatedAt) || !got.UpdatedAt.After(first.UpdatedAt) {
		t.Errorf("timestamps after update: created %v updated %v; before: created %v updated %v",
			got.CreatedAt, got.UpdatedAt, first.CreatedAt, first.UpdatedAt)
	}

	pause()
	must(t, s.UpdateUser(t.Context(), u)) // unchanged: succeeds, no churn
	if again := observeUser(t, s, "acme", u.ID); again != got {
		t.Errorf("no-op update changed the row: %+v, want %+v", again, got)
	}
}

func testUserNotFound(t *testing.T, s identitystore.Store) {
	_, err := s.ObserveUser(t.Context(), "acme", "nobody")
	wantErr(t, "ObserveUser of a missing user", err, identitystore.ErrNotFound)
	if !identitystore.IsNotFound(err) || identitystore.IsUnavailable(err) {
		t.Errorf("IsNotFound = %v, IsUnavailable = %v for %v; want true, false",
			identitystore.IsNotFound(err), identitystore.IsUnavailable(err), err)
	}
	err = s.UpdateUser(t.Context(), alice("acme"))
	wantErr(t, "UpdateUser of a missing user", err, identitystore.ErrNotFound)
	if _, err := s.ObserveUser(t.Context(), "acme", alice("acme").ID); !identitystore.IsNotFound(err) {
		t.Fatalf("UpdateUser of a missing user created it (Observe: %v)", err)
	}
}

func testUserDeleteIsIdempotent(t *testing.T, s identitystore.Store) {
	u := alice("acme")
	must(t, s.DeleteUser(t.Context(), "acme", u.ID)) // never existed
	must(t, s.CreateUser(t.Context(), u))
	must(t, s.DeleteUser(t.Context(), "acme", u.ID))
	must(t, s.DeleteUser(t.Context(), "acme", u.ID))
	_, err := s.ObserveUser(t.Context(), "acme", u.ID)
	wantErr(t, "ObserveUser after DeleteUser", err, identitystore.ErrNotFound)

	// The id can be used again and starts afresh.
	must(t, s.CreateUser(t.Context(), u))
	sameUser(t, observeUser(t, s, "acme", u.ID), u)
}

func testUserNameUnique(t *testing.T, s identitystore.Store) {
	a := alice("acme")
	must(t, s.CreateUser(t.Context(), a))

	b := a
	b.ID, b.UserName = "other-id", "Alice@Example.COM"
	wantErr(t, "CreateUser with another user's userName in other case", s.CreateUser(t.Context(), b), identitystore.ErrConflict)
	if _, err := s.ObserveUser(t.Context(), "acme", b.ID); !identitystore.IsNotFound(err) {
		t.Fatalf("conflicting user was written (Observe: %v)", err)
	}

	b.UserName = "bob@example.com"
	must(t, s.CreateUser(t.Context(), b))
	b.UserName = "ALICE@EXAMPLE.COM"
	wantErr(t, "UpdateUser to another user's userName", s.UpdateUser(t.Context(), b), identitystore.ErrConflict)
	if got := observeUser(t, s, "acme", b.ID); got.UserName != "bob@example.com" {
		t.Fatalf("conflicting update was written: userName %q", got.UserName)
	}

	// A user may change the case of its own name, and other orgs are free
	// to use the same name.
	a.UserName = "ALICE@example.com"
	must(t, s.UpdateUser(t.Context(), a))
	other := alice("globex")
	other.ID = "globex-alice"
	must(t, s.CreateUser(t.Context(), other))
}

// testUserNameFolding: two userNames are one user in the store exactly when Roster makes them
// one user (the same naming.Fold, so the same id), whatever the database's lower() would say:
// SQLite's folds ASCII only, PostgreSQL's follows the locale.
func testUserNameFolding(t *testing.T, s identitystore.Store) {
	pairs := []struct {
		first, second string
		one           bool
	}{
		{"ÉVA.Müller@example.de", "éva.müller@EXAMPLE.de", true},
		{"İlkay@example.com", "ilkay@example.com", true},
		{"STRAẞE@example.de", "straße@example.de", true},
		{"Γιώργος@example.gr", "ΓΙΏΡΓΟΣ@example.gr", false}, // final sigma is not capital sigma
		{"ſam@example.com", "sam@example.com", false},
		{"ılker@example.com", "ILKER@example.com", false}, // dotless i
	}
	for i, p := range pairs {
		if same := naming.UserObjectName(p.first) == naming.UserObjectName(p.second); same != p.one {
			t.Fatalf("test table disagrees with naming: %q and %q one user = %v", p.first, p.second, same)
		}
		a := identitystore.User{Org: "acme", ID: fmt.Sprintf("a%d", i), UserName: p.first, Active: true}
		b := identitystore.User{Org: "acme", ID: fmt.Sprintf("b%d", i), UserName: p.second, Active: true}
		must(t, s.CreateUser(t.Context(), a))
		err := s.CreateUser(t.Context(), b)
		if p.one {
			wantErr(t, fmt.Sprintf("CreateUser(%q) next to %q", p.second, p.first), err, identitystore.ErrConflict)
			continue
		}
		if err != nil {
			t.Errorf("CreateUser(%q) next to %q: %v; Roster holds them to be two users", p.second, p.first, err)
		}
	}
	// Changing the case of one's own userName is no conflict, in any script.
	u := identitystore.User{Org: "acme", ID: "a0", UserName: "éva.müller@example.de", Active: true}
	must(t, s.UpdateUser(t.Context(), u))
}

func testUserDeactivated(t *testing.T, s identitystore.Store) {
	u, team := alice("acme"), engineering("acme")
	must(t, s.CreateUser(t.Context(), u))
	must(t, s.CreateTeam(t.Context(), team))
	must(t, s.AddMembers(t.Context(), "acme", team.ID, []string{u.ID}))

	u.Active = false
	must(t, s.UpdateUser(t.Context(), u))
	if got := observeUser(t, s, "acme", u.ID); got.Active {
		t.Fatal("user still active after deactivation")
	}
	wantMembers(t, s, "acme", team.ID, []string{u.ID})
}

func testTeamLifecycle(t *testing.T, s identitystore.Store) {
	ctx := t.Context()
	team := engineering("acme")
	must(t, s.CreateTeam(ctx, team))
	first, err := s.ObserveTeam(ctx, "acme", team.ID)
	must(t, err)
	sameTeam(t, first, team)
	if first.CreatedAt.IsZero() || !first.UpdatedAt.Equal(first.CreatedAt) {
		t.Errorf("new team timestamps: created %v updated %v", first.CreatedAt, first.UpdatedAt)
	}

	pause()
	must(t, s.CreateTeam(ctx, team)) // idempotent, no churn
	if again, err := s.ObserveTeam(ctx, "acme", team.ID); err != nil || again != first {
		t.Fatalf("re-creating an unchanged team: %+v, %v; want %+v", again, err, first)
	}

	team.DisplayName, team.ExternalID, team.ManagedBy = "Platform Engineering", "", ""
	must(t, s.UpdateTeam(ctx, team))
	got, err := s.ObserveTeam(ctx, "acme", team.ID)
	must(t, err)
	sameTeam(t, got, team)
	if !got.CreatedAt.Equal(first.CreatedAt) || !got.UpdatedAt.After(first.UpdatedAt) {
		t.Errorf("timestamps after update: created %v updated %v; before: %v %v",
			got.CreatedAt, got.UpdatedAt, first.CreatedAt, first.UpdatedAt)
	}

	team.DisplayName = "Engineering"
	must(t, s.CreateTeam(ctx, team)) // upsert over an existing team
	got, err = s.ObserveTeam(ctx, "acme", team.ID)
	must(t, err)
	sameTeam(t, got, team)

	must(t, s.DeleteTeam(ctx, "acme", team.ID))
	must(t, s.DeleteTeam(ctx, "acme", team.ID))
	_, err = s.ObserveTeam(ctx, "acme", team.ID)
	wantErr(t, "ObserveTeam after DeleteTeam", err, identitystore.ErrNotFound)
}

func testTeamNotFound(t *testing.T, s identitystore.Store) {
	_, err := s.ObserveTeam(t.Context(), "acme", "missing")
	wantErr(t, "ObserveTeam of a missing team", err, identitystore.ErrNotFound)
	wantErr(t, "UpdateTeam of a missing team", s.UpdateTeam(t.Context(), engineering("acme")), identitystore.ErrNotFound)
	must(t, s.DeleteTeam(t.Context(), "acme", "missing"))
}

func testMembersAddObserveRemove(t *testing.T, s identitystore.Store) {
	ctx := t.Context()
	team := engineering("acme").ID
	must(t, s.AddMembers(ctx, "acme", team, []string{"carol", "alice", "bob"}))
	wantMembers(t, s, "acme", team, []string{"alice", "bob", "carol"})

	// Present members and duplicates within a batch are ignored.
	must(t, s.AddMembers(ctx, "acme", team, []string{"bob", "dave", "dave", "alice"}))
	wantMembers(t, s, "acme", team, []string{"alice", "bob", "carol", "dave"})

	// Ids that are not members are ignored.
	must(t, s.RemoveMembers(ctx, "acme", team, []string{"bob", "zed", "bob"}))
	wantMembers(t, s, "acme", team, []string{"alice", "carol", "dave"})

	must(t, s.AddMembers(ctx, "acme", team, nil))
	must(t, s.RemoveMembers(ctx, "acme", team, []string{}))
	wantMembers(t, s, "acme", team, []string{"alice", "carol", "dave"})

	must(t, s.RemoveMembers(ctx, "acme", team, []string{"alice", "carol", "dave"}))
	if got := members(t, s, "acme", team); len(got) != 0 {
		t.Fatalf("members after removing all = %q, want none", got)
	}
}

func testMembersSorted(t *testing.T, s identitystore.Store) {
	// Bytewise order, as sort.Strings: upper case before lower case,
	// digits before letters, multi-byte UTF-8 last. A database collation
	// that sorted "by language" would get these wrong.
	ids := []string{"b", "B", "a", "A", "_x", "-x", "10", "9", "é", "e", "Z", "zz", "z"}
	team := engineering("acme").ID
	must(t, s.AddMembers(t.Context(), "acme", team, ids))
	want := slices.Clone(ids)
	slices.Sort(want)
	wantMembers(t, s, "acme", team, want)
}

func testMembersLargeBatches(t *testing.T, s identitystore.Store) {
	ctx := t.Context()
	team := engineering("acme").ID
	ids := userIDs("user", 2500)
	shuffled := slices.Clone(ids)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) {
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	})

	must(t, s.AddMembers(ctx, "acme", team, shuffled[:1500]))
	must(t, s.AddMembers(ctx, "acme", team, shuffled[1000:])) // overlaps by 500
	wantMembers(t, s, "acme", team, ids)

	must(t, s.RemoveMembers(ctx, "acme", team, shuffled[:2000]))
	rest := slices.Clone(shuffled[2000:])
	slices.Sort(rest)
	wantMembers(t, s, "acme", team, rest)
}

func testMembersBeforeRows(t *testing.T, s identitystore.Store) {
	// Controllers run independently: the membership controller may win
	// the race against the user and team controllers.
	ctx := t.Context()
	u, team := alice("acme"), engineering("acme")
	must(t, s.AddMembers(ctx, "acme", team.ID, []string{u.ID}))
	wantMembers(t, s, "acme", team.ID, []string{u.ID})
	must(t, s.CreateUser(ctx, u))
	must(t, s.CreateTeam(ctx, team))
	wantMembers(t, s, "acme", team.ID, []string{u.ID})
}

func testDeleteUserRemovesMemberships(t *testing.T, s identitystore.Store) {
	ctx := t.Context()
	u := alice("acme")
	must(t, s.CreateUser(ctx, u))
	for _, team := range []string{"t1", "t2"} {
		must(t, s.AddMembers(ctx, "acme", team, []string{u.ID, "bob"}))
	}
	// The same user id in another org is another user.
	must(t, s.AddMembers(ctx, "globex", "t1", []string{u.ID}))

	must(t, s.DeleteUser(ctx, "acme", u.ID))
	wantMembers(t, s, "acme", "t1", []string{"bob"})
	wantMembers(t, s, "acme", "t2", []string{"bob"})
	wantMembers(t, s, "globex", "t1", []string{u.ID})

	// Also when only memberships exist, without a user row.
	must(t, s.DeleteUser(ctx, "acme", "bob"))
	wantMembers(t, s, "acme", "t1", nil)
}

func testDeleteTeamRemovesMemberships(t *testing.T, s identitystore.Store) {
	ctx := t.Context()
	team := engineering("acme")
	must(t, s.CreateTeam(ctx, team))
	must(t, s.AddMembers(ctx, "acme", team.ID, userIDs("u", 1200)))
	must(t, s.AddMembers(ctx, "acme", "other-team", []string{"u-000001"}))

	must(t, s.DeleteTeam(ctx, "acme", team.ID))
	wantMembers(t, s, "acme", team.ID, nil)
	wantMembers(t, s, "acme", "other-team", []string{"u-000001"})

	// A team re-created with the same id does not get the old members back.
	must(t, s.CreateTeam(ctx, team))
	wantMembers(t, s, "acme", team.ID, nil)
}

func testConcurrentAdds(t *testing.T, s identitystore.Store) {
	// Eight writers add overlapping batches, each in its own order, to the
	// same team at the same time; every id must end up a member.
	const writers, perWriter = 8, 300
	all := userIDs("user", 1000)
	team := engineering("acme").ID
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for w := range writers {
		r := rand.New(rand.NewPCG(uint64(w), 42))
		batch := slices.Clone(all)
		r.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
		batch = batch[:perWriter]
		// Writer w also owns a slice of ids nobody else adds, so the union
		// is all ids.
		batch = append(batch, all[w*125:(w+1)*125]...)
		wg.Go(func() {
			// Split into several calls so the writers interleave.
			for chunk := range slices.Chunk(batch, 85) {
				if err := s.AddMembers(t.Context(), "acme", team, chunk); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	must(t, errors.Join(errs...))
	wantMembers(t, s, "acme", team, all)
}

func testOrgsIsolated(t *testing.T, s identitystore.Store) {
	ctx := t.Context()
	a, b := alice("acme"), alice("globex") // same id and userName
	ta, tb := engineering("acme"), engineering("globex")
	must(t, s.CreateUser(ctx, a))
	must(t, s.CreateUser(ctx, b))
	must(t, s.CreateTeam(ctx, ta))
	must(t, s.CreateTeam(ctx, tb))
	must(t, s.AddMembers(ctx, "acme", ta.ID, []string{a.ID, "acme-only"}))
	must(t, s.AddMembers(ctx, "globex", tb.ID, []string{b.ID}))

	a.DisplayName = "Acme Alice"
	must(t, s.UpdateUser(ctx, a))
	ta.DisplayName = "Acme Engineering"
	must(t, s.UpdateTeam(ctx, ta))
	if got := observeUser(t, s, "globex", b.ID); got.DisplayName != b.DisplayName {
		t.Errorf("updating acme's user changed globex's: %q", got.DisplayName)
	}
	if got, err := s.ObserveTeam(ctx, "globex", tb.ID); err != nil || got.DisplayName != tb.DisplayName {
		t.Errorf("updating acme's team changed globex's: %+v, %v", got, err)
	}
	wantMembers(t, s, "globex", tb.ID, []string{b.ID})

	must(t, s.RemoveMembers(ctx, "acme", ta.ID, []string{a.ID}))
	wantMembers(t, s, "globex", tb.ID, []string{b.ID})
	must(t, s.DeleteTeam(ctx, "acme", ta.ID))
	must(t, s.DeleteUser(ctx, "acme", a.ID))
	sameUser(t, observeUser(t, s, "globex", b.ID), b)
	if _, err := s.ObserveTeam(ctx, "globex", tb.ID); err != nil {
		t.Errorf("deleting acme's team deleted globex's: %v", err)
	}
	wantMembers(t, s, "globex", tb.ID, []string{b.ID})
}

func testInvalidInput(t *testing.T, s identitystore.Store) {
	ctx := t.Context()
	noOrg, noID, noName := alice(""), alice("acme"), alice("acme")
	noID.ID, noName.UserName = "", ""
	for name, err := range map[string]error{
		"CreateUser without org":      s.CreateUser(ctx, noOrg),
		"CreateUser without id":       s.CreateUser(ctx, noID),
		"CreateUser without userName": s.CreateUser(ctx, noName),
		"UpdateUser without userName": s.UpdateUser(ctx, noName),
		"DeleteUser without id":       s.DeleteUser(ctx, "acme", ""),
		"CreateTeam without id":       s.CreateTeam(ctx, identitystore.Team{Org: "acme"}),
		"DeleteTeam without org":      s.DeleteTeam(ctx, "", "t"),
		"AddMembers with empty id":    s.AddMembers(ctx, "acme", "t", []string{"a", "", "b"}),
		"RemoveMembers without team":  s.RemoveMembers(ctx, "acme", "", []string{"a"}),
	} {
		wantErr(t, name, err, identitystore.ErrInvalid)
	}
	_, err := s.ObserveMembers(ctx, "", "t")
	wantErr(t, "ObserveMembers without org", err, identitystore.ErrInvalid)
	// The batch with an empty id was refused whole.
	wantMembers(t, s, "acme", "t", nil)
}

func testCanceledContext(t *testing.T, s identitystore.Store) {
	// A controller shutting down cancels its context; that must not be
	// reported as the store being down.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.AddMembers(ctx, "acme", "t", []string{"a"})
	if err == nil {
		t.Fatal("AddMembers with a canceled context succeeded")
	}
	if identitystore.IsUnavailable(err) {
		t.Fatalf("canceled context reported as unavailable: %v", err)
	}
}

// waitForChange reads ch until want arrives; other changes may come first.
func waitForChange(t *testing.T, ch <-chan identitystore.Change, want identitystore.Change) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case c, ok := <-ch:
			if !ok {
				t.Fatalf("change channel closed while waiting for %+v", want)
			}
			if c == want {
				return
			}
		case <-timeout:
			t.Fatalf("no change %+v within 10s", want)
		}
	}
}

func testNotifierReportsChanges(t *testing.T, s identitystore.Store) {
	n, ok := s.(identitystore.Notifier)
	if !ok {
		t.Skip("store does not implement identitystore.Notifier")
	}
	ctx := t.Context()
	ch, err := n.Watch(ctx)
	must(t, err)

	must(t, s.AddMembers(ctx, "acme", "t1", userIDs("u", 1000)))
	waitForChange(t, ch, identitystore.Change{Org: "acme", TeamID: "t1"})
	must(t, s.RemoveMembers(ctx, "acme", "t1", []string{"u-000001"}))
	waitForChange(t, ch, identitystore.Change{Org: "acme", TeamID: "t1"})

	// Deleting a user changes every team it was in.
	must(t, s.AddMembers(ctx, "acme", "t2", []string{"u-000002"}))
	waitForChange(t, ch, identitystore.Change{Org: "acme", TeamID: "t2"})
	must(t, s.DeleteUser(ctx, "acme", "u-000002"))
	waitForChange(t, ch, identitystore.Change{Org: "acme", TeamID: "t1"})
	waitForChange(t, ch, identitystore.Change{Org: "acme", TeamID: "t2"})

	must(t, s.DeleteTeam(ctx, "globex", "t3")) // no members: nothing to report
	must(t, s.AddMembers(ctx, "globex", "t3", []string{"x"}))
	must(t, s.DeleteTeam(ctx, "globex", "t3"))
	waitForChange(t, ch, identitystore.Change{Org: "globex", TeamID: "t3"})
}

func testNotifierCloses(t *testing.T, s identitystore.Store) {
	n, ok := s.(identitystore.Notifier)
	if !ok {
		t.Skip("store does not implement identitystore.Notifier")
	}
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := n.Watch(ctx)
	must(t, err)
	cancel()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("change channel still open 10s after its context ended")
		}
	}
}

func canonical(t *testing.T, s string) string {
	t.Helper()
	c, err := identitystore.CanonicalJSON(s)
	must(t, err)
	return c
}

// acmeValues are extension values as a controller writes them: keys in any order, numbers
// that must not turn into floats, nested objects and arrays.
const acmeValues = `{"urn:ietf:params:scim:schemas:extension:acme:2.0:User": {"level": 3, "costCenter": "4711",
	"salary": 12345678901234567890, "address": {"zip": "75001", "city": "Paris"}, "tags": [{"value": "a"}]}}`

// testUserExtensions: the extensions column round-trips in canonical form, an identical
// rewrite leaves updated_at alone, a change is written, and a value that is not a JSON object
// is refused.
func testUserExtensions(t *testing.T, s identitystore.Store) {
	ctx := t.Context()
	u := alice("acme")
	u.Extensions = acmeValues
	must(t, s.CreateUser(ctx, u))
	got := observeUser(t, s, u.Org, u.ID)
	want := `{"urn:ietf:params:scim:schemas:extension:acme:2.0:User":{"address":{"city":"Paris","zip":"75001"},"costCenter":"4711","level":3,"salary":12345678901234567890,"tags":[{"value":"a"}]}}`
	if got.Extensions != want {
		t.Fatalf("extensions = %s\nwant         %s", got.Extensions, want)
	}
	must(t, s.UpdateUser(ctx, u)) // the same values, spelled differently
	if again := observeUser(t, s, u.Org, u.ID); !again.UpdatedAt.Equal(got.UpdatedAt) {
		t.Errorf("rewriting equal extensions moved updated_at from %v to %v", got.UpdatedAt, again.UpdatedAt)
	}
	u.Extensions = `{"urn:ietf:params:scim:schemas:extension:acme:2.0:User":{"costCenter":"9"}}`
	must(t, s.CreateUser(ctx, u))
	sameUser(t, observeUser(t, s, u.Org, u.ID), u)
	u.Extensions = ""
	must(t, s.UpdateUser(ctx, u))
	if got := observeUser(t, s, u.Org, u.ID); got.Extensions != "{}" {
		t.Errorf("cleared extensions = %q, want {}", got.Extensions)
	}
	for _, bad := range []string{`[1]`, `"x"`, `{"a":`, `null`} {
		u.Extensions = bad
		wantErr(t, "extensions "+bad, s.CreateUser(ctx, u), identitystore.ErrInvalid)
	}
}

// testTeamExtensions is testUserExtensions for teams.
func testTeamExtensions(t *testing.T, s identitystore.Store) {
	ctx := t.Context()
	tm := engineering("acme")
	tm.Extensions = `{"urn:acme:Group": {"b": 2, "a": true}}`
	must(t, s.CreateTeam(ctx, tm))
	got, err := s.ObserveTeam(ctx, tm.Org, tm.ID)
	must(t, err)
	if got.Extensions != `{"urn:acme:Group":{"a":true,"b":2}}` {
		t.Fatalf("team extensions = %s", got.Extensions)
	}
	tm.Extensions = `{"urn:acme:Group":{"a":false}}`
	must(t, s.UpdateTeam(ctx, tm))
	got, err = s.ObserveTeam(ctx, tm.Org, tm.ID)
	must(t, err)
	sameTeam(t, got, tm)
	tm.Extensions = `[]`
	wantErr(t, "team extensions []", s.CreateTeam(ctx, tm), identitystore.ErrInvalid)
}

// testUserExtensionNumbers: numbers some drivers spell differently when read back (PostgreSQL's
// jsonb::text writes 1e+21 as 1000000000000000000000) must still compare equal to what was
// written, with the comparison the controllers use, or every reconcile rewrites the row.
func testUserExtensionNumbers(t *testing.T, s identitystore.Store) {
	ctx := t.Context()
	u := alice("acme")
	u.Extensions = `{"urn:acme:User":{"big":1e+21,"tiny":1E-7,"dec":1.50,"huge":12345678901234567890,"list":[2e3,0.0]}}`
	must(t, s.CreateUser(ctx, u))
	got := observeUser(t, s, u.Org, u.ID)
	if !identitystore.SameJSON(got.Extensions, u.Extensions) {
		t.Errorf("read back %s, written %s: not equal as JSON values", got.Extensions, u.Extensions)
	}
	if identitystore.SameJSON(got.Extensions, `{"urn:acme:User":{"big":1e+21,"tiny":1E-7,"dec":1.50,"huge":12345678901234567891,"list":[2e3,0.0]}}`) {
		t.Errorf("%s equals a value that differs in its last digit", got.Extensions)
	}
}
