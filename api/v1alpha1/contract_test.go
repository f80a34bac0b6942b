package v1alpha1_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/controllers"
	"github.com/rosterhq/roster/internal/membership"
	rostertoken "github.com/rosterhq/roster/internal/token"
)

// stringConstants pins every exported string constant of package v1alpha1: label and
// annotation keys, and the values Roster stores in objects (managedBy, spec.scim, condition
// types, break-glass states). Existing objects, label selectors in operators' scripts and
// other readers hold these strings: a changed value silently orphans what carries the old one.
// Do not change a value; add a new constant (and migrate) instead. A new constant must be
// listed here, so that changing it later fails this test.
var stringConstants = map[string]string{
	"LastModifiedAnnotation":    "scim.roster.dev/last-modified",
	"OrgLabel":                  "scim.roster.dev/org",
	"TeamLabel":                 "scim.roster.dev/team",
	"SnapshotOfLabel":           "scim.roster.dev/snapshot-of",
	"SnapshotLabel":             "scim.roster.dev/snapshot",
	"BreakGlassAnnotation":      "scim.roster.dev/break-glass",
	"BreakGlassStateAnnotation": "scim.roster.dev/break-glass-state",
	"BreakGlassOpen":            "open",
	"BreakGlassRestoring":       "restoring",
	"BreakGlassRefused":         "refused",
	"ManagedBySCIM":             "scim",
	"ManagedByManual":           "manual",
	"SCIMEnabled":               "Enabled",
	"SCIMDisabled":              "Disabled",
	"ConditionReady":            "Ready",
	"ConditionSynced":           "Synced",
	"ConditionTokenConfigured":  "TokenConfigured",
	// Teams grant access (TeamRoleBinding): rendered bindings' labels and stored enum values.
	"BindingLabel":               "scim.roster.dev/binding",
	"BindingKindLabel":           "scim.roster.dev/binding-kind",
	"BindingUIDLabel":            "scim.roster.dev/binding-uid",
	"ManagedByLabel":             "app.kubernetes.io/managed-by",
	"ManagedByRoster":            "roster",
	"KindTeamRoleBinding":        "TeamRoleBinding",
	"KindClusterTeamRoleBinding": "ClusterTeamRoleBinding",
	"SubjectsGroup":              "Group",
	"SubjectsUser":               "User",
	"UserClaimUserName":          "userName",
	"UserClaimEmail":             "email",
	"UserNameChangesReject":      "Reject",
	"UserNameChangesIgnore":      "Ignore",
	"ExtensionForUser":           "User",
	"ExtensionForGroup":          "Group",
}

// TestStringConstantsArePinned reads the package's source, so that a constant added without
// a line above fails too.
func TestStringConstantsArePinned(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !name.IsExported() {
						continue
					}
					// A constant without its own literal (an iota group's continuation, an
					// expression) cannot be read here: it must be written as a literal.
					var lit *ast.BasicLit
					if i < len(vs.Values) {
						lit, _ = vs.Values[i].(*ast.BasicLit)
					}
					if lit == nil {
						if vs.Type != nil || i < len(vs.Values) {
							t.Errorf("%s (%s) is not a plain literal: write exported constants of this package as literals so they can be pinned", name.Name, path)
						}
						continue
					}
					if lit.Kind != token.STRING {
						continue
					}
					v, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					got[name.Name] = v
				}
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(got)) {
		want, listed := stringConstants[name]
		switch {
		case !listed:
			t.Errorf("%s = %q is not pinned: add it to stringConstants", name, got[name])
		case got[name] != want:
			t.Errorf("%s = %q, pinned as %q: objects that carry the old value would be orphaned", name, got[name], want)
		}
	}
	for name := range stringConstants {
		if _, ok := got[name]; !ok {
			t.Errorf("%s is pinned but no longer declared: objects may still carry %q", name, stringConstants[name])
		}
	}
}

// TestKeysOutsideTheAPIArePinned: label, annotation and finalizer keys declared outside
// package v1alpha1 that Roster writes on objects, Secrets included.
func TestKeysOutsideTheAPIArePinned(t *testing.T) {
	keys := []struct{ name, got, want string }{
		{"controllers.Finalizer", controllers.Finalizer, "scim.roster.dev/identity-store"},
		{"membership.WatermarkAnnotation", membership.WatermarkAnnotation, "scim.roster.dev/members-watermark"},
		{"membership.RevisionAnnotation", membership.RevisionAnnotation, "scim.roster.dev/members-revision"},
		{"membership.MarkPrefix", membership.MarkPrefix, "change.scim.roster.dev/"},
		{"token.RotatedAtAnnotation", rostertoken.RotatedAtAnnotation, "scim.roster.dev/token-rotated-at"},
		{"token.SecretLabel", rostertoken.SecretLabel, "scim.roster.dev/token"},
		{"token.SecretName", rostertoken.SecretName("acme"), "scim-token-acme"},
		{"v1alpha1.BreakGlassSliceName", v1alpha1.BreakGlassSliceName("g-0123"), "g-0123-break-glass"},
		{"v1alpha1.GroupVersion", v1alpha1.GroupVersion.String(), "scim.roster.dev/v1alpha1"},
	}
	for _, k := range keys {
		if k.got != k.want {
			t.Errorf("%s = %q, pinned as %q: objects that carry the old key would be orphaned", k.name, k.got, k.want)
		}
	}
}
