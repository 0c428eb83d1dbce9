package mapwrites

import (
	"go/types"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"

	"github.com/lockscope/lockscope/internal/testutil"
)

// TestSyncRunners: a function value given to a standard-library call that
// runs it at once (once.Do, sort.Slice, slices.SortFunc, strings.Map,
// sync.Map's Range, maps.DeleteFunc, slices.Collect), the methods of a
// value given to sort.Sort or container/heap, a range-over-func iterator
// (a method value, or a factory's literal) and its loop's body, a parameter handed to a runner or ranged
// over, a parameter called inside a literal called in place, and a call
// in a go or defer statement's arguments run in the caller, under the
// locks held there: guarded. The same shapes with no lock held there, or
// really run elsewhere or later (a go statement's function, a literal
// started with go, sync.OnceFunc's function, a deferred call, a factory's
// iterator also kept for a goroutine, an iterator that goes on after its
// loop gave the lock up and left) are not.
// The fixture's markers end in -guarded, -unguarded (no guard, shared)
// or -local (no guard, not shared).
func TestSyncRunners(t *testing.T) {
	ix, ms := load(t, "syncrunners")
	if p := ix.Problems(); len(p) > 0 {
		t.Fatalf("Problems() = %q", p)
	}
	guards := map[string]string{
		"indexfunc-guarded": "totalsMu",
		"goarg-guarded":     "w.mu",
		"deferarg-guarded":  "w.mu",
	}
	n := 0
	for name := range ms {
		w := writeAt(t, ix, ms, name)
		n++
		switch {
		case strings.HasSuffix(name, "-guarded"):
			want := guards[name]
			if want == "" {
				want = "s.mu"
			}
			if w.Guard != want || w.Unguarded || w.SometimesUnguarded {
				t.Errorf("%s (%s in %s): guard=%q unguarded=%v sometimes=%v via=%q, want guard %q",
					name, w.Map, w.Function, w.Guard, w.Unguarded, w.SometimesUnguarded, sitesAt(w.UnguardedVia), want)
			}
		case strings.HasSuffix(name, "-unguarded"), strings.HasSuffix(name, "-local"):
			want := strings.HasSuffix(name, "-unguarded")
			if w.Guard != "" || w.Unguarded != want || w.SometimesUnguarded {
				t.Errorf("%s (%s in %s): guard=%q unguarded=%v sometimes=%v, want no guard, unguarded=%v",
					name, w.Map, w.Function, w.Guard, w.Unguarded, w.SometimesUnguarded, want)
			}
		default:
			t.Fatalf("marker %s ends in none of -guarded, -unguarded, -local", name)
		}
	}
	if n < 34 {
		t.Errorf("%d markers in testdata/syncrunners, want the 34 shapes it has", n)
	}
}

// TestRunnerTable: every entry of the runner tables names a function or
// method that exists, with a function at each argument the entry names,
// and none is also a spawner, so that a misspelt name or a wrong index
// (which would never match) fails here.
func TestRunnerTable(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "syncrunners")
	var paths []string
	for p := range runnerPkgs {
		paths = append(paths, p)
	}
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
	for name, args := range runners {
		f := funcs[name]
		if f == nil {
			t.Errorf("%s: no such function or method", name)
			continue
		}
		if !runnerPkgs[f.Pkg().Path()] {
			t.Errorf("%s: package %s is missing from runnerPkgs", name, f.Pkg().Path())
		}
		if _, ok := spawners[name]; ok {
			t.Errorf("%s: both a runner and a spawner", name)
		}
		if len(args) == 0 {
			t.Errorf("%s: no argument", name)
		}
		if _, ok := ifaceRunners[name]; ok {
			t.Errorf("%s: both a runner and an interface runner", name)
		}
		params := f.Signature().Params()
		for _, a := range args {
			if a >= params.Len() {
				t.Errorf("%s: argument %d, but it has %d parameters", name, a, params.Len())
				continue
			}
			if pt := params.At(a).Type(); !isFuncType(pt) {
				t.Errorf("%s: argument %d is %s, want a function", name, a, pt)
			}
		}
	}
	for name, args := range ifaceRunners {
		f := funcs[name]
		if f == nil {
			t.Errorf("%s: no such function or method", name)
			continue
		}
		if !runnerPkgs[f.Pkg().Path()] {
			t.Errorf("%s: package %s is missing from runnerPkgs", name, f.Pkg().Path())
		}
		params := f.Signature().Params()
		for _, a := range args {
			if a >= params.Len() {
				t.Errorf("%s: argument %d, but it has %d parameters", name, a, params.Len())
				continue
			}
			if pt := params.At(a).Type(); !types.IsInterface(pt) || pt.Underlying().(*types.Interface).Empty() {
				t.Errorf("%s: argument %d is %s, want an interface with methods", name, a, pt)
			}
		}
	}
}

// isFuncType reports whether t is a function type, or a type parameter
// whose core type is one (slices.Collect's iter.Seq is a named function
// type).
func isFuncType(t types.Type) bool {
	if tp, ok := t.(*types.TypeParam); ok {
		t = tp.Constraint()
		if it, ok := t.Underlying().(*types.Interface); ok && it.NumEmbeddeds() == 1 {
			t = it.EmbeddedType(0)
			if u, ok := t.(*types.Union); ok && u.Len() == 1 {
				t = u.Term(0).Type()
			}
		}
	}
	_, ok := t.Underlying().(*types.Signature)
	return ok
}
