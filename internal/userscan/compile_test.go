package userscan

import (
	"encoding/json"
	"fmt"
	"strings"
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

// corpURN is a custom extension an organization declares (orgschema.Convert builds its
// definition the same way), whose attribute names are the enterprise extension's and core
// ones: department, employeeNumber, manager, title.
const corpURN = "urn:example:params:scim:schemas:extension:corp:2.0:User"

// corpUser is the User resource type of an organization that declares corpURN.
func corpUser() schema.ResourceType {
	str := func(name string, caseExact bool) schema.Attribute {
		return schema.Attribute{Name: name, Type: schema.TypeString, CaseExact: caseExact, Mutability: schema.ReadWrite, Returned: schema.ReturnedDefault, Uniqueness: schema.UniqueNone}
	}
	manager := schema.Attribute{Name: "manager", Type: schema.TypeComplex, Mutability: schema.ReadWrite, Returned: schema.ReturnedDefault, Uniqueness: schema.UniqueNone,
		SubAttributes: []schema.Attribute{str("value", false), str("displayName", false)}}
	tags := str("tags", false)
	tags.MultiValued = true
	level := str("level", false)
	level.Type = schema.TypeInteger
	s := &schema.Schema{ID: corpURN, Name: "Corp", Attributes: []schema.Attribute{
		str("department", false), str("employeeNumber", true), str("title", false), manager, tags, level,
	}}
	return schema.User.WithCustom([]*schema.Schema{s}, nil)
}

// longUsers are users with values longer than 256 bytes (the slim form's dictionary and
// Match's in-place folding stop there), ASCII and not, and with values of corpURN beside
// enterprise values of the same names.
func longUsers() []*rosterv1.OrgUser {
	yes := true
	specs := []rosterv1.OrgUserSpec{
		{UserName: "Long.ASCII@Example.com", Title: longASCII, DisplayName: longASCII + "!", NickName: strings.ToUpper(longASCII),
			Name:       &rosterv1.Name{GivenName: longASCII, HonorificSuffix: longASCII, HonorificPrefix: "DR"},
			Emails:     []rosterv1.MultiValued{{Value: strings.ToLower(longASCII) + "@example.com", Type: longASCII, Display: longASCII}},
			Roles:      []rosterv1.MultiValued{{Value: longASCII, Type: "Org"}},
			Enterprise: &rosterv1.EnterpriseUser{Department: longASCII, EmployeeNumber: longASCII, CostCenter: longASCII}},
		{UserName: "long.unicode@example.com", Title: longUnicode, DisplayName: strings.ToUpper(longUnicode), ExternalID: longUnicode,
			Name:         &rosterv1.Name{FamilyName: longUnicode, HonorificPrefix: "ſir", HonorificSuffix: "Ⅻ"},
			Emails:       []rosterv1.MultiValued{{Value: longUnicode, Type: "ſtraße"}, {Value: "long.unicode@example.com", Primary: &yes}},
			Entitlements: []rosterv1.MultiValued{{Value: longUnicode, Display: strings.ToUpper(longUnicode)}},
			Enterprise:   &rosterv1.EnterpriseUser{Department: strings.ToUpper(longUnicode), Division: longUnicode},
			Extensions: rosterv1.ExtensionValues{corpURN: {Raw: []byte(`{"department":"Corp ENG","employeeNumber":"E-7","title":"Corp Title",` +
				`"manager":{"value":"u-1Ab","displayName":"Bob"},"tags":["Alpha","beta"],"level":3}`)}}},
		{UserName: "corp.only@example.com", Title: "Eng",
			Enterprise: &rosterv1.EnterpriseUser{Department: "ENG", EmployeeNumber: "0042"},
			Extensions: rosterv1.ExtensionValues{corpURN: {Raw: []byte(`{"department":"` + longUnicode + `","employeeNumber":"0042","tags":["` + longASCII + `"]}`)}}},
	}
	var users []*rosterv1.OrgUser
	for i, spec := range specs {
		users = append(users, &rosterv1.OrgUser{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("u-l%dAb", i), Namespace: "org",
			ResourceVersion: fmt.Sprint(40 + i), CreationTimestamp: metav1.NewTime(time.Unix(1_900_000_000+int64(i)*86_400, 0))}, Spec: spec})
	}
	return users
}

// longASCII (300 bytes) and longUnicode (more than 256 bytes, letters whose folding changes
// their length or needs more than ASCII: ſ, K (Kelvin), İ, ẞ, Σ/ς) are values longer than
// the dictionary and in-place folding take.
var (
	longASCII   = strings.Repeat("Senior Engineer, Platform ", 12)[:300]
	longUnicode = strings.Repeat("Ünïcode ſtraße KELVIN İstanbul ẞ ΣΊΣΥΦΟΣ ", 8)
)

// longLiterals are literals for a long value: itself, in other case, a prefix, a suffix, a
// middle that spans byte 256, and a near miss.
func longLiterals(v string) []string {
	r := []rune(v)
	var out []string
	for _, s := range []string{v, strings.ToUpper(v), strings.ToLower(v), string(r[:len(r)/2]), string(r[len(r)/3:]),
		string(r[len(r)*2/3-10 : len(r)*2/3+10]), v[:len(v)-1] + "#", strings.ToUpper(string(r[len(r)-40:]))} {
		q, _ := json.Marshal(s)
		out = append(out, string(q))
	}
	return out
}

// TestMatchIsDocumentMatch: a full scan's match (compiled to read strings in place, or
// decoded) decides every user as filter.Match on the user's whole SCIM document does, for
// every operator, and/or/not, value filters, sub-attributes, the enterprise extension,
// case folding and caseExact attributes, missing values, null and literals of other types.
func TestMatchIsDocumentMatch(t *testing.T) {
	users := append(scanUsers(), longUsers()...)
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
		// Longer than 256 bytes, ASCII and not.
		"name.honorificSuffix": append(longLiterals(longASCII), `"ⅻ"`, `"dr"`),
		"name.honorificPrefix": {`"DR"`, `"sir"`, `"SIR"`, `"ſ"`},
		"name.familyName":      longLiterals(longUnicode),
		"roles":                longLiterals(longASCII),
		"entitlements.display": longLiterals(longUnicode),
		// A custom extension whose attributes have enterprise and core names.
		corpURN + ":department":                  {`"corp eng"`, `"ENG"`, `"maths"`, `null`},
		corpURN + ":employeeNumber":              {`"0042"`, `"e-7"`, `"E-7"`},
		corpURN + ":title":                       {`"corp title"`, `"eng"`},
		corpURN + ":manager":                     {`"u-1ab"`, `"U"`},
		corpURN + ":manager.value":               {`"u-1ab"`},
		corpURN + ":tags":                        {`"alpha"`, `"BETA"`, `"senior"`},
		corpURN + ":level":                       {`3`, `"3"`, `2`},
		strings.ToUpper(corpURN) + ":DEPARTMENT": {`"CORP"`, `"eng"`},
		"employeeNumber":                         {`"0042"`, `"E-7"`},
	}
	// The same attributes get the long values too.
	for _, attr := range []string{"title", "displayName", "externalId", "name.givenName", "emails.value", "emails.type", ent + "department", ent + "employeeNumber", corpURN + ":department"} {
		literals[attr] = append(literals[attr], longLiterals(longASCII)...)
		literals[attr] = append(literals[attr], longLiterals(longUnicode)...)
	}
	literals["nickName"] = append(literals["nickName"], longLiterals(longASCII)...)
	literals["emails.display"] = append(literals["emails.display"], longLiterals(longASCII)...)
	literals[ent+"division"] = append(literals[ent+"division"], longLiterals(longUnicode)...)
	literals[ent+"costCenter"] = append(literals[ent+"costCenter"], longLiterals(longASCII)...)
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
		`emails[type eq "ſTRASSE" or value sw "ünï"]`,
		corpURN+`:tags pr and not (department pr)`,
		corpURN+`:manager[value eq "u-1Ab"]`,
		`department eq "eng" and `+corpURN+`:department co "eng"`,
	)
	// Roster's User, and an organization's with corpURN (an unqualified enterprise name still
	// resolves to the enterprise extension; a qualified one to the custom extension, which
	// only the decode reads).
	for _, rt := range []schema.ResourceType{schema.User, corpUser()} {
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
					t.Errorf("%s (custom extensions %d) on user %d: the scan %v, the whole document %v", text, len(rt.Custom), i, got, want)
				}
				seen[want]++
			}
		}
		if seen[true] == 0 || seen[false] == 0 || compiled < len(filters)/2 {
			t.Fatalf("matches %v, %d of %d filters compiled: the test proves little", seen, compiled, len(filters))
		}
		t.Logf("custom extensions %d: %d filters, %d compiled to read strings in place; matches %v", len(rt.Custom), len(filters), compiled, seen)
	}
}
