package naming

import (
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
