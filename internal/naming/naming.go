// Package naming derives Kubernetes object names for Roster's resources.
//
// An OrgUser's object name is a pure function of its userName folded by Fold. The apiserver
// refuses a second object with the same name, so two SCIM replicas racing to create the same
// user cannot both succeed: the apiserver, not a check-then-write in Roster, guarantees that a
// userName is unique in an org. The name doubles as the SCIM id, which lets a replica whose
// cache has not yet seen a fresh object fall back to a single GET by name.
package naming

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// UserPrefix starts every OrgUser name; TeamPrefix every OrgTeam name.
const (
	UserPrefix = "u-"
	TeamPrefix = "g-"
	// TeamNameClaimPrefix starts the names of the objects that reserve a team display name.
	TeamNameClaimPrefix = "team-name-"
)

// Fold is Roster's one case folding of userNames and group display names: two names are the
// same user (or the same group name) exactly when their Folds are equal. Object names, SCIM ids,
// display-name claims, the cache indexes, userName immutability, filter matching and the
// identity store's uniqueness all use it, so no two of them can disagree about who is who.
//
// It is strings.ToLower: each letter's Unicode lower case, one letter at a time, the same in
// every locale ("A@B.C" and "a@b.c" are one user, as Okta and Entra expect). It is not
// strings.EqualFold (Unicode simple case folding), which also joins letters ToLower keeps apart
// (final and medial sigma "ς"/"σ", long s "ſ"/"s", micro sign "µ"/"μ") and keeps apart letters
// ToLower joins ("İ" and "i"); nor SQL lower(), which depends on the database's locale (ASCII
// only in SQLite and PostgreSQL's C locale, context-sensitive sigma under ICU). It stays
// strings.ToLower because every existing user's object name is a digest of it: a different
// folding would give users whose names it folds differently a new id and orphan their objects.
func Fold(s string) string { return strings.ToLower(s) }

// UserObjectName returns the OrgUser object name (and SCIM id) for a userName. Matching is
// case-insensitive (see Fold): "A@B.C" and "a@b.c" are the same user.
func UserObjectName(userName string) string {
	return UserPrefix + digest(userName)
}

// TeamNameClaim returns the name of the object that reserves a team display name in an org.
// Display names change on rename, so they cannot be the team's own name; a claim object per
// display name gives the same apiserver-enforced uniqueness, ignoring case as Fold does.
func TeamNameClaim(displayName string) string {
	return TeamNameClaimPrefix + digest(displayName)
}

// NewTeamObjectName returns a fresh random OrgTeam object name (and SCIM id).
func NewTeamObjectName() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	return TeamPrefix + hex.EncodeToString(b[:])
}

// digest is 128 bits of SHA-256 over the folded value: collisions are not a practical concern
// and the result is a valid DNS label.
func digest(s string) string {
	sum := sha256.Sum256([]byte(Fold(s)))
	return hex.EncodeToString(sum[:16])
}

// IsUserObjectName reports whether s has the shape of an OrgUser name, so obviously bogus ids
// are answered 404 without an apiserver round trip.
func IsUserObjectName(s string) bool { return hasDigestShape(s, UserPrefix) }

// IsTeamObjectName reports whether s has the shape of an OrgTeam name.
func IsTeamObjectName(s string) bool { return hasDigestShape(s, TeamPrefix) }

func hasDigestShape(s, prefix string) bool {
	if !strings.HasPrefix(s, prefix) || len(s) != len(prefix)+32 {
		return false
	}
	// Checked in place: hex.DecodeString allocates, and a PUT of 100,000 members checks
	// every id.
	for i := len(prefix); i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
