//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

// The corpus test runs analyze as a new user would: on programs that use
// real, pinned third-party modules the way a service does, and on the two
// examples of the field guide. The capture agent needs a named pipe (see
// capture/fifo_unix.go).

package cli

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
)

// corpusModule is one program of the corpus: where it is, the arguments it
// runs with, the map the library writes under its hot lock (empty when
// the library writes no map there), and functions of the library whose
// map writes must be found and guarded (helpers reached in ways the index
// has to follow to see their lock).
type corpusModule struct {
	name, dir string
	args      []string
	hotMap    string
	guardedIn []string
}

// TestCorpus checks, for each program that uses a real third-party module
// (pinned in the program's go.mod and fetched through the module proxy):
//   - the lock hotspots that matter (the top one of each profile, and any
//     with 5% of its side or more) lead to a line marked // lockscope:...
//     in main.go, the line a person would change: the library's line with
//     its callSite there, or the program's own line;
//   - no map write of a well-synchronised library is reported unguarded,
//     and the helpers named in guardedIn have their writes found, guarded;
//   - the profile hotspots agree, line by line and nanosecond by
//     nanosecond, with `go tool pprof -top -lines` on the raw profiles
//     saved by --save.
func TestCorpus(t *testing.T) {
	t.Parallel()
	mods := []corpusModule{
		// github.com/hashicorp/golang-lru/v2 v2.0.7
		{name: "golang-lru", dir: fixture(t, "lrushop"), args: []string{"-d", "1500ms"}, hotMap: "c.items"},
		// github.com/patrickmn/go-cache v2.1.0+incompatible
		{name: "go-cache", dir: fixture(t, "corpus", "gocache"), hotMap: "c.items"},
		// golang.org/x/sync v0.25.0 (singleflight)
		{name: "singleflight", dir: fixture(t, "corpus", "singleflight"), hotMap: "g.m"},
		// golang.org/x/time v0.16.0 (rate)
		{name: "rate", dir: fixture(t, "corpus", "ratelimit")},
		// github.com/allegro/bigcache/v3 v3.1.0: its evictions run as a
		// method value (s.removeOldestEntry) that s.onEvict calls under
		// the shard's lock, and are guarded by it.
		{name: "bigcache", dir: fixture(t, "corpus", "bigcache"), hotMap: "s.hashmap",
			guardedIn: []string{"github.com/allegro/bigcache/v3.(*cacheShard).removeOldestEntry"}},
	}
	for _, m := range mods {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			main := filepath.Join(m.dir, "main.go")
			marked := markerLines(t, main)
			save := filepath.Join(t.TempDir(), "capture.zip")
			args := append([]string{"--json", "--duration", "3s", "--trace-seconds", "0.5", "--save", save, m.dir, "--"}, m.args...)
			r := analyze(t, args...)
			mustOK(t, r)
			checkUserLines(t, r.report, main, marked)
			checkNoFalseUnguarded(t, r.report)
			if m.hotMap != "" {
				checkHotMapWrite(t, r.report, m.hotMap)
			}
			for _, fn := range m.guardedIn {
				checkGuardedIn(t, r.report, fn)
			}
			checkAgainstPprofLines(t, r.report, save)
		})
	}
}

// The field guide's first example: ten goroutines write one map with no
// lock. The program dies as it does without lockscope, and the crash
// names the write.
func TestCorpusSeedMapCrash(t *testing.T) {
	t.Parallel()
	dir := fixture(t, "corpus", "seedmap")
	main := filepath.Join(dir, "main.go")
	r := analyze(t, "--json", "--trace-seconds", "0", dir)
	mustOK(t, r)
	c := r.report.Crash
	if c == nil {
		t.Fatalf("no crash in the report; stderr:\n%s", r.stderr)
	}
	if want := testutil.MarkerLine(t, main, "seed-map-write"); c.Reason != "concurrent map writes" || !c.MapCrash || c.File != main || c.Line != want {
		t.Errorf("crash %q (mapCrash %v) at %s:%d, want concurrent map writes at %s:%d", c.Reason, c.MapCrash, c.File, c.Line, main, want)
	}
	// The program's fate is the runtime's, unchanged by the agent.
	if !strings.Contains(r.stderr, "fatal error: concurrent map writes") {
		t.Errorf("the program did not die of concurrent map writes:\n%s", r.stderr)
	}
}

// The field guide's second example, BenchmarkMutexContend: the Unlock line
// leads the holder side, the Lock line the waiter side, and both agree
// with pprof.
func TestCorpusSeedBenchmark(t *testing.T) {
	t.Parallel()
	dir := fixture(t, "corpus", "seedbench")
	test := filepath.Join(dir, "mutex_test.go")
	save := filepath.Join(t.TempDir(), "capture.zip")
	r := analyze(t, "--json", "--test", "--run", "^$", "--bench", "MutexContend", "--trace-seconds", "0.5", "--save", save, dir, "--", "-test.benchtime", "1s")
	mustOK(t, r)
	fn := "example.com/seedbench.BenchmarkMutexContend.func1"
	wantAt(t, "top mutex hotspot", firstLock(r.report, contention.KindMutex), test, testutil.MarkerLine(t, test, "seed-unlock"), fn)
	wantAt(t, "top block hotspot", firstLock(r.report, contention.KindBlock), test, testutil.MarkerLine(t, test, "seed-lock"), fn)
	checkAgainstPprofLines(t, r.report, save)
}

var markerRx = regexp.MustCompile(`//\s*lockscope:([\w-]+)`)

// markerLines returns the lines of file marked // lockscope:name, by line.
func markerLines(t *testing.T, file string) map[int]string {
	t.Helper()
	marked := map[int]string{}
	for i, ln := range fileLines(t, file) {
		if m := markerRx.FindStringSubmatch(ln); m != nil {
			marked[i+1] = m[1]
		}
	}
	if len(marked) == 0 {
		t.Fatalf("%s has no // lockscope: markers", file)
	}
	return marked
}

// userLine is the line of main a person would change for h: its own line,
// or the main module's call into the library that holds the lock.
func userLine(h contention.Hotspot, main string) (int, bool) {
	if h.File == main {
		return h.Line, true
	}
	if h.CallSite != nil && h.CallSite.File == main {
		return h.CallSite.Line, true
	}
	return 0, false
}

// reachedFrom reports whether any stack of h passes through file.
func reachedFrom(h contention.Hotspot, file string) bool {
	for _, st := range h.Stacks {
		for _, f := range st {
			if f.File == file {
				return true
			}
		}
	}
	return false
}

// checkUserLines checks that the lock hotspots of both profiles that
// matter lead to marked lines of main: the top one always, the others
// unless no stack of theirs passes through main (a library's own
// goroutine, which no call site can name).
func checkUserLines(t *testing.T, r *contention.Report, main string, marked map[int]string) {
	t.Helper()
	for _, kind := range []string{contention.KindMutex, contention.KindBlock} {
		top := firstLock(r, kind)
		if top == nil {
			t.Errorf("%s: no lock hotspot", kind)
			continue
		}
		for _, h := range r.Hotspots {
			isTop := h.File == top.File && h.Line == top.Line
			if h.Kind != kind || !h.Lock || (h.Share < 0.05 && !isTop) {
				continue
			}
			line, ok := userLine(h, main)
			if !ok && !isTop && !reachedFrom(h, main) {
				// The library's own goroutine (go-cache's janitor): no
				// line of main is on its stacks, so none can be named.
				continue
			}
			if ok && marked[line] == "" && h.Via != "" && !isTop {
				// A standard library's lock (Via) charged to the
				// program's line that called into it: now and then
				// fmt.Sprint's fmt.newPrinter waits on one (bigcache,
				// 5.2% of the block side once under load). Real, and not
				// the library's.
				t.Logf("%s: a standard-library lock at main.go:%d (share %.3f): %s", kind, line, h.Share, h.Via)
				continue
			}
			if !ok || marked[line] == "" {
				t.Errorf("%s hotspot %s:%d %s (share %.3f) leads to %s:%d, not to a marked line of main.go %v",
					kind, h.File, h.Line, h.Function, h.Share, filepath.Base(main), line, marked)
			}
		}
	}
}

// checkNoFalseUnguarded lists every map write reported unguarded, or
// unguarded on some path: the programs and libraries of the corpus guard
// every map they share.
func checkNoFalseUnguarded(t *testing.T, r *contention.Report) {
	t.Helper()
	var bad []string
	for _, m := range r.MapWrites {
		if m.Unguarded || m.SometimesUnguarded {
			s := fmt.Sprintf("%s:%d %s %s (sometimes %v)", m.File, m.Line, m.Function, m.Map, m.SometimesUnguarded)
			for _, v := range m.UnguardedVia {
				s += fmt.Sprintf(" via %s:%d", v.File, v.Line)
			}
			bad = append(bad, s)
		}
	}
	if len(bad) > 0 {
		t.Errorf("map writes reported unguarded in guarded code:\n  %s", strings.Join(bad, "\n  "))
	}
}

// checkHotMapWrite checks that the library's write to hotMap inside the
// hot critical section is found, guarded and contended.
func checkHotMapWrite(t *testing.T, r *contention.Report, hotMap string) {
	t.Helper()
	for _, m := range r.MapWrites {
		if m.Map == hotMap && m.Contended && m.Guard != "" {
			return
		}
	}
	var got []string
	for _, m := range r.MapWrites {
		got = append(got, fmt.Sprintf("%s:%d %s guard=%q contended=%v", filepath.Base(m.File), m.Line, m.Map, m.Guard, m.Contended))
	}
	t.Errorf("no contended, guarded write of %s; map writes:\n  %s", hotMap, strings.Join(got, "\n  "))
}

// checkGuardedIn checks that function fn has map writes in the report, and
// that each has a guard.
func checkGuardedIn(t *testing.T, r *contention.Report, fn string) {
	t.Helper()
	n := 0
	for _, m := range r.MapWrites {
		if m.Function != fn {
			continue
		}
		n++
		if m.Guard == "" {
			t.Errorf("%s:%d %s %s: no guard", m.File, m.Line, fn, m.Map)
		}
	}
	if n == 0 {
		t.Errorf("no map write of %s in the report", fn)
	}
}

// checkAgainstPprofLines reads the raw profiles from the saved capture and
// compares each kind's lock hotspots with `go tool pprof -top -lines` on
// the same profile, the standard library hidden (so pprof charges a wait
// to the first frame outside it, as lockscope does) and only the samples
// inside sync.Mutex and sync.RWMutex kept: pprof's heaviest line must be
// lockscope's top lock hotspot, and each of pprof's top lines must be a
// lock hotspot of lockscope's with the same delay.
func checkAgainstPprofLines(t *testing.T, r *contention.Report, save string) {
	t.Helper()
	profiles := savedProfiles(t, save)
	for _, kind := range []string{contention.KindMutex, contention.KindBlock} {
		files := profiles[kind]
		if len(files) == 0 {
			t.Errorf("the capture holds no %s profile", kind)
			continue
		}
		rows, total := pprofLockLines(t, files)
		// lockscope's lock delay per line as pprof places it: a deferred
		// Unlock moved to its defer line goes back to the exit pprof
		// charges.
		at := func(h contention.Hotspot) string {
			line := h.Line
			if h.ExitLine != 0 {
				line = h.ExitLine
			}
			return h.File + ":" + strconv.Itoa(line)
		}
		lockAt := map[string]bool{}
		sum := map[string]int64{}
		var top string
		var topNs int64
		for _, h := range r.Hotspots {
			if h.Kind != kind || !h.Lock {
				continue
			}
			sum[at(h)] += h.DelayNs
			lockAt[at(h)] = true
			if h.DelayNs > topNs {
				top, topNs = at(h), h.DelayNs
			}
		}
		// The lines that carry at least 1% of the lock delay, at most the
		// top three: below that, the order of near-equal lines is noise.
		n := 0
		for n < 3 && n < len(rows) && rows[n].ns*100 >= total {
			n++
		}
		if n == 0 {
			t.Errorf("%s: pprof shows no lock delay outside the standard library", kind)
			continue
		}
		if top != rows[0].at {
			t.Errorf("%s: lockscope's top lock line is %s, pprof's %s (profiles %v)", kind, top, rows[0].at, files)
		}
		for _, p := range rows[:n] {
			if !lockAt[p.at] || !withinRounding(sum[p.at], p.ns) {
				t.Errorf("%s: pprof has %s at %d ns; lockscope has a lock hotspot there: %v, at %d ns (profiles %v)", kind, p.at, p.ns, lockAt[p.at], sum[p.at], files)
			}
		}
	}
}

// withinRounding allows for nanoseconds lost in scaling a sample.
func withinRounding(a, b int64) bool {
	d := a - b
	if d < 0 {
		d = -d
	}
	return d <= 1000 || d*1000 <= b
}

// savedProfiles extracts the raw profiles of a saved capture (entries
// profiles/<kind>-<n>.pb.gz, see pipeline.Save) into files, by kind.
func savedProfiles(t *testing.T, save string) map[string][]string {
	t.Helper()
	zr, err := zip.OpenReader(save)
	if err != nil {
		t.Fatalf("the saved capture: %v", err)
	}
	defer zr.Close()
	dir := t.TempDir()
	out := map[string][]string{}
	for _, f := range zr.File {
		name := strings.TrimPrefix(f.Name, "profiles/")
		if name == f.Name || !strings.HasSuffix(name, ".pb.gz") {
			continue
		}
		kind, _, _ := strings.Cut(name, "-")
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, name)
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out[kind] = append(out[kind], file)
	}
	return out
}

type pprofLine struct {
	at string // file:line
	ns int64
}

var (
	stdHideOnce sync.Once
	stdHide     string
	stdHideErr  error
)

// stdHideFlag is pprof's -hide for every standard-library package (from
// `go list std`), so that a frame in sync, runtime or testing gives its
// delay to its caller.
func stdHideFlag(t *testing.T) string {
	t.Helper()
	stdHideOnce.Do(func() {
		out, err := exec.Command("go", "list", "std").Output()
		if err != nil {
			stdHideErr = fmt.Errorf("go list std: %v", err)
			return
		}
		var pkgs []string
		for _, p := range strings.Fields(string(out)) {
			if !strings.HasPrefix(p, "vendor/") {
				pkgs = append(pkgs, regexp.QuoteMeta(p))
			}
		}
		stdHide = `-hide=^(` + strings.Join(pkgs, "|") + `)\.`
	})
	if stdHideErr != nil {
		t.Fatal(stdHideErr)
	}
	return stdHide
}

var pprofRowRx = regexp.MustCompile(`^\s*(\d+)ns\s+\S+\s+\S+\s+\d+ns\s+\S+\s+\S+ (\S+:\d+)(?: \(inline\))?$`)

// pprofLockLines runs `go tool pprof -top -lines` on files and returns its
// lines with flat delay, heaviest first (file:line summed over its rows),
// leaving out the agent's own file, and the total of those lines.
func pprofLockLines(t *testing.T, files []string) (rows []pprofLine, total int64) {
	t.Helper()
	args := append([]string{"tool", "pprof", "-top", "-lines", "-nodecount=1000000", "-nodefraction=0", "-edgefraction=0", "-unit=ns",
		stdHideFlag(t), `-focus=^(internal/)?sync\.\(\*(RW)?Mutex\)\.`,
		// A wait on the runtime's own lock inside Lock or Unlock (the
		// semaphore's) is runtime-internal: lockscope keeps it apart from
		// the line's lock hotspot (profiles.runtimeLockFuncs).
		`-ignore=^runtime\.(unlock|unlockWithRank|unlock2|_LostContendedRuntimeLock)$`}, files...)
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof -top -lines: %v\n%s", err, out)
	}
	byLine := map[string]int64{}
	for _, ln := range strings.Split(string(out), "\n") {
		m := pprofRowRx.FindStringSubmatch(ln)
		if m == nil {
			continue
		}
		ns, _ := strconv.ParseInt(m[1], 10, 64)
		if ns == 0 || strings.Contains(m[2], "zz_lockscope_agent") {
			continue
		}
		byLine[m[2]] += ns
	}
	for at, ns := range byLine {
		rows = append(rows, pprofLine{at, ns})
		total += ns
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].ns != rows[j].ns {
			return rows[i].ns > rows[j].ns
		}
		return rows[i].at < rows[j].at
	})
	return rows, total
}
