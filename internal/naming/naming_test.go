package naming

import (
	"encoding/hex"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestUserObjectName(t *testing.T) {
	cases := []struct{ a, b string }{
		{"a@b.c", "A@B.C"},
		{"Alice.Smith@Example.com", "alice.smith@example.com"},
	}
	for _, tc := range cases {
		if UserObjectName(tc.a) != UserObjectName(tc.b) {
			t.Errorf("%q and %q must map to the same name", tc.a, tc.b)
		}
	}
	if UserObjectName("a@b.c") == UserObjectName("a@b.cd") {
		t.Error("different userNames must map to different names")
	}
	for _, n := range []string{UserObjectName("x"), NewTeamObjectName(), TeamNameClaim("Eng")} {
		if errs := validation.IsDNS1123Label(n); len(errs) > 0 {
			t.Errorf("%q is not a DNS label: %v", n, errs)
		}
	}
	if !IsUserObjectName(UserObjectName("x")) || IsUserObjectName("u-nothex") || IsUserObjectName(NewTeamObjectName()) {
		t.Error("IsUserObjectName misclassifies")
	}
	if !IsTeamObjectName(NewTeamObjectName()) || NewTeamObjectName() == NewTeamObjectName() {
		t.Error("team names must be well-formed and random")
	}
	if TeamNameClaim("Eng") != TeamNameClaim("eNG") {
		t.Error("team name claims must be case-insensitive")
	}
}

// TestFold pins which spellings are one user. Fold is strings.ToLower, so the pairs it keeps
// apart are ones strings.EqualFold would join (and the other way round): any comparison of
// userNames or display names must be Fold(a) == Fold(b), never EqualFold.
func TestFold(t *testing.T) {
	same := []struct{ a, b string }{
		{"A@B.C", "a@b.c"},
		{"ÉVA.Müller@Example.de", "éva.müller@example.de"},
		{"ΓΙΏΡΓΟΣ@example.gr", "γιώργοσ@example.gr"}, // capital sigma folds to medial sigma
		{"İlkay@example.com", "ilkay@example.com"},   // EqualFold says different
		{"STRAẞE@example.de", "straße@example.de"},
		{"\u212Aelvin", "kelvin"}, // Kelvin sign
	}
	for _, tc := range same {
		if Fold(tc.a) != Fold(tc.b) || UserObjectName(tc.a) != UserObjectName(tc.b) || TeamNameClaim(tc.a) != TeamNameClaim(tc.b) {
			t.Errorf("%q and %q must be one name", tc.a, tc.b)
		}
	}
	different := []struct{ a, b string }{
		{"Γιώργος@example.gr", "ΓΙΏΡΓΟΣ@example.gr"}, // final sigma is not medial sigma; EqualFold says same
		{"ſam@example.com", "sam@example.com"},       // long s; EqualFold says same
		{"µ@example.com", "μ@example.com"},           // micro sign and mu; EqualFold says same
		{"ılkay@example.com", "ilkay@example.com"},   // dotless i
		{"strasse@example.de", "straße@example.de"},
	}
	for _, tc := range different {
		if Fold(tc.a) == Fold(tc.b) || UserObjectName(tc.a) == UserObjectName(tc.b) || TeamNameClaim(tc.a) == TeamNameClaim(tc.b) {
			t.Errorf("%q and %q must be two names", tc.a, tc.b)
		}
	}
}

// TestNamesAreStable pins the digests. Every existing OrgUser is named (and every SCIM id is)
// UserObjectName of its userName, and every display-name claim TeamNameClaim of its name: if
// one of these values changes, every existing user gets a new id and is orphaned (its object
// and identity-store row no longer match the name the identity provider sends), and every team
// name is claimable twice. Do not update these values; make the change compatible instead.
func TestNamesAreStable(t *testing.T) {
	users := []struct{ userName, want string }{
		{"ada@example.com", "u-b5fc85e55755f9e0d030a10ab4429b6b"},
		{"Ada.Lovelace@Example.COM", "u-e814ff3dc480a94c7ce9334062ec4733"},
		{"ada.lovelace@example.com", "u-e814ff3dc480a94c7ce9334062ec4733"},
		{"5b4a7e2c-1d0f-4e5f-9a3b-2c1d0e4f5a6b", "u-b58e8e9e6daec07332e86202308131a9"},
		{"ÉVA.Müller@Example.de", "u-eaaa737cb70790fbad9da8ea6f5f571f"},
		{"Γιώργος@example.gr", "u-8d953c345cab2de76017cb9d20167645"},
		{"ΓΙΏΡΓΟΣ@example.gr", "u-d800d17316f71c1f97a7386da3e9bd81"},
		{"İlkay@example.com", "u-91428510d3a7eab3f265c32ce9553955"},
		{"Straẞe@example.de", "u-7281afd3f5258ca191a9347070596d1b"},
	}
	for _, tc := range users {
		if got := UserObjectName(tc.userName); got != tc.want {
			t.Errorf("UserObjectName(%q) = %q, want %q: existing users would be orphaned", tc.userName, got, tc.want)
		}
	}
	teams := []struct{ displayName, want string }{
		{"Eng", "team-name-82fe032bd9337b5dfb99b28717cf8651"},
		{"eNG", "team-name-82fe032bd9337b5dfb99b28717cf8651"},
		{"Platform Team", "team-name-be84ebe551fafe45fc9f9f2725f4015d"},
		{"Ωmega Ops", "team-name-510fbd1badc6024c37ac06c0928ebf37"},
		{"Ünïcødé Group", "team-name-b4af10869b397a8759ddeaf622d5edd2"},
	}
	for _, tc := range teams {
		if got := TeamNameClaim(tc.displayName); got != tc.want {
			t.Errorf("TeamNameClaim(%q) = %q, want %q: existing claims would no longer hold their names", tc.displayName, got, tc.want)
		}
	}
}

// TestShapesAreStable pins the shapes of the other names: a team id is "g-" and 32 hex digits
// (random, so its value cannot be pinned; a SCIM id of another shape is answered 404 without
// an apiserver read, so a changed shape would hide every existing team), and the prefixes
// that kubectl users and label-less scripts rely on.
func TestShapesAreStable(t *testing.T) {
	const team = "g-5f2c0d9e1b7a4c3d8e6f0a1b2c3d4e5f" // a team id as existing objects hold it
	if !IsTeamObjectName(team) || IsUserObjectName(team) {
		t.Errorf("%q must be a team id and not a user id", team)
	}
	const user = "u-b5fc85e55755f9e0d030a10ab4429b6b"
	if !IsUserObjectName(user) || IsTeamObjectName(user) {
		t.Errorf("%q must be a user id and not a team id", user)
	}
	if n := NewTeamObjectName(); len(n) != len(team) || n[:2] != "g-" {
		t.Errorf("NewTeamObjectName() = %q, want the shape of %q", n, team)
	}
	if UserPrefix != "u-" || TeamPrefix != "g-" || TeamNameClaimPrefix != "team-name-" {
		t.Errorf("prefixes = %q %q %q, want u- g- team-name-", UserPrefix, TeamPrefix, TeamNameClaimPrefix)
	}
}

// FuzzDigestShape: the in-place check agrees with decoding the hex, and allocates nothing.
func FuzzDigestShape(f *testing.F) {
	f.Add(UserObjectName("x"))
	f.Add("u-0123456789ABCDEFabcdef0123456789")
	f.Add("u-0123456789abcdef0123456789abcdeg")
	f.Fuzz(func(t *testing.T, s string) {
		_, err := hex.DecodeString(strings.TrimPrefix(s, UserPrefix))
		want := strings.HasPrefix(s, UserPrefix) && len(s) == len(UserPrefix)+32 && err == nil
		if got := IsUserObjectName(s); got != want {
			t.Fatalf("IsUserObjectName(%q) = %v, want %v", s, got, want)
		}
	})
}

func TestIsUserObjectNameAllocatesNothing(t *testing.T) {
	id := UserObjectName("ada@example.com")
	if n := testing.AllocsPerRun(100, func() { _ = IsUserObjectName(id) }); n != 0 {
		t.Fatalf("%v allocations per check, want 0", n)
	}
}
