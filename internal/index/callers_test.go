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
// fails on any client.MatchingFields literal naming one of those fields outside this package.
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
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			if sel, ok := lit.Type.(*ast.SelectorExpr); !ok || sel.Sel.Name != "MatchingFields" {
				return true
			}
			for _, el := range lit.Elts {
				kv, ok := el.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				if key, ok := kv.Key.(*ast.SelectorExpr); ok && namespaced[key.Sel.Name] {
					if x, ok := key.X.(*ast.Ident); ok && x.Name == "index" {
						t.Errorf("%s: client.MatchingFields{index.%s: ...}: look it up with index.Lookup.List (it needs the namespace)", fset.Position(kv.Pos()), key.Sel.Name)
					}
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
