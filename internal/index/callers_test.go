package index

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestNamespacedLookupsGoThroughLookup: the namespaced kinds' indexes have no cluster-wide
// keys, so a client.List with client.MatchingFields on them and no namespace finds nothing,
// silently. Every lookup goes through Lookup.List, which refuses an empty namespace: this test
// fails on any use of those fields' names (index.SliceMember and the like) in non-test code
// outside this package: a MatchingFields literal, a map built elsewhere, a field selector.
func TestNamespacedLookupsGoThroughLookup(t *testing.T) {
	namespaced := map[string]bool{"TeamName": true, "TeamExternalID": true, "SliceTeam": true, "SliceMember": true}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	here, _ := filepath.Abs(".")
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path == here || name == "bin" || name == "vendor" || (strings.HasPrefix(name, ".") && path != root) {
				return filepath.SkipDir
			}
			return nil
		}
		// Tests may name the fields to inspect the informers' indexes.
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if x, ok := n.X.(*ast.Ident); ok && x.Name == "index" && namespaced[n.Sel.Name] {
					t.Errorf("%s: index.%s used outside internal/index: look it up with index.Lookup.List (it needs the namespace)", fset.Position(n.Pos()), n.Sel.Name)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("scanned %d Go files under %s: not the module", files, root)
	}
}
