package mapwrites

import (
	"go/types"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"

	"github.com/lockscope/lockscope/internal/testutil"
)

// TestLibraryGoroutines: a function value given to a library call that runs
// it in a new goroutine (wg.Go, errgroup, AfterFunc, a finalizer, an http
// handler) is a goroutine as a go statement's is, so the writes it reaches
// with no lock are unguarded; a sort's comparison and a request's own
// header are not. The fixture's markers say which: *-unguarded or *-local.
func TestLibraryGoroutines(t *testing.T) {
	ix, ms := load(t, "spawners")
	if p := ix.Problems(); len(p) > 0 {
		t.Fatalf("Problems() = %q", p)
	}
	n := 0
	for name := range ms {
		want := strings.HasSuffix(name, "-unguarded")
		if !want && !strings.HasSuffix(name, "-local") {
			t.Fatalf("marker %s ends in neither -unguarded nor -local", name)
		}
		n++
		w := writeAt(t, ix, ms, name)
		if w.Guard != "" || w.Unguarded != want {
			t.Errorf("%s (%s in %s): guard=%q unguarded=%v, want no guard, unguarded=%v",
				name, w.Map, w.Function, w.Guard, w.Unguarded, want)
		}
	}
	if n < 19 {
		t.Errorf("%d markers in testdata/spawners, want the 19 shapes it has", n)
	}
}

// TestSpawnerTable: every entry of the table names a function or method
// that exists, with a function or an http.Handler at the argument the
// entry names, so that a misspelt name (which would never match) fails
// here.
func TestSpawnerTable(t *testing.T) {
	// The fixture's module has golang.org/x/sync, which lockscope's own
	// module does not need.
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "spawners")
	funcs := libFuncs(t, dir, "sync", "time", "context", "runtime", "net/http", "net/http/httptest", "golang.org/x/sync/errgroup")
	for name, sp := range spawners {
		f := funcs[name]
		if f == nil {
			t.Errorf("%s: no such function or method", name)
			continue
		}
		if !spawnerPkgs[f.Pkg().Path()] {
			t.Errorf("%s: package %s is missing from spawnerPkgs", name, f.Pkg().Path())
		}
		params := f.Signature().Params()
		if sp.arg >= params.Len() {
			t.Errorf("%s: argument %d, but it has %d parameters", name, sp.arg, params.Len())
			continue
		}
		pt := params.At(sp.arg).Type()
		_, isFunc := pt.Underlying().(*types.Signature)
		isHandler := isNetHTTP(pt, "Handler")
		switch {
		case sp.handler && !isFunc && !isHandler:
			t.Errorf("%s: argument %d is %s, want a handler function or http.Handler", name, sp.arg, pt)
		case !sp.handler && !isFunc && name != "runtime.SetFinalizer":
			// SetFinalizer's finalizer is an any.
			t.Errorf("%s: argument %d is %s, want a function", name, sp.arg, pt)
		}
	}
}

// libFuncs loads the packages paths (resolved in dir, a fixture's module)
// and returns their functions and methods by types.Func full name.
func libFuncs(t *testing.T, dir string, paths ...string) map[string]*types.Func {
	t.Helper()
	pkgs, err := packages.Load(&packages.Config{Mode: packages.NeedTypes | packages.NeedImports | packages.NeedDeps, Dir: dir}, paths...)
	if err != nil {
		t.Fatal(err)
	}
	funcs := map[string]*types.Func{}
	for _, p := range pkgs {
		if len(p.Errors) > 0 {
			t.Fatalf("%s: %v", p.PkgPath, p.Errors)
		}
		sc := p.Types.Scope()
		for _, name := range sc.Names() {
			switch o := sc.Lookup(name).(type) {
			case *types.Func:
				funcs[o.FullName()] = o
			case *types.TypeName:
				if n, ok := o.Type().(*types.Named); ok {
					for m := range n.Methods() {
						funcs[m.FullName()] = m
					}
				}
			}
		}
	}
	return funcs
}
