// Package identitystore defines the contract between Roster's controllers and
// the downstream identity store: the database that the rest of the platform
// reads users, teams and team memberships from.
//
// Every operation is idempotent and shaped like a Crossplane external client:
// Observe reports what exists, Create never fails because the row already
// exists (it upserts), Update changes an existing row, Delete never fails
// because the row is already gone. Controllers can therefore retry any call
// after any failure.
//
// Drivers live in sub-packages (sqlite, postgres); package open picks one by
// URL. The SQL schema they create is a contract of its own, documented in
// docs/identity-store.md.
package identitystore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// ManagedBySCIM is the ManagedBy value of users and teams provisioned by an
// identity provider through SCIM. The memberships of such a team mirror the
// identity provider's group and are reverted if changed anywhere else.
const ManagedBySCIM = "scim"

// User is one user of an organization.
type User struct {
	// Org is the organization's login name; every row belongs to one org.
	Org string
	// ID is the SCIM id Roster assigned to the user; unique within Org.
	ID string
	// UserName is the SCIM userName, unique within Org ignoring case as
	// naming.Fold folds it (the store keeps that folding in a column).
	UserName string
	// ExternalID is the identity provider's id for the user, "" if unknown.
	ExternalID  string
	DisplayName string
	GivenName   string
	FamilyName  string
	// Email is the primary email address, "" if none.
	Email string
	// Active is false for a user the identity provider deactivated. A
	// deactivated user keeps its row (and its memberships) until deleted.
	Active bool
	// ManagedBy names the system that owns the user, e.g. ManagedBySCIM.
	ManagedBy string
	// Extensions are the values of the organization's custom extension schemas: a JSON
	// object keyed by schema URN ("" or "{}" for none). Stores return it in CanonicalJSON
	// form.
	Extensions string
	// CreatedAt and UpdatedAt are set by the store and ignored on writes.
	// UpdatedAt only moves when a column actually changes.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Team is one team (a SCIM group) of an organization.
type Team struct {
	// Org is the organization's login name.
	Org string
	// ID is the SCIM id Roster assigned to the group; unique within Org.
	ID          string
	DisplayName string
	// ExternalID is the identity provider's id for the group, "" if unknown.
	ExternalID string
	// ManagedBy is ManagedBySCIM for teams pushed by an identity provider and
	// "" for teams managed by hand.
	ManagedBy string
	// Extensions: as User.Extensions.
	Extensions string
	// CreatedAt and UpdatedAt are set by the store and ignored on writes.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Store is the downstream identity store. Implementations are safe for
// concurrent use.
//
// Errors are wrapped; test them with errors.Is against ErrNotFound,
// ErrConflict and ErrInvalid, or with IsUnavailable.
type Store interface {
	// ObserveUser returns the user, or an error wrapping ErrNotFound.
	ObserveUser(ctx context.Context, org, id string) (User, error)
	// CreateUser inserts the user, or overwrites it if a user with the same
	// Org and ID exists. It fails with ErrConflict if another user of the org
	// has the same UserName ignoring case (the same naming.Fold).
	CreateUser(ctx context.Context, u User) error
	// UpdateUser overwrites an existing user; it fails with ErrNotFound if
	// there is none and with ErrConflict like CreateUser. The store does not
	// enforce that userName is immutable: the Kubernetes API does.
	UpdateUser(ctx context.Context, u User) error
	// DeleteUser removes the user and all of its team memberships in the org.
	// Deleting a user that does not exist succeeds.
	DeleteUser(ctx context.Context, org, id string) error

	// ObserveTeam returns the team, or an error wrapping ErrNotFound.
	ObserveTeam(ctx context.Context, org, id string) (Team, error)
	// CreateTeam inserts the team, or overwrites it if it exists.
	CreateTeam(ctx context.Context, t Team) error
	// UpdateTeam overwrites an existing team; it fails with ErrNotFound if
	// there is none.
	UpdateTeam(ctx context.Context, t Team) error
	// DeleteTeam removes the team and all of its memberships. Deleting a team
	// that does not exist succeeds.
	DeleteTeam(ctx context.Context, org, id string) error

	// ObserveMembers returns the ids of the team's members sorted bytewise
	// (as sort.Strings does). A team without members, or without a row,
	// has none.
	//
	// Memberships are not tied to user or team rows by foreign keys:
	// controllers run independently, so a membership may be written before
	// its user or team exists.
	ObserveMembers(ctx context.Context, org, teamID string) ([]string, error)
	// AddMembers adds users to the team; ids that already are members are
	// ignored, duplicates too. The whole batch is one statement or one
	// transaction: either all are added or none.
	AddMembers(ctx context.Context, org, teamID string, userIDs []string) error
	// RemoveMembers removes users from the team; ids that are not members
	// are ignored. Like AddMembers it is all or nothing.
	RemoveMembers(ctx context.Context, org, teamID string, userIDs []string) error

	// Ping checks that the database is reachable.
	Ping(ctx context.Context) error
	// Close releases the store's connections. The store is unusable after.
	Close() error
}

// Change tells that memberships of a team may have changed.
type Change struct {
	// Org and TeamID name the team. Both are empty when any team may have
	// changed, e.g. after the watch reconnected and notifications may have
	// been missed, or after the membership table was truncated: the
	// receiver should then resynchronise everything it manages.
	Org    string
	TeamID string
}

// All reports whether the change may concern every team.
func (c Change) All() bool { return c.Org == "" }

// Notifier is implemented by stores that can report membership changes made
// by anyone, including a person editing the database by hand.
type Notifier interface {
	// Watch starts listening and returns once changes made from then on are
	// guaranteed to be delivered. The channel is closed when ctx is done.
	// Changes are at least once: the watcher's own writes are reported too.
	Watch(ctx context.Context) (<-chan Change, error)
}

// SameJSON reports whether the JSON values a and b are equal as values: objects by key, arrays
// in order, numbers numerically ("" is {}). Compare extension values read back from a store
// with it, not as text: PostgreSQL's jsonb::text rewrites some numbers (1e+21 comes back as
// 1000000000000000000000), so its text never equals the one Roster wrote and an == would
// rewrite the row on every reconcile.
func SameJSON(a, b string) bool {
	if a == b {
		return true
	}
	va, okA := decodeJSON(a)
	vb, okB := decodeJSON(b)
	return okA && okB && sameValue(va, vb)
}

func decodeJSON(s string) (any, bool) {
	if s == "" {
		s = "{}"
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil, false
	}
	return v, true
}

func sameValue(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		if x == y {
			return true
		}
		// Exact decimal comparison: float64 would call 12345678901234567890 and …891 equal.
		// A huge exponent (1e-99999999) would make big.Rat allocate without bound: unequal.
		if hugeExponent(string(x)) || hugeExponent(string(y)) {
			return false
		}
		rx, okX := new(big.Rat).SetString(string(x))
		ry, okY := new(big.Rat).SetString(string(y))
		return okX && okY && rx.Cmp(ry) == 0
	default:
		return a == b
	}
}

// hugeExponent reports whether the JSON number n has an exponent beyond ±1000.
func hugeExponent(n string) bool {
	i := strings.IndexAny(n, "eE")
	if i < 0 {
		return false
	}
	e, err := strconv.Atoi(strings.TrimPrefix(n[i+1:], "+"))
	return err != nil || e > 1000 || e < -1000
}

// CanonicalJSON returns the canonical form of a JSON object: keys sorted, no blanks, numbers
// as written; "" stands for the empty object "{}". Stores write and return extension values
// in this form, so that a value read back compares equal to the one written whatever the
// database did to its text (PostgreSQL's jsonb reorders keys and adds blanks).
func CanonicalJSON(s string) (string, error) {
	if s == "" {
		return "{}", nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil || dec.More() {
		return "", fmt.Errorf("not a JSON object: %w", ErrInvalid)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("not a JSON object: %v: %w", err, ErrInvalid)
	}
	return string(b), nil
}
