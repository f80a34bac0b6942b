package slimuser

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// assertAllowed are the non-test files that may assert, switch or instantiate generics on
// *rosterv1.OrgUser, and why: their objects never come from the cache's store.
var assertAllowed = map[string]string{
	"webhook/admission/decide.go":     "admission requests carry decoded OrgUsers",
	"webhook/admission/admission.go":  "validators of admission requests' decoded OrgUsers",
	"internal/order/track.go":         "makes a user of a cache without the transform compact",
	"internal/directory/reads.go":     "kindOf: the caller's own objects",
	"internal/slimuser/cache.go":      "the transform itself",
	"internal/slimuser/user.go":       "the compact form itself",
	"internal/slimuser/codec.go":      "the compact form itself",
	"internal/scim/document/user.go":  "documents of decoded users",
	"internal/cachetrim/cachetrim.go": "runs before the compact form is made (Transform)",
}

// TestNoReaderExpectsCachedOrgUsers: the manager's cache holds *User, not *rosterv1.OrgUser.
// A reader of the cached objects themselves that expects OrgUsers fails, at best with an
// error ("cache had type *slimuser.User"), at worst silently (a comma-ok assertion in an event
// handler drops the event). This test fails on the forms such a reader takes:
// client.UnsafeDisableDeepCopy in a call given an OrgUser or OrgUserList declared in the same
// function and cachescan.Each over an OrgUserList (tests included), and type assertions or
// switch cases on *rosterv1.OrgUser, and generics instantiated with it (typed event handlers),
// outside tests and the files listed in assertAllowed.
func TestNoReaderExpectsCachedOrgUsers(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == "bin" || name == "vendor" || (strings.HasPrefix(name, ".") && path != root) {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		// Tests too: a test that reads the cache in place the old way fails only by timing
		// out (its error ignored in a poll). This package's own tests hold samples.
		if !strings.HasSuffix(path, ".go") || strings.HasPrefix(filepath.ToSlash(rel), "internal/slimuser/") && strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0) // with object resolution: idents find their declarations
		if err != nil {
			return err
		}
		files++
		// Tests assert on objects of their own (decoded, watched, built): only their reads of
		// the cache are checked.
		assertOK := assertAllowed[filepath.ToSlash(rel)] != "" || strings.HasSuffix(path, "_test.go")
		for _, msg := range check(f, assertOK) {
			t.Errorf("%s: %s", fset.Position(msg.pos), msg.text)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("scanned %d Go files under %s: not the module", files, root)
	}
}

type finding struct {
	pos  token.Pos
	text string
}

// isUserType reports whether e is rosterv1.OrgUser or rosterv1.OrgUserList (or a pointer).
func isUserType(e ast.Expr) bool {
	if s, ok := e.(*ast.StarExpr); ok {
		e = s.X
	}
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && x.Name == "rosterv1" && (sel.Sel.Name == "OrgUser" || sel.Sel.Name == "OrgUserList")
}

// userValue reports whether e is &x with x declared as an OrgUser or OrgUserList, or a
// literal of one.
func userValue(e ast.Expr) bool {
	if u, ok := e.(*ast.UnaryExpr); ok && u.Op == token.AND {
		e = u.X
	}
	switch e := e.(type) {
	case *ast.CompositeLit:
		return isUserType(e.Type)
	case *ast.Ident:
		if e.Obj == nil {
			return false
		}
		switch decl := e.Obj.Decl.(type) {
		case *ast.ValueSpec:
			return decl.Type != nil && isUserType(decl.Type)
		case *ast.AssignStmt:
			for _, r := range decl.Rhs {
				if userValue(r) {
					return true
				}
			}
		}
	}
	return false
}

func check(f *ast.File, assertOK bool) []finding {
	var out []finding
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			unsafe := false
			for _, a := range n.Args {
				if s, ok := a.(*ast.SelectorExpr); ok && s.Sel.Name == "UnsafeDisableDeepCopy" {
					unsafe = true
				}
			}
			if s, ok := n.Fun.(*ast.SelectorExpr); ok {
				if x, ok := s.X.(*ast.Ident); ok && x.Name == "cachescan" && s.Sel.Name == "Each" {
					unsafe = true
				}
			}
			for _, a := range n.Args {
				if unsafe && userValue(a) {
					out = append(out, finding{a.Pos(), "reads cached OrgUsers in place: the cache holds *slimuser.User (use slimuser.Reader or slimuser.Each)"})
				}
			}
		case *ast.TypeAssertExpr:
			if !assertOK && n.Type != nil && isUserType(n.Type) {
				out = append(out, finding{n.Pos(), "asserts *rosterv1.OrgUser: a cached user, an informer event's or an ordered index entry's object, is a *slimuser.User"})
			}
		case *ast.IndexExpr, *ast.IndexListExpr:
			// A generic instantiated with *rosterv1.OrgUser (source.Kind[*rosterv1.OrgUser],
			// predicate.TypedFuncs[*rosterv1.OrgUser], a typed map func): controller-runtime's
			// typed handlers drop, with a log line only, an event whose object is not the type
			// argument, and a cached user's is a *User.
			if assertOK {
				break
			}
			var idx []ast.Expr
			if ix, ok := n.(*ast.IndexExpr); ok {
				idx = []ast.Expr{ix.Index}
			} else {
				idx = n.(*ast.IndexListExpr).Indices
			}
			for _, e := range idx {
				if isUserType(e) {
					out = append(out, finding{e.Pos(), "instantiates a generic with *rosterv1.OrgUser: typed event handlers get a cached user as a *slimuser.User and drop it"})
				}
			}
		case *ast.TypeSwitchStmt:
			if assertOK {
				break
			}
			for _, c := range n.Body.List {
				for _, e := range c.(*ast.CaseClause).List {
					if isUserType(e) {
						out = append(out, finding{e.Pos(), "switches on *rosterv1.OrgUser: a cached user is a *slimuser.User"})
					}
				}
			}
		}
		return true
	})
	return out
}

// TestCheckFindsOldReaders: the forms the readers had before the cache held compact users are
// all found.
func TestCheckFindsOldReaders(t *testing.T) {
	src := `package p
func a() {
	var u rosterv1.OrgUser
	_ = r.Get(ctx, key, &u, client.UnsafeDisableDeepCopy)
	list := &rosterv1.OrgUserList{}
	_ = c.List(ctx, list, client.UnsafeDisableDeepCopy)
	_ = cachescan.Each(ctx, reader, &rosterv1.OrgUserList{}, ns, fn)
	_ = o.(*rosterv1.OrgUser)
	switch o.(type) {
	case *rosterv1.OrgUser:
	}
	var t rosterv1.OrgTeam
	_ = r.Get(ctx, key, &t, client.UnsafeDisableDeepCopy)
	_ = r.Get(ctx, key, &u)
	_ = source.Kind[*rosterv1.OrgUser](c, &rosterv1.OrgUser{}, h)
	_ = handler.TypedEnqueueRequestsFromMapFunc[*rosterv1.OrgUser, reconcile.Request](fn)
	_ = source.Kind[*rosterv1.OrgTeam](c, &rosterv1.OrgTeam{}, h)
}`
	f, err := parser.ParseFile(token.NewFileSet(), "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := check(f, false); len(got) != 7 {
		t.Errorf("found %d of the 7 readers: %v", len(got), got)
	}
	if got := check(f, true); len(got) != 3 {
		t.Errorf("with assertions allowed, found %d of the 3 reads: %v", len(got), got)
	}
}
