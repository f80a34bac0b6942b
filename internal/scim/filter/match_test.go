package filter

import (
	"encoding/json"
	"testing"

	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/scim/schema"
)

// alice is a canonical user as the server stores it.
const alice = `{
	"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
	"id":"2819c223-7f76-453a-919d-413861904646","externalId":"00uAbC","userName":"Alice@Example.com",
	"name":{"givenName":"Alice","familyName":"Liddell"},"displayName":"Alice Liddell","active":true,
	"emails":[{"value":"alice@work.example","type":"work","primary":true},{"value":"alice@home.example","type":"home"}],
	"title":"",
	"meta":{"resourceType":"User","created":"2011-05-13T04:42:34Z","lastModified":"2024-03-01T10:00:00+01:00"},
	"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","manager":{"value":"m1"}}
}`

const eng = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g1","displayName":"Eng",
	"members":[{"value":"u1"},{"value":"u2","display":"bob"}]}`

func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMatch(t *testing.T) {
	user, group := decode(t, alice), decode(t, eng)
	tests := []struct {
		name   string
		rt     schema.ResourceType
		filter string
		want   bool
	}{
		{"Okta userName eq", schema.User, `userName eq "Alice@Example.com"`, true},
		{"Okta userName upper-cased (case-insensitive)", schema.User, `userName eq "ALICE@EXAMPLE.COM"`, true},
		{"Okta unknown userName", schema.User, `userName eq "nobody@example.com"`, false},
		{"Entra test connection guid", schema.User, `userName eq "5b4a7e2c-1d0f-4e5f-9a3b-2c1d0e4f5a6b"`, false},
		{"Entra externalId eq (case-exact)", schema.User, `externalId eq "00uAbC"`, true},
		{"externalId other case does not match", schema.User, `externalId eq "00uabc"`, false},
		{"id case-exact", schema.User, `id eq "2819C223-7F76-453A-919D-413861904646"`, false},
		{"Entra emails value path", schema.User, `emails[type eq "work"].value eq "alice@work.example"`, true},
		{"Entra emails value path wrong type", schema.User, `emails[type eq "home"].value eq "alice@work.example"`, false},
		{"Entra group displayName", schema.Group, `displayName eq "eng"`, true},
		{"Entra attribute case", schema.User, `NAME.FAMILYNAME eq "liddell"`, true},
		{"and", schema.User, `userName eq "alice@example.com" and active eq true`, true},
		{"and false", schema.User, `userName eq "alice@example.com" and active eq false`, false},
		{"or", schema.User, `userName eq "x" or displayName sw "alice"`, true},
		{"not", schema.User, `not (active eq false)`, true},
		{"precedence", schema.User, `active eq false and userName pr or title pr`, false},
		{"precedence 2", schema.User, `active eq true or title pr and userName eq "x"`, true},
		{"co", schema.User, `displayName co "LIDD"`, true},
		{"ew", schema.User, `userName ew "EXAMPLE.COM"`, true},
		{"gt string", schema.User, `displayName gt "alice a"`, true},
		{"lt string", schema.User, `displayName lt "alice a"`, false},
		{"dateTime gt", schema.User, `meta.lastModified gt "2011-05-13T04:42:34Z"`, true},
		{"dateTime compares instants", schema.User, `meta.lastModified eq "2024-03-01T09:00:00Z"`, true},
		{"dateTime le", schema.User, `meta.created le "2011-05-13T04:42:34Z"`, true},
		{"dateTime lt", schema.User, `meta.created lt "2011-05-13T04:42:34Z"`, false},
		{"boolean as string (Entra)", schema.User, `active eq "True"`, true},
		{"boolean gt never matches", schema.User, `active gt false`, false},
		{"multi-valued any value", schema.User, `emails.value eq "alice@home.example"`, true},
		{"multi-valued without sub compares value", schema.User, `emails co "@home"`, true},
		{"multi-valued type", schema.User, `emails.type eq "home"`, true},
		{"value path and", schema.User, `emails[type eq "work" and primary eq true]`, true},
		{"value path needs one element for both", schema.User, `emails[type eq "home" and primary eq true]`, false},
		{"value path not", schema.User, `emails[not (type eq "work")]`, true},
		{"value path pr", schema.User, `emails[primary pr]`, true},
		{"value path unknown sub", schema.User, `emails[nope eq "x"]`, false},
		{"value path on simple attribute", schema.User, `userName[value eq "x"]`, false},
		{"pr", schema.User, `name.givenName pr`, true},
		{"pr empty string", schema.User, `title pr`, false},
		{"pr missing", schema.User, `nickName pr`, false},
		{"pr complex", schema.User, `name pr`, true},
		{"eq on missing", schema.User, `nickName eq "x"`, false},
		{"ne on missing", schema.User, `nickName ne "x"`, true},
		{"gt on missing", schema.User, `nickName gt "a"`, false},
		{"ne present", schema.User, `userName ne "alice@example.com"`, false},
		{"ne multi-valued", schema.User, `emails.value ne "alice@home.example"`, false},
		{"eq null on missing", schema.User, `nickName eq null`, true},
		{"ne null on present", schema.User, `userName ne null`, true},
		{"unknown attribute eq", schema.User, `favouriteColour eq "blue"`, false},
		{"unknown attribute ne", schema.User, `favouriteColour ne "blue"`, true},
		{"URN-qualified core", schema.User, `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "alice@example.com"`, true},
		{"URN-qualified extension", schema.User, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"`, true},
		{"URN-qualified extension sub", schema.User, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m1"`, true},
		{"manager compares value", schema.User, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "m1"`, true},
		{"wrong literal type", schema.User, `userName eq 5`, false},
		{"group members value", schema.Group, `members[value eq "u2"]`, true},
		{"group members any", schema.Group, `members.value eq "u3"`, false},
		{"extension attribute on group", schema.Group, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber pr`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.filter)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			doc := user
			if tt.rt.Name == "Group" {
				doc = group
			}
			if got := Match(tt.rt, e, doc); got != tt.want {
				t.Errorf("Match(%s) = %v, want %v", tt.filter, got, tt.want)
			}
		})
	}
}

func TestMatchValue(t *testing.T) {
	f, _ := ParseValueFilter(`type eq "WORK"`)
	if !MatchValue(schema.User, AttrPath{Attr: "emails"}, f, map[string]any{"type": "work"}) {
		t.Error("type eq \"WORK\" should match a work email")
	}
	if MatchValue(schema.User, AttrPath{Attr: "userName"}, f, map[string]any{"type": "work"}) {
		t.Error("a value filter on a simple attribute should never match")
	}
}

func TestEqualityTerms(t *testing.T) {
	tests := []struct {
		name, filter string
		want         []string
	}{
		{"Okta userName", `userName eq "a@b.c"`, []string{`userName eq "a@b.c"`}},
		{"two conjuncts", `userName eq "x" and active eq true`, []string{`userName eq "x"`, `active eq true`}},
		{"Entra emails value path", `emails[type eq "work"].value eq "a@b.c"`, []string{`emails.type eq "work"`, `emails.value eq "a@b.c"`}},
		{"nested and", `(externalId eq "e" and title pr) and displayName eq "d"`, []string{`externalId eq "e"`, `displayName eq "d"`}},
		{"URN path kept", `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7"`,
			[]string{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7"`}},
		{"or gives nothing", `userName eq "x" or userName eq "y"`, nil},
		{"not gives nothing", `not (userName eq "x")`, nil},
		{"other operators skipped", `userName sw "x" and displayName eq "d"`, []string{`displayName eq "d"`}},
		{"null skipped", `userName eq null`, nil},
		{"or inside value path", `emails[type eq "work" or type eq "home"]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range EqualityTerms(e) {
				got = append(got, c.String())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("EqualityTerms = %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("EqualityTerms = %q, want %q", got, tt.want)
				}
			}
		})
	}
}

// TestEqualityTermsNecessary checks the documented contract: a matching document matches every
// term on its own.
func TestEqualityTermsNecessary(t *testing.T) {
	user := decode(t, alice)
	for _, f := range []string{
		`emails[type eq "work"].value eq "alice@work.example"`,
		`userName eq "ALICE@example.com" and active eq true and emails[primary eq true and type eq "work"]`,
	} {
		e, _ := Parse(f)
		if !Match(schema.User, e, user) {
			t.Fatalf("%s does not match", f)
		}
		for _, c := range EqualityTerms(e) {
			if !Match(schema.User, &c, user) {
				t.Errorf("term %s of %s does not match", c.String(), f)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		filter string
		ok     bool
	}{
		{`userName eq "x"`, true},
		{`emails[type eq "work"].value eq "a@b.c"`, true},
		{`active eq "True"`, true},
		{`meta.lastModified gt "2011-05-13T04:42:34Z"`, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "m"`, true},
		{`nope eq "x"`, false},
		{`emails[nope eq "x"]`, false},
		{`userName[value eq "x"]`, false},
		{`active gt true`, false},
		{`active eq "yes"`, false},
		{`userName eq 5`, false},
		{`name eq "x"`, false},
		{`meta.lastModified gt "yesterday"`, false},
		{`not (nope pr)`, false},
	}
	for _, tt := range tests {
		e, err := Parse(tt.filter)
		if err != nil {
			t.Fatal(err)
		}
		if err := Validate(schema.User, e); (err == nil) != tt.ok {
			t.Errorf("Validate(%s) = %v, want ok=%v", tt.filter, err, tt.ok)
		}
	}
}

// TestMatchFoldsLikeObjectNames: `userName eq` selects exactly the user that userName names,
// so a caseless comparison folds as naming.Fold does, not as strings.EqualFold.
func TestMatchFoldsLikeObjectNames(t *testing.T) {
	names := []string{"Γιώργος@example.gr", "ΓΙΏΡΓΟΣ@example.gr", "İlkay@example.com", "ilkay@example.com", "ſam@example.com", "SAM@example.com"}
	for _, stored := range names {
		doc := map[string]any{"userName": stored}
		for _, asked := range names {
			e, err := Parse(`userName eq "` + asked + `"`)
			if err != nil {
				t.Fatal(err)
			}
			want := naming.UserObjectName(stored) == naming.UserObjectName(asked)
			if got := Match(schema.User, e, doc); got != want {
				t.Errorf("userName %q eq %q = %v, want %v", stored, asked, got, want)
			}
		}
	}
}
