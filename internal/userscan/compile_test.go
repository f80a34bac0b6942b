package userscan

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/order"
	"github.com/rosterhq/roster/internal/scim/document"
	"github.com/rosterhq/roster/internal/scim/filter"
	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/slimuser"
)

// scanUsers is a varied set of users: mixed case and non-ASCII values, missing attributes,
// emails that are the userName (kept as a reference by the compact form), values with only
// some sub-attributes, an empty enterprise extension, several multi-valued attributes.
func scanUsers() []*rosterv1.OrgUser {
	yes, no := true, false
	specs := []rosterv1.OrgUserSpec{
		{UserName: "Ada.Lovelace@Example.COM", DisplayName: "Ada LOVELACE", ExternalID: "00U1aB", Title: "Senior Engineer",
			Name:       &rosterv1.Name{GivenName: "Ada", FamilyName: "Lovelace", Formatted: "Ada Lovelace"},
			Emails:     []rosterv1.MultiValued{{Value: "Ada.Lovelace@Example.COM", Type: "work", Primary: &yes}, {Value: "ada@Home.example", Type: "Home"}},
			Enterprise: &rosterv1.EnterpriseUser{Department: "Maths", EmployeeNumber: "0042", CostCenter: "CC-1", Manager: &rosterv1.Manager{Value: "u-9"}}},
		{UserName: "bob@example.com", Title: "engineering manager", NickName: "Bobby", Locale: "en-GB", UserType: "Employee",
			Emails:       []rosterv1.MultiValued{{Value: "BOB@example.com", Type: "WORK"}, {Type: "home", Primary: &no}, {Display: "Bob at home"}},
			PhoneNumbers: []rosterv1.MultiValued{{Value: "+1 555 0100", Type: "mobile"}},
			Enterprise:   &rosterv1.EnterpriseUser{}},
		{UserName: "carol@EXAMPLE.com", DisplayName: "Ünïcode ÇAROL", Title: "ÉNGINEER", Timezone: "Europe/Paris",
			Name:         &rosterv1.Name{MiddleName: "Ümlaut"},
			Emails:       []rosterv1.MultiValued{{Value: "carol@EXAMPLE.com"}},
			Entitlements: []rosterv1.MultiValued{{Value: "admin"}, {Value: "Audit", Display: "Audit log"}},
			Roles:        []rosterv1.MultiValued{{Value: "Owner", Type: "org", Primary: &yes}},
			Enterprise:   &rosterv1.EnterpriseUser{Department: "ENG", Division: "R&D", Organization: "Roster"}},
		{UserName: "dave@example.com", ProfileURL: "https://example.com/Dave", PreferredLanguage: "fr",
			Ims:       []rosterv1.MultiValued{{Value: "dave", Type: "xmpp"}},
			Photos:    []rosterv1.MultiValued{{Value: "https://example.com/d.png", Type: "photo"}},
			Addresses: []rosterv1.Address{{Locality: "London", Country: "GB", Primary: &yes}},
			Active:    &no},
		{UserName: "zed@example.com", ExternalID: "X9", Title: "Eng", DisplayName: "M",
			X509Certificates: []rosterv1.MultiValued{{Value: "TUlJQ2ZqQ0NBZU9n"}},
			Emails:           []rosterv1.MultiValued{{Type: "work"}}},
		{Title: "no userName (the apiserver refuses it; a document still has userName: \"\")"},
	}
	var users []*rosterv1.OrgUser
	for i, spec := range specs {
		users = append(users, &rosterv1.OrgUser{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("u-%dAb", i), Namespace: "org",
			ResourceVersion: fmt.Sprint(10 + i), CreationTimestamp: metav1.NewTime(time.Unix(1_800_000_000+int64(i)*86_400, 0))}, Spec: spec})
	}
	return users
}

// TestMatchIsDocumentMatch: a full scan's match (compiled to read strings in place, or
// decoded) decides every user as filter.Match on the user's whole SCIM document does, for
// every operator, and/or/not, value filters, sub-attributes, the enterprise extension,
// case folding and caseExact attributes, missing values, null and literals of other types.
func TestMatchIsDocumentMatch(t *testing.T) {
	rt := schema.User
	users := scanUsers()
	meta := func(u *rosterv1.OrgUser) document.Meta {
		return document.Meta{ResourceType: "User", Version: u.ResourceVersion, Created: u.CreationTimestamp.Time, LastModified: u.CreationTimestamp.Time}
	}
	var entries []*order.Entry
	for _, u := range users {
		entries = append(entries, order.UserEntry(slimuser.New(u)))
	}
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:"
	literals := map[string][]string{
		"title":                 {`"eng"`, `"ENGINEER"`, `"Senior Engineer"`, `"éngineer"`, `"manager"`, `""`, `null`, `42`, `true`},
		"nickName":              {`"bobby"`, `"B"`, `null`},
		"userType":              {`"employee"`, `"Emp"`},
		"locale":                {`"en-gb"`, `"EN"`},
		"profileUrl":            {`"https://example.com/dave"`, `"https"`},
		"timezone":              {`"europe/paris"`},
		"preferredLanguage":     {`"FR"`},
		"userName":              {`"bob@EXAMPLE.COM"`, `"example.com"`, `"ADA"`, `""`},
		"displayName":           {`"ada lovelace"`, `"üNÏ"`, `null`},
		"externalId":            {`"00u1ab"`, `"00U1aB"`, `"X"`, `null`},
		"id":                    {`"u-0Ab"`, `"u-0ab"`, `"Ab"`},
		"name.givenName":        {`"ADA"`, `"a"`, `null`},
		"name.middleName":       {`"ümlaut"`, `"UM"`},
		"name.formatted":        {`"ada lovelace"`, `"Lovelace"`},
		"emails":                {`"bob@example.com"`, `"example"`, `""`},
		"emails.value":          {`"ada.lovelace@example.com"`, `"HOME"`, `"carol@example.com"`, `null`},
		"emails.type":           {`"work"`, `"HOME"`, `null`},
		"emails.display":        {`"bob at home"`, `null`},
		"phoneNumbers.value":    {`"+1 555"`, `"0100"`},
		"entitlements":          {`"AUDIT"`, `"adm"`},
		"roles.type":            {`"ORG"`},
		"ims.value":             {`"DAVE"`},
		"photos":                {`"https://example.com/d.png"`},
		"x509Certificates":      {`"TUlJQ2ZqQ0NBZU9n"`, `"tuljq2zqq0nbzu9n"`},
		ent + "department":      {`"maths"`, `"ENG"`, `"m"`, `null`},
		ent + "employeeNumber":  {`"0042"`, `"00"`},
		ent + "costCenter":      {`"cc-1"`},
		ent + "division":        {`"r&d"`},
		ent + "organization":    {`"ROSTER"`},
		"noSuchAttr":            {`"x"`, `null`},
		"name.noSuchSub":        {`"x"`},
		"meta.created":          {`"2027-01-15T08:00:00Z"`},
		"meta.resourceType":     {`"user"`},
		"active":                {`true`, `"false"`},
		"addresses.locality":    {`"london"`},
		ent + "manager":         {`"u-9"`},
		"emails.primary":        {`true`},
		"roles.primary":         {`"true"`},
		"urn:example:ext:level": {`3`},
	}
	var filters []string
	for attr, lits := range literals {
		filters = append(filters, attr+" pr", "not ("+attr+" pr)")
		for _, op := range []string{"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"} {
			for _, lit := range lits {
				filters = append(filters, attr+" "+op+" "+lit)
			}
		}
	}
	filters = append(filters,
		`emails[type eq "work" and value co "EXAMPLE"]`,
		`emails[type eq "work" or display pr]`,
		`emails[not (value pr)]`,
		`emails[value ew ".com" and not (type eq "work")]`,
		`emails[type ne "work"]`,
		`emails[primary eq true]`,
		`emails[noSuch eq "x"]`,
		`emails[noSuch ne "x"]`,
		`entitlements[display co "LOG"]`,
		`roles[type eq "org" and value eq "owner"]`,
		`name[givenName eq "Ada"]`,
		`noSuch[value eq "x"]`,
		`emails[type eq "work"].value pr or title pr`, `emails[type eq "work"].value co "example"`,
		`emails pr`, `name pr`, `emails eq null`, `name.givenName eq null`,
		`title sw "Eng" and not (emails.type eq "home")`,
		`title co "ENG" or `+ent+`department eq "eng"`,
		`urn:ietf:params:scim:schemas:core:2.0:User:title ew "NEER"`,
		`TITLE sw "SEN" and NAME.FAMILYNAME eq "lovelace"`,
		`userName eq "a" and title pr`,
		`title pr and userName eq ""`, `title pr and userName le "a"`, `title pr and not (userName pr)`,
		`title pr and externalId eq "00u1ab"`,
		`title pr and not (externalId co "1aB")`,
		`emails.type pr and id sw "u-0A"`,
		`title pr and meta.created gt "2020-01-01T00:00:00Z"`,
		`emails.value co "@" and active eq false`,
	)
	compiled, seen := 0, map[bool]int{}
	for _, text := range filters {
		f, err := filter.Parse(text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		f = filter.Coerce(rt, f)
		if _, ok := compile(rt, f); ok {
			compiled++
		}
		match := Match(rt, f, meta)
		for i, e := range entries {
			want := filter.Match(rt, f, document.User(users[i], meta(users[i])))
			if got := match(e); got != want {
				t.Errorf("%s on user %d: the scan %v, the whole document %v", text, i, got, want)
			}
			seen[want]++
		}
	}
	if seen[true] == 0 || seen[false] == 0 || compiled < len(filters)/2 {
		t.Fatalf("matches %v, %d of %d filters compiled: the test proves little", seen, compiled, len(filters))
	}
	t.Logf("%d filters, %d compiled to read strings in place; matches %v", len(filters), compiled, seen)
}
