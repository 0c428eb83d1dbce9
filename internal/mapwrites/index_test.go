package mapwrites

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
)

type marker struct {
	file string
	line int
}

var markerRE = regexp.MustCompile(`lockscope:([A-Za-z0-9_-]+)`)

// markers maps each "lockscope:name" comment under dir to its line.
func markers(t testing.TB, dir string) map[string]marker {
	t.Helper()
	out := map[string]marker{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || !strings.HasSuffix(p, ".go") {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			for _, m := range markerRE.FindAllStringSubmatch(sc.Text(), -1) {
				if _, dup := out[m[1]]; dup {
					t.Fatalf("marker %s appears twice under %s", m[1], dir)
				}
				out[m[1]] = marker{p, n}
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	loadMu sync.Mutex
	loaded = map[string]*Index{}
)

// load indexes testdata/<rel> ./... once per test binary.
func load(t testing.TB, rel string) (*Index, map[string]marker) {
	t.Helper()
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", rel)
	loadMu.Lock()
	defer loadMu.Unlock()
	ix := loaded[rel]
	if ix == nil {
		var err error
		ix, err = Load(dir, []string{"./..."}, nil)
		if err != nil {
			t.Fatalf("Load(%s): %v", dir, err)
		}
		loaded[rel] = ix
	}
	return ix, markers(t, dir)
}

// writeAt returns the one write at a marker.
func writeAt(t *testing.T, ix *Index, ms map[string]marker, name string) contention.MapWrite {
	t.Helper()
	m, ok := ms[name]
	if !ok {
		t.Fatalf("no marker %s", name)
	}
	ws := ix.At(m.file, m.line)
	if len(ws) != 1 {
		t.Fatalf("At(%s) = %d writes, want 1: %+v", name, len(ws), ws)
	}
	return ws[0]
}

func writerLines(w contention.MapWrite) []marker {
	var out []marker
	for _, s := range w.Writers {
		out = append(out, marker{s.File, s.Line})
	}
	return out
}

func sameMarkers(got []marker, want ...marker) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func TestTestdataPrograms(t *testing.T) {
	type want struct {
		prog, marker    string
		mapExpr, op     string
		guard, kind     string
		read            bool
		unguarded       bool
		function        string
		writerMarkers   []string
		mapEval, guard2 string
	}
	rows := []want{
		{prog: "ledger", marker: "hot-write", mapExpr: "balances", op: contention.OpOpAssign, guard: "balMu", kind: contention.PrimMutex, function: "main.deposit", mapEval: "balances", guard2: "balMu"},
		{prog: "ledger", marker: "cold-write", mapExpr: "auditLog", op: contention.OpAssign, guard: "auditMu", kind: contention.PrimMutex, function: "main.audit", mapEval: "auditLog", guard2: "auditMu"},
		{prog: "rwcache", marker: "rw-write", mapExpr: "c.items", op: contention.OpAssign, guard: "c.mu", kind: contention.PrimRWMutex, function: "main.(*Cache).Refresh", mapEval: "c.items", guard2: "c.mu"},
		{prog: "inventory", marker: "store-write", mapExpr: "s.stock", op: contention.OpOpAssign, guard: "s.mu", kind: contention.PrimMutex, function: "github.com/lockscope/lockscope/testdata/inventory/store.(*Store).Add", mapEval: "s.stock", guard2: "s.mu"},
		{prog: "crashmap", marker: "crash-hit", mapExpr: "hits", op: contention.OpIncDec, unguarded: true, function: "main.hit", writerMarkers: []string{"crash-reset"}, mapEval: "hits"},
		{prog: "crashmap", marker: "crash-reset", mapExpr: "hits", op: contention.OpAssign, unguarded: true, function: "main.resetPage", writerMarkers: []string{"crash-hit"}, mapEval: "hits"},
		{prog: "racymap", marker: "racy-record", mapExpr: "seen", op: contention.OpAssign, unguarded: true, function: "main.record", writerMarkers: []string{"racy-forget"}, mapEval: "seen"},
		{prog: "racymap", marker: "racy-forget", mapExpr: "seen", op: contention.OpDelete, unguarded: true, function: "main.forget", writerMarkers: []string{"racy-record"}, mapEval: "seen"},
		{prog: "calm", marker: "calm-write", mapExpr: "s.m", op: contention.OpAssign, guard: "s.mu", kind: contention.PrimMutex, function: "main.main.func1", mapEval: "s.m", guard2: "s.mu"},
	}
	for _, r := range rows {
		t.Run(r.prog+"/"+r.marker, func(t *testing.T) {
			ix, ms := load(t, r.prog)
			if p := ix.Problems(); len(p) > 0 {
				t.Errorf("Problems() = %q, want none", p)
			}
			w := writeAt(t, ix, ms, r.marker)
			if w.Map != r.mapExpr || w.Op != r.op || w.Guard != r.guard || w.GuardKind != r.kind || w.GuardRead != r.read || w.Unguarded != r.unguarded || w.Function != r.function {
				t.Errorf("got map=%q op=%q guard=%q kind=%q read=%v unguarded=%v function=%q\nwant map=%q op=%q guard=%q kind=%q read=%v unguarded=%v function=%q",
					w.Map, w.Op, w.Guard, w.GuardKind, w.GuardRead, w.Unguarded, w.Function,
					r.mapExpr, r.op, r.guard, r.kind, r.read, r.unguarded, r.function)
			}
			if w.MapEval != r.mapEval || w.GuardEval != r.guard2 || w.NoBreakpoint != "" {
				t.Errorf("got mapEval=%q guardEval=%q noBreakpoint=%q, want %q %q \"\"", w.MapEval, w.GuardEval, w.NoBreakpoint, r.mapEval, r.guard2)
			}
			var want []marker
			for _, n := range r.writerMarkers {
				want = append(want, ms[n])
			}
			if got := writerLines(w); !sameMarkers(got, want...) {
				t.Errorf("writers = %v, want %v", got, want)
			}
			if w.Writers == nil {
				t.Error("Writers is nil, want [] (the JSON must carry a list)")
			}
			if !filepath.IsAbs(w.File) {
				t.Errorf("File %q is not absolute", w.File)
			}
		})
	}
}

// TestCounts checks that nothing else is reported as a map write in the
// testdata programs: a read is not a write.
func TestCounts(t *testing.T) {
	for prog, n := range map[string]int{"ledger": 2, "rwcache": 1, "inventory": 1, "crashmap": 2, "racymap": 2, "calm": 1, "handoff": 2, "short": 1, "basic": 0} {
		ix, _ := load(t, prog)
		if got := len(ix.Writes()); got != n {
			t.Errorf("%s: %d writes, want %d: %+v", prog, got, n, ix.Writes())
		}
	}
}

func TestLockSitesDeferredUnlock(t *testing.T) {
	ix, ms := load(t, "inventory")
	w := writeAt(t, ix, ms, "store-write")
	unlock := ms["store-unlock"]
	var found bool
	for _, s := range ix.LockSites() {
		if s.File == unlock.file && s.Line == unlock.line {
			found = true
			if !s.Deferred || s.Method != "Unlock" || s.MutexID != w.GuardID || s.Mutex != "s.mu" || s.Kind != contention.PrimMutex {
				t.Errorf("deferred unlock site = %+v, want deferred Unlock of %s", s, w.GuardID)
			}
		}
	}
	if !found {
		t.Fatalf("no lock site at store-unlock %v", unlock)
	}
	// Add and Count lock the same field: one mutex identity, four sites.
	n := 0
	for _, s := range ix.LockSites() {
		if s.MutexID == w.GuardID {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d lock sites on s.mu, want 4 (Lock and deferred Unlock in Add and Count)", n)
	}
}

// TestHandoffEraser checks the choice among nested locks: vault is written
// under vaultMu alone and under vaultMu+ledgerMu, so vaultMu guards it.
func TestHandoffEraser(t *testing.T) {
	ix, _ := load(t, "handoff")
	for _, w := range ix.Writes() {
		if w.Guard != "vaultMu" {
			t.Errorf("%s:%d guard = %q, want vaultMu", w.File, w.Line, w.Guard)
		}
		if len(w.Writers) != 1 {
			t.Errorf("%s:%d writers = %v, want the other vault write", w.File, w.Line, w.Writers)
		}
	}
}

func TestForms(t *testing.T) {
	ix, ms := load(t, "mapwrites/forms")
	if p := ix.Problems(); len(p) > 0 {
		t.Fatalf("Problems() = %q", p)
	}
	type row struct {
		marker    string
		op        string
		guard     string
		read      bool
		unguarded bool
		noBP      bool
		mapEval   string
		guardEval string
	}
	rows := []row{
		{"f-assign", contention.OpAssign, "mu", false, false, false, "m", "mu"},
		{"f-opassign", contention.OpOpAssign, "mu", false, false, false, "m", "mu"},
		{"f-inc", contention.OpIncDec, "mu", false, false, false, "m", "mu"},
		{"f-dec", contention.OpIncDec, "mu", false, false, false, "m", "mu"},
		{"f-delete", contention.OpDelete, "mu", false, false, false, "m", "mu"},
		{"f-clear", contention.OpClear, "mu", false, false, false, "m", "mu"},
		{"f-multi", contention.OpAssign, "mu", false, false, false, "m", "mu"},
		{"nest-outer-only", contention.OpAssign, "outer", false, false, false, "m", "outer"},
		{"nest-both", contention.OpAssign, "mu", false, false, false, "m", "mu"},
		{"nest-after", contention.OpAssign, "", false, true, false, "m", ""},
		{"early-still-held", contention.OpAssign, "mu", false, false, false, "m", "mu"},
		{"early-after-unlock", contention.OpAssign, "", false, true, false, "m", ""},
		{"deferred-loop", contention.OpAssign, "mu", false, false, false, "m", "mu"},
		{"branch-maybe", contention.OpAssign, "", false, true, false, "m", ""},
		{"loop-unlocked-inside", contention.OpAssign, "mu", false, false, false, "m", "mu"},
		{"rlock-write", contention.OpAssign, "rw", true, false, false, "m", "rw"},
		{"rw-write", contention.OpAssign, "rw", false, false, false, "m", "rw"},
		{"embedded-write", contention.OpIncDec, "c.Mutex", false, false, false, "c.n", "c.Mutex"},
		{"value-recv", contention.OpAssign, "b.mu", false, false, false, "b.m", "b.mu"},
		{"other-main", contention.OpAssign, "o.Mu", false, false, false,
			`"github.com/lockscope/lockscope/testdata/mapwrites/forms/other".Shared`,
			`"github.com/lockscope/lockscope/testdata/mapwrites/forms/other".Mu`},
		{"other-put", contention.OpAssign, "Mu", false, false, false, "Shared", "Mu"},
		{"from-call", contention.OpAssign, "mu", false, false, true, "", "mu"},
		{"map-of-maps", contention.OpAssign, "mu", false, false, true, "", "mu"},
		{"slice-elem", contention.OpAssign, "mu", false, false, false, "arr[i]", "mu"},
		{"slice-elem-expr", contention.OpAssign, "mu", false, false, true, "", "mu"},
		{"closure-write", contention.OpAssign, "", false, true, false, "m", ""},
		{"local-in-goroutine", contention.OpAssign, "", false, true, false, "shared", ""},
		{"local-captured", contention.OpAssign, "", false, true, false, "shared", ""},
		{"local-passed", contention.OpAssign, "", false, true, false, "passed", ""},
		{"param-in-goroutine", contention.OpAssign, "", false, true, false, "p", ""},
		{"param-main-only", contention.OpAssign, "", false, false, false, "p", ""},
	}
	for _, r := range rows {
		w := writeAt(t, ix, ms, r.marker)
		if w.Op != r.op || w.Guard != r.guard || w.GuardRead != r.read || w.Unguarded != r.unguarded ||
			(w.NoBreakpoint != "") != r.noBP || w.MapEval != r.mapEval || w.GuardEval != r.guardEval {
			t.Errorf("%s: got op=%q guard=%q read=%v unguarded=%v noBreakpoint=%q mapEval=%q guardEval=%q\nwant op=%q guard=%q read=%v unguarded=%v noBreakpoint=%v mapEval=%q guardEval=%q",
				r.marker, w.Op, w.Guard, w.GuardRead, w.Unguarded, w.NoBreakpoint, w.MapEval, w.GuardEval,
				r.op, r.guard, r.read, r.unguarded, r.noBP, r.mapEval, r.guardEval)
		}
	}

	// A map the function makes and keeps to itself is no shared map.
	if m := ms["local-private"]; len(ix.At(m.file, m.line)) != 0 {
		t.Errorf("local-private indexed: %+v", ix.At(m.file, m.line))
	}

	// f-multi2 writes m twice on one line; both are indexed, and each
	// lists the other lines but not its own.
	m2 := ms["f-multi2"]
	if ws := ix.At(m2.file, m2.line); len(ws) != 2 {
		t.Errorf("f-multi2: %d writes, want 2", len(ws))
	} else {
		for _, s := range ws[0].Writers {
			if s.Line == m2.line {
				t.Errorf("f-multi2 lists its own line among its writers")
			}
		}
	}

	// One map, one identity: every write of the package variable m lists
	// all the others, across functions and closures.
	a := writeAt(t, ix, ms, "f-assign")
	c := writeAt(t, ix, ms, "closure-write")
	if a.MapID != c.MapID || len(a.Writers) != len(c.Writers) {
		t.Errorf("m in forms and in a closure: ids %q %q, writers %d %d", a.MapID, c.MapID, len(a.Writers), len(c.Writers))
	}
	// Another package's variable is the same map from both packages.
	om, op := writeAt(t, ix, ms, "other-main"), writeAt(t, ix, ms, "other-put")
	if om.MapID != op.MapID || om.GuardID != op.GuardID {
		t.Errorf("other.Shared from main and from other: ids %q/%q guards %q/%q", om.MapID, op.MapID, om.GuardID, op.GuardID)
	}
	if !sameMarkers(writerLines(om), ms["other-put"]) {
		t.Errorf("other-main writers = %v, want other-put", writerLines(om))
	}
	// Elements of one slice of maps are one map identity.
	s1, s2 := writeAt(t, ix, ms, "slice-elem"), writeAt(t, ix, ms, "slice-elem-expr")
	if s1.MapID != s2.MapID {
		t.Errorf("arr[i] and arr[i+1]: ids %q %q", s1.MapID, s2.MapID)
	}
	// The captured local is one map in main and in its goroutine.
	l1, l2 := writeAt(t, ix, ms, "local-captured"), writeAt(t, ix, ms, "local-in-goroutine")
	if !sameMarkers(writerLines(l1), ms["local-in-goroutine"]) || l1.MapID != l2.MapID {
		t.Errorf("local-captured writers = %v, want local-in-goroutine", writerLines(l1))
	}
	if got := writeAt(t, ix, ms, "local-in-goroutine").Function; got != "main.locals.func1" {
		t.Errorf("goroutine literal function = %q, want main.locals.func1", got)
	}

	// The embedded mutex: Lock and Unlock name c.Mutex.
	emb := writeAt(t, ix, ms, "embedded-write")
	n := 0
	for _, s := range ix.LockSites() {
		if s.MutexID == emb.GuardID {
			n++
			if s.Mutex != "c.Mutex" {
				t.Errorf("embedded lock site mutex = %q, want c.Mutex", s.Mutex)
			}
		}
	}
	if n != 2 {
		t.Errorf("%d lock sites for the embedded mutex, want 2", n)
	}
	// The deferred Unlock is marked.
	du := ms["deferred-unlock"]
	for _, s := range ix.LockSites() {
		if s.Line == du.line && s.File == du.file && !s.Deferred {
			t.Errorf("deferred unlock site not marked deferred: %+v", s)
		}
	}
}

func TestBrokenPackage(t *testing.T) {
	ix, ms := load(t, "mapwrites/broken")
	probs := strings.Join(ix.Problems(), "\n")
	if !strings.Contains(probs, "undefinedMap") || !strings.Contains(probs, "notAnInt") {
		t.Errorf("Problems() = %q, want the type errors named", probs)
	}
	g := writeAt(t, ix, ms, "broken-good")
	if g.Guard != "mu" {
		t.Errorf("broken-good guard = %q, want mu", g.Guard)
	}
	// The write whose value does not type-check still writes m.
	b := writeAt(t, ix, ms, "broken-badvalue")
	if b.Map != "m" || !b.Unguarded {
		t.Errorf("broken-badvalue = %+v, want an unguarded write of m", b)
	}
	u := ms["broken-undefined"]
	if ws := ix.At(u.file, u.line); len(ws) != 0 {
		t.Errorf("undefined map indexed as a write: %+v", ws)
	}
	if !strings.Contains(probs, "broken.go:"+itoa(u.line)) {
		t.Errorf("Problems() does not name the line of the untyped write %d: %q", u.line, probs)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestOtherModule(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "othermod")
	ix, err := Load(dir, []string{"."}, nil)
	if err != nil {
		t.Fatalf("Load(%s): %v", dir, err)
	}
	if p := ix.Problems(); len(p) > 0 {
		t.Errorf("Problems() = %q", p)
	}
	if len(ix.Writes()) != 0 || len(ix.LockSites()) != 0 {
		t.Errorf("othermod has no map writes or locks; got %v %v", ix.Writes(), ix.LockSites())
	}
}

func TestLoadErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	if _, err := Load(dir, []string{"."}, nil); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("Load of a missing directory: error %v, want one naming %s", err, dir)
	}
	ix, err := Load(filepath.Join(testutil.ModuleRoot(t), "testdata", "ledger"), []string{"./nosuchpkg"}, nil)
	if err != nil {
		t.Fatalf("Load of a missing package: %v (want it listed as a problem)", err)
	}
	if p := strings.Join(ix.Problems(), "\n"); !strings.Contains(p, "nosuchpkg") {
		t.Errorf("Problems() = %q, want the missing package named", p)
	}
}

func TestAtRelative(t *testing.T) {
	ix, ms := load(t, "ledger")
	m := ms["hot-write"]
	if ws := ix.At("ledger/main.go", m.line); len(ws) != 1 {
		t.Errorf("At(ledger/main.go, %d) = %d writes, want 1", m.line, len(ws))
	}
	if ws := ix.At("edger/main.go", m.line); len(ws) != 0 {
		t.Errorf("At matched a partial file name")
	}
}

// LoadProgram follows the program into the other packages of its module:
// inventory's map write sits in testdata/inventory/store.
func TestLoadProgramFollowsModulePackages(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "inventory")
	ix, err := LoadProgram(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, w := range ix.Writes() {
		if strings.HasSuffix(w.File, filepath.Join("store", "store.go")) && w.Map == "s.stock" {
			found = true
		}
		if strings.Contains(w.File, "/usr/local/go/") || strings.Contains(w.File, "/pkg/mod/") {
			t.Errorf("indexed a write outside the module: %s:%d", w.File, w.Line)
		}
	}
	if !found {
		t.Fatalf("no write of s.stock in store.go among %d writes", len(ix.Writes()))
	}
}

// A package with an external test package (package xtest_test), indexed
// in test mode as a test debuggee is: the go command lists the test
// variants, which are no import paths, and none may come back as a
// problem ("no required module provides package .../xtest_test").
func TestLoadProgramExternalTests(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "xtest")
	ix, err := LoadProgram(dir, Options{Tests: true})
	if err != nil {
		t.Fatal(err)
	}
	if p := ix.Problems(); len(p) > 0 {
		t.Errorf("Problems() = %q, want none", p)
	}
	ms := markers(t, dir)
	if w := writeAt(t, ix, ms, "xtest-write"); w.Guard != "mu" {
		t.Errorf("xtest-write guard = %q, want mu", w.Guard)
	}
	// The external test package was indexed too: its goroutine literal
	// is what makes Register run in goroutines.
	found := false
	for _, s := range ix.LockSites() {
		found = found || s.Function == "github.com/lockscope/lockscope/testdata/xtest.Register"
	}
	if !found {
		t.Errorf("no lock site in Register: %+v", ix.LockSites())
	}
}

// TestLocalMaps: inside a hot critical section, the maps a function makes
// for itself and never lets go of are not indexed (no goroutine can reach
// them, so they are no writes to look at); maps made locally that leave
// the function, and local names of shared maps, are.
func TestLocalMaps(t *testing.T) {
	ix, ms := load(t, "localmaps")
	if p := ix.Problems(); len(p) > 0 {
		t.Fatalf("Problems() = %q", p)
	}
	for _, m := range []string{"local-count", "local-seen", "local-clear"} {
		if ws := ix.At(ms[m].file, ms[m].line); len(ws) != 0 {
			t.Errorf("%s: a map that never leaves its function is indexed: %+v", m, ws)
		}
	}
	for _, m := range []string{"shared-total", "returned", "stored", "alias", "to-goroutine", "sent", "passed", "captured"} {
		writeAt(t, ix, ms, m)
	}
	if w := writeAt(t, ix, ms, "shared-total"); w.Guard != "s.mu" {
		t.Errorf("shared-total guard = %q, want s.mu", w.Guard)
	}
}
