// Package mapwrites indexes the map writes of a Go program from its source
// and joins them with lock contention.
//
// [Load] type-checks the debuggee's packages (golang.org/x/tools/go/packages
// with go/types) and finds every statement that writes a map: m[k] = v,
// m[k] op= v, m[k]++ and --, delete(m, k), clear(m), and multi-assignments
// such as a, m[k] = .... For each write it records which lock guards it and
// which other statements write the same map ([Index.Writes]), and every
// Lock, RLock, Unlock and RUnlock call ([Index.LockSites]), so that
// [Join] can mark the writes whose lock the profiles and traces show as
// contended.
//
// # Identity
//
// A map is named by its types.Object: the package variable, the struct
// field (whatever value, pointer or receiver it is reached through) or the
// local variable. Two writes of c.items in different methods are the same
// map. A map inside a slice element is named by the slice; a map returned
// by a call is named by the function called. A mutex is named the same way,
// so contention anywhere on the same mutex object counts for every region
// it guards. Names are built from the object's package, name and
// declaration position, so they agree across the test and non-test variants
// of a package.
//
// # Guards
//
// Within one function, a write is guarded by every mutex expression that is
// certainly held there: a Lock or RLock earlier on every path, with no
// Unlock in between. A deferred Unlock keeps the lock held to the end of the
// function. Branches that return or panic do not carry their state past
// the branch, so an early return after an Unlock does not unguard the code
// after it. A break carries its state to the end of the loop, switch or
// select it leaves, and a continue to the top of its loop; a goto is not
// followed. Loops are iterated until the held set is stable. Function
// literals are functions of their own: a lock taken outside a closure
// guards writes inside it only when the closure is called in place or
// passed to a call that only calls it (see below), not when it is stored,
// started, or run later.
//
// When several locks are held, the guard is chosen as the lock detector
// Eraser does: the locks held at every guarded write of the same map,
// innermost first; if they have none in common, the innermost held lock.
//
// # Helpers called with the lock held
//
// A function is entered with the locks that every call of it in the live
// program holds (interproc.go): the lock set at each call site is carried
// into the callee, as a summary per function iterated to a fixed point
// (recursion keeps what its outside callers hold). c.mu held in the caller
// is the callee's r.mu when the call passes c as the callee's receiver or
// parameter r, so a removeOldest or setLocked helper's write of c.items is
// guarded by c.mu ([contention.MapWrite.GuardedVia] names the calls that
// take it). A lock the callee cannot name (c.lock held while c.lru.Add
// runs) still guards it, with no expression Delve can evaluate there;
// the lock of another value of the callee's own type (c.mu held while
// o.set() runs) does not. A helper that gives the lock up and takes it
// again is followed as within one function. A function value (a literal, a
// method value, a named function) passed to a call whose callee only calls
// that parameter (or passes it on to one of the same kind), never storing,
// returning, starting or deferring it, runs inside the call with the locks
// held where it is called, and a method value on the receiver it was taken
// from (callbacks.go): s.removeOldestEntry passed to s.onEvict under s.lock
// is guarded by it; so is a parameter called inside a literal that its
// function calls in place (singleflight's doCall). A function value given
// to a standard-library call that runs it at once (once.Do, sort.Slice,
// slices.SortFunc, strings.Map, sync.Map's Range...), the methods of a
// value given to sort.Sort or container/heap, and the iterator of a
// range-over-func loop (a function value, or the literal of a factory
// only ever ranged over, run with the locks the loop holds throughout)
// run with the caller's locks (runners.go); so do the calls in a go or
// defer statement's arguments, which the caller evaluates. A call through
// an unexported function-typed field whose every value the index sees
// runs them: a method value stored on the value itself with its locks,
// any other with the package-level locks held (fields.go). A function
// that is started by a go statement, deferred,
// used as any other value, or may be called by code the index does not see
// (an exported method of a value passed as an interface, as fmt calls
// String and net/http ServeHTTP) is entered with nothing held. The live
// program is what main, init and test functions reach; calls from code that
// never runs do not count. A helper that some callers enter with the lock
// held and others without it is SometimesUnguarded, and UnguardedVia names
// the others.
//
// # Unguarded writes
//
// A write with no guard is Unguarded when another goroutine can reach the
// map. The rule is deliberately simple and errs towards reporting:
//   - a package variable (of any package) is always reachable;
//   - a map reached from a local variable, parameter or receiver is
//     reachable when that variable is captured by a function literal that
//     runs as a goroutine (or is called from one) other than its
//     declarer's (a literal called in place, given to a runner, or kept in
//     a local variable that is only ever called runs in the declarer's:
//     synclits.go), when it is named in the call of a go statement, or
//     when it is a parameter or receiver of a function that goroutines
//     call (directly or through static calls, function values named in
//     their bodies included);
//   - a map returned by a call is reachable when the writing function runs
//     in a goroutine.
//
// A goroutine is started by a go statement or by a library call that runs
// its function argument in a new goroutine (spawn.go): sync.WaitGroup.Go,
// errgroup's Go and TryGo, time.AfterFunc, context.AfterFunc, finalizers
// and cleanups, and net/http handlers (HandleFunc, Handle, ListenAndServe,
// an http.Server's Handler, a conversion to http.HandlerFunc, the
// ServeHTTP method of a type whose value is passed as an http.Handler),
// which the server runs in a goroutine per request. A handler's own parameters (the ResponseWriter,
// the Request) belong to its request: a map reached from them (r.Header,
// w.Header()) is shared only if the handler lets them go to a goroutine.
//
// Interface method calls are not followed here.
//
// # Local maps
//
// A map that a function makes for itself (make, a literal) and never lets
// go of — never stored, assigned to another variable, returned, passed to a
// function or a goroutine, sent, or named inside a function literal — is
// no shared map: each call has its own, whatever lock is held around it.
// Its writes are not indexed (locals.go).
package mapwrites

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"golang.org/x/tools/go/packages"

	"github.com/lockscope/lockscope/internal/contention"
)

// LockSite is one call of a sync.Mutex or sync.RWMutex method in the source.
type LockSite struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Function string `json:"function"`
	// Mutex is the mutex expression as written, with an embedded mutex
	// spelled out (s.Mutex for s.Lock()).
	Mutex string `json:"mutex"`
	// MutexID names the mutex variable or field; see the package doc.
	MutexID string `json:"mutexId"`
	// Kind is contention.PrimMutex or contention.PrimRWMutex.
	Kind string `json:"kind"`
	// Method is Lock, RLock, Unlock, RUnlock, TryLock or TryRLock.
	Method string `json:"method"`
	// Deferred is true for defer mu.Unlock() and for calls inside a deferred
	// function literal.
	Deferred bool `json:"deferred,omitempty"`
}

// Locks reports whether the site acquires the mutex.
func (s LockSite) Locks() bool {
	return s.Method == "Lock" || s.Method == "RLock" || s.Method == "TryLock" || s.Method == "TryRLock"
}

// Index is the map-write index of a set of packages. It is immutable once
// built and safe for concurrent readers.
type Index struct {
	writes   []contention.MapWrite
	sites    []LockSite
	problems []string
	held     map[heldKey][]Held // the locks held on each line (held.go)
}

// Options tunes [LoadWithOptions].
type Options struct {
	// BuildFlags are passed to the go command (for example -tags).
	BuildFlags []string
	// Tests also indexes the packages' _test.go files, as a debuggee in
	// test mode runs them.
	Tests bool
	// Env, when non-nil, is the go command's environment.
	Env []string
	// Modules are other modules whose packages the program imports that
	// [LoadProgram] indexes too: a dependency that holds a hot lock, whose
	// map writes under it are then joined with its contention.
	Modules []string
	// Listed, when not nil, is called once the go command is done (no
	// child process of the load runs after it), before the packages are
	// parsed and type-checked: the embedded Delve reaps any child once
	// the debuggee runs, so a caller holds the debuggee until then only,
	// not for the whole load. It may not be called when the load fails.
	// The load goes on when it returns, so a caller may also hold the
	// type-checking there, off the CPU that a build needs.
	Listed func()
	// Context, when not nil, ends the load early: it then fails with the
	// context's error.
	Context context.Context
}

// Load indexes the packages matched by patterns, resolved in dir (which may
// belong to another module with its own go.mod). Code that does not
// type-check is indexed as far as it can be; what could not be is listed by
// [Index.Problems]. Load fails only when the go command cannot list the
// packages at all.
func Load(dir string, patterns []string, buildFlags []string) (*Index, error) {
	return LoadWithOptions(dir, patterns, Options{BuildFlags: buildFlags})
}

// LoadWithOptions is [Load] with more settings.
func LoadWithOptions(dir string, patterns []string, o Options) (*Index, error) {
	fset, pkgs, err := loadPackages(dir, patterns, o)
	if err != nil {
		return nil, err
	}
	return build(fset, pkgs), nil
}

// loadPackages lists, parses and type-checks the packages for [LoadWithOptions].
func loadPackages(dir string, patterns []string, o Options) (*token.FileSet, []*packages.Package, error) {
	if len(patterns) == 0 {
		patterns = []string{"."}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("mapwrites: directory %q: %v", dir, err)
	}
	if fi, err := os.Stat(abs); err != nil {
		return nil, nil, fmt.Errorf("mapwrites: directory %s: %v", abs, err)
	} else if !fi.IsDir() {
		return nil, nil, fmt.Errorf("mapwrites: %s is not a directory", abs)
	}
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles |
			packages.NeedImports | packages.NeedTypes | packages.NeedSyntax |
			packages.NeedTypesInfo,
		Dir:        abs,
		Fset:       token.NewFileSet(),
		BuildFlags: o.BuildFlags,
		Tests:      o.Tests,
		Env:        o.Env,
		Context:    o.Context,
	}
	if o.Listed != nil {
		// go/packages runs every go command first and parses after: the
		// first file parsed marks the end of its child processes.
		var once sync.Once
		cfg.ParseFile = func(fset *token.FileSet, filename string, src []byte) (*ast.File, error) {
			once.Do(o.Listed)
			// The mode go/packages uses when ParseFile is nil.
			const mode = parser.AllErrors | parser.ParseComments
			return parser.ParseFile(fset, filename, src, mode)
		}
	}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		return nil, nil, fmt.Errorf("mapwrites: loading %s in %s: %v", strings.Join(patterns, " "), abs, err)
	}
	return cfg.Fset, pkgs, nil
}

// Writes returns every map write found, each with its other writers.
func (ix *Index) Writes() []contention.MapWrite {
	out := make([]contention.MapWrite, len(ix.writes))
	for i, w := range ix.writes {
		out[i] = copyWrite(w)
	}
	return out
}

// LockSites returns every Lock, RLock, Unlock and RUnlock call found.
func (ix *Index) LockSites() []LockSite { return append([]LockSite{}, ix.sites...) }

// Problems lists what could not be indexed: packages that failed to load or
// type-check, and writes whose map could not be typed.
func (ix *Index) Problems() []string { return append([]string{}, ix.problems...) }

// At returns the map writes on one source line. A relative file is taken
// as a suffix of the indexed absolute paths.
func (ix *Index) At(file string, line int) []contention.MapWrite {
	var out []contention.MapWrite
	for _, w := range ix.writes {
		if w.Line == line && sameFile(w.File, file) {
			out = append(out, copyWrite(w))
		}
	}
	return out
}

// copyWrite copies w with its lists, which the index keeps to itself.
func copyWrite(w contention.MapWrite) contention.MapWrite {
	w.Writers = append([]contention.Site{}, w.Writers...)
	w.GuardedVia = slices.Clone(w.GuardedVia)
	w.UnguardedVia = slices.Clone(w.UnguardedVia)
	return w
}

// sameFile reports whether the asked path names the indexed file.
func sameFile(indexed, asked string) bool {
	if filepath.IsAbs(asked) {
		return filepath.Clean(asked) == indexed
	}
	asked = filepath.ToSlash(filepath.Clean(asked))
	return strings.HasSuffix(filepath.ToSlash(indexed), "/"+asked) || filepath.ToSlash(indexed) == asked
}
