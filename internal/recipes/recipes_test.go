package recipes

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
)

func TestParseGoVersion(t *testing.T) {
	for _, tc := range []struct {
		v                        string
		ok                       bool
		swiss, inner, atomicRead bool
	}{
		{"go1.26.8", true, true, true, true},
		{"go1.26", true, true, true, true},
		{"go1.26rc1", true, true, true, true},
		{"go1.24.0", true, true, true, true},
		{"go1.25.3 X:noswissmap", true, false, true, true},
		{"go1.23.4", true, false, false, true},
		{"go1.20", true, false, false, true},
		{"go1.26.8 X:noswissmap", false, false, false, false},
		{"go1.23.1 X:swissmap", false, false, false, false},
		{"go1.19.13", true, false, false, false},
		{"go1.18.10", false, false, false, false},
		{"go1.40.0", false, false, false, false},
		{"go1.27.0", false, false, false, false},
		{"devel go1.27-abcdef", false, false, false, false},
		{"", false, false, false, false},
		{"1.26.8", false, false, false, false},
		{"go2.0", false, false, false, false},
	} {
		rt, err := ParseGoVersion(tc.v)
		if (err == nil) != tc.ok {
			t.Errorf("ParseGoVersion(%q) error = %v, want ok=%v", tc.v, err, tc.ok)
			continue
		}
		if err != nil {
			if !strings.Contains(err.Error(), "layout") && !strings.Contains(err.Error(), "not a release") && !strings.Contains(err.Error(), "guess") {
				t.Errorf("ParseGoVersion(%q) error %q does not say why", tc.v, err)
			}
			continue
		}
		if rt.SwissMaps != tc.swiss || rt.InnerMutex != tc.inner || rt.AtomicReaderCount != tc.atomicRead {
			t.Errorf("ParseGoVersion(%q) = %+v, want swiss=%v inner=%v atomic=%v", tc.v, rt, tc.swiss, tc.inner, tc.atomicRead)
		}
	}
}

func TestGoVersionOfBinary(t *testing.T) {
	bin := buildProg(t, "crashmap")
	v, err := GoVersionOfBinary(bin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseGoVersion(v); err != nil || !strings.HasPrefix(v, "go1.") {
		t.Errorf("GoVersionOfBinary = %q (%v)", v, err)
	}
	notBin := filepath.Join(t.TempDir(), "notabinary")
	os.WriteFile(notBin, []byte("#!/bin/sh\n"), 0o755)
	if _, err := GoVersionOfBinary(notBin); err == nil || !strings.Contains(err.Error(), notBin) {
		t.Errorf("GoVersionOfBinary(non-binary) error = %v, want one naming the file", err)
	}
	// A caller can tell a missing binary from one that is not Go.
	if _, err := GoVersionOfBinary(filepath.Join(t.TempDir(), "absent")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("GoVersionOfBinary(absent) error = %v, want one that wraps fs.ErrNotExist", err)
	}
}

var (
	hot = contention.MapWrite{
		File: "/src/ledger/main.go", Line: 32, Function: "main.deposit", Map: "balances", Op: contention.OpOpAssign,
		Guard: "balMu", GuardKind: contention.PrimMutex, GuardEval: "balMu", GuardID: "g1", MapID: "m1", MapEval: "balances", Contended: true,
	}
	rw = contention.MapWrite{
		File: "/src/rwcache/main.go", Line: 37, Function: "main.(*Cache).Refresh", Map: "c.items", Op: contention.OpAssign,
		Guard: "c.mu", GuardKind: contention.PrimRWMutex, GuardEval: "c.mu", GuardID: "g2", MapID: "m2", MapEval: "c.items", Contended: true,
	}
	hit = contention.MapWrite{
		File: "/src/crashmap/main.go", Line: 14, Function: "main.hit", Map: "hits", Op: contention.OpIncDec, Unguarded: true,
		MapID: "m3", MapEval: "hits", Writers: []contention.Site{{File: "/src/crashmap/main.go", Line: 18, Function: "main.resetPage"}},
	}
	reset = contention.MapWrite{
		File: "/src/crashmap/main.go", Line: 18, Function: "main.resetPage", Map: "hits", Op: contention.OpAssign, Unguarded: true,
		MapID: "m3", MapEval: "hits", Writers: []contention.Site{{File: "/src/crashmap/main.go", Line: 14, Function: "main.hit"}},
	}
)

func one(t *testing.T, w contention.MapWrite, all []contention.MapWrite, v string, o Options) contention.Breakpoint {
	t.Helper()
	bps, err := ForWrite(w, all, v, o)
	if err != nil {
		t.Fatalf("ForWrite(%s:%d, %s): %v", w.File, w.Line, v, err)
	}
	if len(bps) != 1 {
		t.Fatalf("ForWrite = %d breakpoints, want 1", len(bps))
	}
	bp := bps[0]
	if bp.Kind != "source" || bp.File != w.File || bp.Line != w.Line || bp.Function != w.Function || bp.ForWrite != w.File+":32" && bp.ForWrite != w.File+":37" && bp.ForWrite != w.File+":14" {
		t.Errorf("breakpoint place = %+v", bp)
	}
	return bp
}

func TestMutexRecipeByVersion(t *testing.T) {
	for _, tc := range []struct{ v, cond string }{
		{"go1.26.8", "balMu.mu.state >> 3 >= 2"},
		{"go1.24.0", "balMu.mu.state >> 3 >= 2"},
		{"go1.23.4", "balMu.state >> 3 >= 2"},
	} {
		bp := one(t, hot, nil, tc.v, Options{})
		if bp.Condition != tc.cond {
			t.Errorf("%s: condition %q, want %q", tc.v, bp.Condition, tc.cond)
		}
		if bp.Label != "stop when 2 or more goroutines wait for balMu" {
			t.Errorf("label %q", bp.Label)
		}
	}
	// N comes from the options, else from the observed waiters.
	w := hot
	w.Waiters = 6.7
	if bp := one(t, w, nil, "go1.26.8", Options{}); bp.Condition != "balMu.mu.state >> 3 >= 6" {
		t.Errorf("observed waiters: condition %q", bp.Condition)
	}
	if bp := one(t, w, nil, "go1.26.8", Options{Waiters: 3}); bp.Condition != "balMu.mu.state >> 3 >= 3" {
		t.Errorf("Options.Waiters: condition %q", bp.Condition)
	}
	bp := one(t, hot, nil, "go1.26.8", Options{Log: true})
	if bp.LogMessage != "{balMu.mu.state >> 3} goroutines wait for balMu at balances[...] (opassign)" || bp.Condition == "" {
		t.Errorf("logpoint = %+v", bp)
	}
}

func TestRWMutexRecipeByVersion(t *testing.T) {
	for _, tc := range []struct{ v, cond string }{
		{"go1.26.8", "(c.mu.w.mu.state >> 3) + (c.mu.readerCount.v + 1073741824) >= 2"},
		{"go1.23.4", "(c.mu.w.state >> 3) + (c.mu.readerCount.v + 1073741824) >= 2"},
		{"go1.19.8", "(c.mu.w.state >> 3) + (c.mu.readerCount + 1073741824) >= 2"},
	} {
		if bp := one(t, rw, nil, tc.v, Options{}); bp.Condition != tc.cond {
			t.Errorf("%s: condition %q, want %q", tc.v, bp.Condition, tc.cond)
		}
	}
}

func TestUnguardedRecipeByVersion(t *testing.T) {
	all := []contention.MapWrite{hit, reset}
	for _, tc := range []struct{ v, cond string }{
		{"go1.26.8", `(*(**"internal/runtime/maps.Map")(uintptr(&hits))).writing != 0`},
		{"go1.24.2", `(*(**"internal/runtime/maps.Map")(uintptr(&hits))).writing != 0`},
		{"go1.24.2 X:noswissmap", `(*(**"runtime.hmap")(uintptr(&hits))).flags & 4 != 0`},
		{"go1.23.4", `(*(**"runtime.hmap")(uintptr(&hits))).flags & 4 != 0`},
	} {
		bp := one(t, hit, all, tc.v, Options{})
		if bp.Condition != tc.cond {
			t.Errorf("%s: condition %q, want %q", tc.v, bp.Condition, tc.cond)
		}
		if !strings.Contains(bp.Label, "another goroutine is writing hits") {
			t.Errorf("label %q", bp.Label)
		}
		// Every writer, on request.
		bps, err := ForWrite(hit, all, tc.v, Options{EveryWriter: true})
		if err != nil || len(bps) != 2 || bps[1].Line != 18 || bps[1].Function != "main.resetPage" || bps[1].ForWrite != "/src/crashmap/main.go:14" {
			t.Errorf("%s EveryWriter: %+v %v", tc.v, bps, err)
		}
	}
	// A write under RLock only gets the same recipe.
	r := rw
	r.GuardRead = true
	if bp := one(t, r, nil, "go1.26.8", Options{}); !strings.Contains(bp.Condition, "&c.items") || !strings.Contains(bp.Label, "RLock only") {
		t.Errorf("RLock-only write: %+v", bp)
	}
}

func TestNoBreakpoint(t *testing.T) {
	call := hot
	call.NoBreakpoint, call.MapEval = "the map is returned by a call, so there is no variable to watch at this line", ""
	local := contention.MapWrite{File: "/src/x.go", Line: 3, Map: "private", MapEval: "private", Op: contention.OpAssign}
	for _, tc := range []struct {
		name string
		w    contention.MapWrite
		v    string
		want string
	}{
		{"call", call, "go1.26.8", "returned by a call"},
		{"local", local, "go1.26.8", "not shared"},
		{"future", hot, "go1.40.0", "no known runtime layout"},
		{"garbage", hot, "banana", "not a release version"},
	} {
		bps, err := ForWrite(tc.w, nil, tc.v, Options{})
		if err == nil || len(bps) != 0 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: ForWrite = %v, %v; want no breakpoint and an error containing %q", tc.name, bps, err, tc.want)
		}
	}
}

func TestForReport(t *testing.T) {
	cold := hot
	cold.Line, cold.Contended, cold.Map = 39, false, "auditLog"
	call := hot
	call.Line, call.NoBreakpoint, call.MapEval = 50, "the map is returned by a call, so there is no variable to watch at this line", ""
	dup := hot // a second write on the same line
	noGuardEval := hot
	noGuardEval.Line, noGuardEval.GuardEval = 60, ""
	writes := []contention.MapWrite{hot, dup, cold, call, rw, hit, reset, noGuardEval}
	bps, out, err := ForReport(writes, "go1.26.8", Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The writes come back anew, saying why one cannot get a breakpoint;
	// the caller's are left as they were.
	if len(out) != len(writes) || !strings.Contains(out[7].NoBreakpoint, "cannot be evaluated") {
		t.Errorf("returned writes %+v: want the last one saying why it has no breakpoint", out)
	}
	if writes[7].NoBreakpoint != "" {
		t.Errorf("ForReport changed the caller's writes: %q", writes[7].NoBreakpoint)
	}
	got := map[string]bool{}
	for _, bp := range bps {
		k := filepath.Base(bp.File) + ":" + itoa(bp.Line)
		if got[k] {
			t.Errorf("two suggestions for %s", k)
		}
		got[k] = true
	}
	for _, k := range []string{"main.go:32", "main.go:37", "main.go:14", "main.go:18"} {
		if !got[k] {
			t.Errorf("no suggestion for %s: %+v", k, bps)
		}
	}
	if got["main.go:39"] || got["main.go:50"] {
		t.Errorf("suggestion for an uncontended or unaddressable write: %+v", bps)
	}
	if out[3].NoBreakpoint == "" {
		t.Errorf("NoBreakpoint not kept")
	}
	if _, _, err := ForReport(writes, "go1.40", Options{}); err == nil {
		t.Errorf("ForReport on an unknown version: no error")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestIsMapWritingCondition ties the session's detector to the recipes it
// must recognise, for both map layouts, and to nothing else.
func TestIsMapWritingCondition(t *testing.T) {
	for _, v := range []string{"go1.26.8", "go1.23.4"} {
		rt, err := ParseGoVersion(v)
		if err != nil {
			t.Fatal(err)
		}
		if c := MapWritingExpr(rt, "s.m"); !IsMapWritingCondition(c) {
			t.Errorf("%s: %q not recognised", v, c)
		}
		if c := MutexWaitersExpr(rt, "mu") + " >= 2"; IsMapWritingCondition(c) {
			t.Errorf("%s: mutex condition %q taken for a map-writing one", v, c)
		}
	}
}
