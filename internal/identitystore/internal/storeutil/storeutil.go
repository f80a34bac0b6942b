// Package storeutil holds the input checks and conventions that every
// identity store driver applies the same way.
package storeutil

import (
	"fmt"
	"slices"
	"time"

	"github.com/rosterhq/roster/internal/identitystore"
)

// Key checks the org and id that address one row.
func Key(kind, org, id string) error {
	if org == "" {
		return fmt.Errorf("identitystore: %s %q: empty org: %w", kind, id, identitystore.ErrInvalid)
	}
	if id == "" {
		return fmt.Errorf("identitystore: %s in org %q: empty id: %w", kind, org, identitystore.ErrInvalid)
	}
	return nil
}

// User checks a user before it is written.
func User(u identitystore.User) error {
	if err := Key("user", u.Org, u.ID); err != nil {
		return err
	}
	if u.UserName == "" {
		return fmt.Errorf("identitystore: user %s/%s: empty userName: %w", u.Org, u.ID, identitystore.ErrInvalid)
	}
	if _, err := identitystore.CanonicalJSON(u.Extensions); err != nil {
		return fmt.Errorf("identitystore: user %s/%s: extensions: %w", u.Org, u.ID, err)
	}
	return nil
}

// Team checks a team before it is written.
func Team(t identitystore.Team) error {
	if err := Key("team", t.Org, t.ID); err != nil {
		return err
	}
	if _, err := identitystore.CanonicalJSON(t.Extensions); err != nil {
		return fmt.Errorf("identitystore: team %s/%s: extensions: %w", t.Org, t.ID, err)
	}
	return nil
}

// Extensions is the canonical form of checked extension values (User and Team checked them).
func Extensions(s string) string {
	c, _ := identitystore.CanonicalJSON(s)
	return c
}

// Members checks a membership batch and returns its user ids sorted and
// without duplicates. Sorting gives every writer the same lock order, so
// concurrent batches that overlap cannot deadlock on PostgreSQL.
func Members(org, teamID string, userIDs []string) ([]string, error) {
	if err := Key("team", org, teamID); err != nil {
		return nil, err
	}
	ids := slices.Clone(userIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) > 0 && ids[0] == "" {
		return nil, fmt.Errorf("identitystore: team %s/%s: empty user id in members: %w", org, teamID, identitystore.ErrInvalid)
	}
	return ids, nil
}

// Now is the time the drivers stamp rows with: UTC, truncated to the
// microsecond precision that both PostgreSQL and the SQLite text format keep,
// so a value read back equals the value written.
func Now() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond)
}
