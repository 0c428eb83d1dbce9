package mapwrites

import (
	"go/types"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/testutil"
)

// TestSyncRunners: a function value given to a standard-library call that
// runs it at once (once.Do, sort.Slice, slices.SortFunc, strings.Map,
// sync.Map's Range, maps.DeleteFunc, slices.Collect), the methods of a
// value given to sort.Sort or container/heap, a range-over-func iterator
// (a method value, or a factory's literal) and its loop's body, a
// parameter handed to a runner or ranged over, a parameter called inside
// a literal called in place, and a call in a go or defer statement's
// arguments run in the caller, under the locks held there: guarded. The
// same shapes with no lock held there, or really run elsewhere or later
// (a go statement's function, a literal started with go, sync.OnceFunc's
// function, a deferred call, a factory's iterator also kept for a
// goroutine, an iterator that goes on after its loop gave the lock up and
// left) are not. A local map captured by a literal that is only ever
// called from its declarer (a recursive visitor) is not shared; one whose
// literal a goroutine calls, or time.AfterFunc runs, is. Such a literal
// runs with the locks held where its variable is called (a helper it
// calls too), unless the variable is also stored. The fixture's
// markers end in -guarded, -unguarded (no guard, shared) or -local (no
// guard, not shared).
func TestSyncRunners(t *testing.T) {
	ix, ms := load(t, "syncrunners")
	if p := ix.Problems(); len(p) > 0 {
		t.Fatalf("Problems() = %q", p)
	}
	n := checkMarked(t, ix, ms, func(name string) string {
		switch name {
		case "indexfunc-guarded":
			return "totalsMu"
		case "goarg-guarded", "deferarg-guarded":
			return "w.mu"
		}
		return "s.mu"
	})
	if n < 40 {
		t.Errorf("%d markers in testdata/syncrunners, want the 40 shapes it has", n)
	}
}

// checkMarked checks the write at each marker of a fixture and returns
// how many there are: a marker ending in -guarded wants the guard guard
// gives for it, held on every path; -unguarded no guard, and the write
// shared; -local no guard, not shared.
func checkMarked(t *testing.T, ix *Index, ms map[string]marker, guard func(name string) string) int {
	t.Helper()
	for name := range ms {
		w := writeAt(t, ix, ms, name)
		switch {
		case strings.HasSuffix(name, "-guarded"):
			if want := guard(name); w.Guard != want || w.Unguarded || w.SometimesUnguarded {
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
	return len(ms)
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
	funcs := libFuncs(t, dir, paths...)
	// check finds the entry name, with want true of the type of each
	// argument in args.
	check := func(name string, args []int, want func(types.Type) bool, what string) {
		f := funcs[name]
		if f == nil {
			t.Errorf("%s: no such function or method", name)
			return
		}
		if !runnerPkgs[f.Pkg().Path()] {
			t.Errorf("%s: package %s is missing from runnerPkgs", name, f.Pkg().Path())
		}
		if len(args) == 0 {
			t.Errorf("%s: no argument", name)
		}
		params := f.Signature().Params()
		for _, a := range args {
			if a >= params.Len() {
				t.Errorf("%s: argument %d, but it has %d parameters", name, a, params.Len())
			} else if pt := params.At(a).Type(); !want(pt) {
				t.Errorf("%s: argument %d is %s, want %s", name, a, pt, what)
			}
		}
	}
	for name, args := range runners {
		if _, ok := spawners[name]; ok {
			t.Errorf("%s: both a runner and a spawner", name)
		}
		if _, ok := ifaceRunners[name]; ok {
			t.Errorf("%s: both a runner and an interface runner", name)
		}
		check(name, args, isFuncType, "a function")
	}
	for name, args := range ifaceRunners {
		check(name, args, func(pt types.Type) bool {
			it, ok := pt.Underlying().(*types.Interface)
			return ok && !it.Empty()
		}, "an interface with methods")
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

// TestSingleflightDo: on the real golang.org/x/sync/singleflight (its
// source indexed with the program's), a function given to Do runs in
// doCall's literal called in place, in the caller's goroutine: a write it
// makes under the caller's lock is guarded. One given to DoChan runs in
// a goroutine of its own (go g.doCall), with no lock.
func TestSingleflightDo(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "flightlock")
	ix, err := LoadProgram(dir, Options{Modules: []string{"golang.org/x/sync"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := ix.Problems(); len(p) > 0 {
		t.Fatalf("Problems() = %q", p)
	}
	indexed := false
	for _, s := range ix.LockSites() {
		indexed = indexed || strings.HasSuffix(s.Function, "singleflight.(*Group).Do")
	}
	if !indexed {
		t.Fatal("singleflight's source was not indexed: no lock site in (*Group).Do")
	}
	if n := checkMarked(t, ix, markers(t, dir), func(string) string { return "mu" }); n != 2 {
		t.Errorf("%d markers in testdata/flightlock, want 2", n)
	}
}
