// Package recipes turns map writes into conditional breakpoints that stop
// only while the contention or the unsafe write is really happening.
//
// A condition reads runtime state that Delve can evaluate on the user's own
// line (never on runtime.mapassign*, which every map in the program passes
// through). The fields it reads depend on the debuggee's Go version, so every
// recipe is built for a [Runtime] parsed from a version string such as
// "go1.26.8" (see [GoVersionOfBinary]). Versions outside the known table get
// an error, never a guess.
//
// The recipes, for a write at a line:
//
//   - Contended write under sync.Mutex: the number of goroutines parked in
//     Lock is state >> 3 (mutexWaiterShift). Go 1.24 moved the state into
//     an inner internal/sync.Mutex, so the condition is mu.mu.state >> 3 >= N
//     from Go 1.24 and mu.state >> 3 >= N before.
//   - Contended write under sync.RWMutex (the write holds Lock): other
//     writers wait in the inner Mutex w (w.mu.state >> 3, or w.state >> 3
//     before Go 1.24), and readers that arrived after this writer took the
//     lock wait on readerSem. While a writer holds the lock every reader
//     that was inside has left, and readerCount holds the number of readers
//     since, minus rwmutexMaxReaders (1<<30). So the waiting readers are
//     readerCount + 1073741824 (readerCount is an atomic.Int32 from Go 1.20,
//     which Delve reads as readerCount.v). The condition adds the two.
//   - Unguarded write (and a write under RLock only): stop when another
//     goroutine is writing the same map at this moment. Swiss-table maps
//     (Go 1.24 and later, unless built with GOEXPERIMENT=noswissmap in Go
//     1.24 or 1.25) set internal/runtime/maps.Map.writing while a write is
//     in progress; older maps set hashWriting (4) in runtime.hmap.flags. The
//     condition goes on the write asked for (on every writer line with
//     [Options.EveryWriter]); when it holds, the goroutine stops at its write
//     with the other writer frozen mid-write, before the runtime's
//     "concurrent map writes" fatal error (which names only one writer).
//
// # The unguarded recipe races the runtime
//
// The condition is a sample taken when a goroutine reaches its write; the
// runtime's own check fires when two writes overlap between two samples.
// Measured with Delve 1.27.2 on testdata/crashmap (two goroutines writing
// one map in tight loops), the recipe wins the first run of a session in
// about half of the sessions (18 of 40) with the condition on the clicked
// line only, and in 6 of 40 with it on both writer lines (a trap on every
// writer makes Delve release both writers together, in lockstep). So the
// session should use a bounded restart: when the debuggee stops on the
// fatal "concurrent map writes" while an unguarded recipe is set, restart
// it with the same breakpoints, at most [DefaultRestarts] times. Measured,
// that caught both writers in 20 of 20 sessions (1.6 runs per session on
// average). Even a lost run is not wasted: the fatal stop itself shows the
// throwing writer. (Sampling more often helps too: the same condition also
// on the writer function's first and last lines won 14 of 20 first runs,
// but then the stop may be just before or after the write, not on it.)
package recipes

import (
	"debug/buildinfo"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/lockscope/lockscope/internal/contention"
)

// Runtime is the debuggee's Go version and the layouts the recipes rely on.
type Runtime struct {
	Version string // as given, e.g. "go1.26.8"
	Major   int    // 1
	Minor   int    // 26
	// SwissMaps is true when maps are internal/runtime/maps.Map.
	SwissMaps bool
	// InnerMutex is true when sync.Mutex wraps internal/sync.Mutex (1.24+).
	InnerMutex bool
	// AtomicReaderCount is true when RWMutex.readerCount is an atomic.Int32
	// (1.20+); before, it is a plain int32.
	AtomicReaderCount bool
}

// Known layouts: the recipes were written against these releases' sources
// and are proven with Delve on programs built by the newest and by Go 1.19
// (TestDelveOlderRuntime), whose Mutex, RWMutex.w and hmap are those of
// Go 1.20 to 1.23. Other releases get an error until their layouts are
// checked.
const (
	minMinor = 19
	maxMinor = 26
)

var versionRE = regexp.MustCompile(`^go(\d+)\.(\d+)(?:\.(\d+)|(?:rc|beta)\d+)?$`)

// ParseGoVersion parses a Go version as runtime.Version and debug/buildinfo
// print it, including an " X:exp1,exp2" experiments suffix. It fails on
// versions whose runtime layout is not known (older than go1.19, newer than
// go1.26, devel builds, garbage).
func ParseGoVersion(v string) (Runtime, error) {
	rt := Runtime{Version: v}
	base, exps, _ := strings.Cut(strings.TrimSpace(v), " X:")
	base = strings.TrimSpace(base)
	m := versionRE.FindStringSubmatch(base)
	if m == nil {
		return rt, fmt.Errorf("recipes: Go version %q is not a release version (want e.g. go1.26.8); no runtime layout is known for it", v)
	}
	rt.Major, _ = strconv.Atoi(m[1])
	rt.Minor, _ = strconv.Atoi(m[2])
	if rt.Major != 1 || rt.Minor < minMinor || rt.Minor > maxMinor {
		return rt, fmt.Errorf("recipes: no known runtime layout for %s (known: go1.%d to go1.%d); lockscope will not guess the fields of its mutexes and maps", base, minMinor, maxMinor)
	}
	rt.SwissMaps = rt.Minor >= 24
	rt.InnerMutex = rt.Minor >= 24
	rt.AtomicReaderCount = rt.Minor >= 20
	for _, e := range strings.Split(exps, ",") {
		switch strings.TrimSpace(e) {
		case "noswissmap":
			if rt.Minor >= 26 {
				return rt, fmt.Errorf("recipes: %s reports GOEXPERIMENT=noswissmap, which Go 1.26 no longer has; refusing to guess its map layout", v)
			}
			rt.SwissMaps = false
		case "swissmap":
			if rt.Minor == 23 {
				// Go 1.23's swissmap experiment had another layout.
				return rt, fmt.Errorf("recipes: %s was built with the Go 1.23 swissmap experiment, whose map layout is not known", v)
			}
		}
	}
	return rt, nil
}

// GoVersionOfBinary reads the Go version a binary was built with, followed
// by " X:" and its GOEXPERIMENT when one was set, for [ParseGoVersion].
func GoVersionOfBinary(path string) (string, error) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("recipes: reading the Go version of %s: %w", path, err)
	}
	v := bi.GoVersion
	if !strings.Contains(v, " X:") {
		for _, s := range bi.Settings {
			if s.Key == "GOEXPERIMENT" && s.Value != "" {
				v += " X:" + s.Value
			}
		}
	}
	return v, nil
}

// DefaultRestarts is how many times a session should restart a debuggee
// that died of "concurrent map writes" while an unguarded-write recipe was
// set, before giving up (see the package doc).
const DefaultRestarts = 8

// DefaultWaiters is the number of waiting goroutines a contended-write
// breakpoint waits for when nothing better is known.
const DefaultWaiters = 2

// Options tunes the recipes.
type Options struct {
	// Waiters, when > 0, is N in "stop when N or more goroutines wait".
	// Otherwise N comes from the write's observed mean waiters, and is at
	// least DefaultWaiters.
	Waiters int
	// Log makes logpoints that print the state and do not stop.
	Log bool
	// EveryWriter puts the unguarded-write condition on every writer line
	// of the map, not only on the write asked for. Measured on crashmap it
	// catches fewer races (3/20 first runs against 7/20): with a trap on
	// every writer, Delve resumes both writers from their breakpoints at the
	// same moment, so they run into the map in lockstep and the runtime's
	// own check fires first.
	EveryWriter bool
}

// waiters picks N for a contended write.
func waiters(w contention.MapWrite, o Options) int {
	if o.Waiters > 0 {
		return o.Waiters
	}
	if n := int(w.Waiters); n > DefaultWaiters {
		return n
	}
	return DefaultWaiters
}

// MutexWaitersExpr is the expression for the number of goroutines parked
// in Lock of the sync.Mutex spelled mu.
func MutexWaitersExpr(rt Runtime, mu string) string {
	if rt.InnerMutex {
		return mu + ".mu.state >> 3"
	}
	return mu + ".state >> 3"
}

// RWMutexWaitersExpr is the expression for the number of goroutines that
// wait for the sync.RWMutex spelled rw while a writer holds it: writers in
// Lock plus readers in RLock.
func RWMutexWaitersExpr(rt Runtime, rw string) string {
	rc := rw + ".readerCount"
	if rt.AtomicReaderCount {
		rc += ".v"
	}
	return fmt.Sprintf("(%s) + (%s + 1073741824)", MutexWaitersExpr(rt, rw+".w"), rc)
}

// MapWritingExpr is true while a goroutine is writing the map spelled m.
func MapWritingExpr(rt Runtime, m string) string {
	if rt.SwissMaps {
		return fmt.Sprintf(`(*(**"internal/runtime/maps.Map")(uintptr(&%s))).writing != 0`, m)
	}
	return fmt.Sprintf(`(*(**"runtime.hmap")(uintptr(&%s))).flags & 4 != 0`, m)
}

func loc(file string, line int) string { return fmt.Sprintf("%s:%d", file, line) }

// ForWrite returns the breakpoints that catch w in the act, for the Go
// version goVersion. writes is the whole index (or at least w's writers),
// used to spell the map at each writer's line. It returns an error saying
// why when no breakpoint can be offered: an unknown Go version, a map
// Delve cannot address at that line, or a map no other goroutine reaches.
func ForWrite(w contention.MapWrite, writes []contention.MapWrite, goVersion string, o Options) ([]contention.Breakpoint, error) {
	rt, err := ParseGoVersion(goVersion)
	if err != nil {
		return nil, err
	}
	return forWrite(w, writes, rt, o)
}

func forWrite(w contention.MapWrite, writes []contention.MapWrite, rt Runtime, o Options) ([]contention.Breakpoint, error) {
	at := loc(w.File, w.Line)
	if w.NoBreakpoint != "" {
		return nil, fmt.Errorf("no breakpoint for %s: %s", at, w.NoBreakpoint)
	}
	switch {
	case w.Unguarded || (w.Guard != "" && w.GuardRead):
		return writerRecipe(w, writes, rt, o)
	case w.Guard != "":
		if w.GuardEval == "" {
			return nil, fmt.Errorf("no breakpoint for %s: the guard %s cannot be evaluated by Delve at that line", at, w.Guard)
		}
		n := waiters(w, o)
		var expr, label, what string
		switch w.GuardKind {
		case contention.PrimMutex:
			expr = MutexWaitersExpr(rt, w.GuardEval)
			what = fmt.Sprintf("goroutines wait for %s", w.Guard)
		case contention.PrimRWMutex:
			expr = RWMutexWaitersExpr(rt, w.GuardEval)
			what = fmt.Sprintf("goroutines wait for %s (writers in Lock and readers in RLock)", w.Guard)
		default:
			return nil, fmt.Errorf("no breakpoint for %s: unknown guard kind %q", at, w.GuardKind)
		}
		bp := contention.Breakpoint{
			Kind: "source", File: w.File, Line: w.Line, Function: w.Function,
			Condition: fmt.Sprintf("%s >= %d", expr, n), ForWrite: at,
		}
		label = fmt.Sprintf("stop when %d or more %s", n, what)
		if o.Log {
			bp.LogMessage = fmt.Sprintf("{%s} %s at %s", expr, what, mapName(w))
			label = fmt.Sprintf("log when %d or more %s", n, what)
		}
		bp.Label = label
		return []contention.Breakpoint{bp}, nil
	default:
		return nil, fmt.Errorf("no breakpoint for %s: %s is not shared with other goroutines and no lock guards it, so nothing can contend on it", at, w.Map)
	}
}

func mapName(w contention.MapWrite) string {
	return fmt.Sprintf("%s[...] (%s)", w.Map, w.Op)
}

// writerRecipe puts "another goroutine is writing this map now" on the
// write's line and on every writer line of the same map.
func writerRecipe(w contention.MapWrite, writes []contention.MapWrite, rt Runtime, o Options) ([]contention.Breakpoint, error) {
	at := loc(w.File, w.Line)
	if w.MapEval == "" {
		return nil, fmt.Errorf("no breakpoint for %s: the map %s cannot be evaluated by Delve at that line", at, w.Map)
	}
	byLine := map[string]contention.MapWrite{}
	for _, x := range writes {
		if x.MapID == w.MapID || w.MapID == "" {
			byLine[loc(x.File, x.Line)] = x
		}
	}
	why := "unguarded"
	if w.GuardRead {
		why = "under " + w.Guard + ".RLock only"
	}
	mk := func(x contention.MapWrite) contention.Breakpoint {
		bp := contention.Breakpoint{
			Kind: "source", File: x.File, Line: x.Line, Function: x.Function,
			Condition: MapWritingExpr(rt, x.MapEval), ForWrite: at,
			Label: fmt.Sprintf("stop when another goroutine is writing %s at the same moment (%s write at %s)", x.Map, why, at),
		}
		if o.Log {
			bp.LogMessage = fmt.Sprintf("concurrent write of %s caught at this line; the other writer is mid-write", x.Map)
			bp.Label = fmt.Sprintf("log when another goroutine is writing %s at the same moment", x.Map)
		}
		return bp
	}
	out := []contention.Breakpoint{mk(w)}
	if !o.EveryWriter {
		return out, nil
	}
	seen := map[string]bool{at: true}
	for _, s := range w.Writers {
		k := loc(s.File, s.Line)
		if seen[k] {
			continue
		}
		seen[k] = true
		x, ok := byLine[k]
		if !ok || x.MapEval == "" || x.NoBreakpoint != "" {
			// A writer Delve cannot watch (a call result, say) is still
			// caught from the other side when it is the first writer.
			continue
		}
		out = append(out, mk(x))
	}
	return out, nil
}

// ForReport returns the breakpoints for the writes worth stopping on: the
// contended ones, the unguarded ones and those written under RLock only,
// without two suggestions for one line. It also returns the writes, a new
// slice in which those that cannot get a breakpoint say why
// (NoBreakpoint); the writes passed in are not changed. It fails only for
// an unknown Go version.
func ForReport(writes []contention.MapWrite, goVersion string, o Options) ([]contention.Breakpoint, []contention.MapWrite, error) {
	rt, err := ParseGoVersion(goVersion)
	if err != nil {
		return nil, writes, err
	}
	writes = slices.Clone(writes)
	out := []contention.Breakpoint{}
	seen := map[string]bool{}
	for i := range writes {
		w := &writes[i]
		if !w.Contended && !w.Unguarded && !w.GuardRead {
			continue
		}
		bps, err := forWrite(*w, writes, rt, o)
		if err != nil {
			if w.NoBreakpoint == "" {
				w.NoBreakpoint = err.Error()
			}
			continue
		}
		for _, bp := range bps {
			k := loc(bp.File, bp.Line)
			if seen[k] {
				continue
			}
			seen[k] = true
			out = append(out, bp)
		}
	}
	return out, writes, nil
}
