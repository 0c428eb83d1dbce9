package profiles

import (
	"context"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/usercode"
)

// goTool returns the go command of the toolchain running the test.
func goTool(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command to run pprof: %v", err)
	}
	return p
}

// pprofTop runs the real `go tool pprof -top` and returns the flat and cum
// delay per function (summing its inline and non-inline rows) and the total.
func pprofTop(t *testing.T, file string, extra ...string) (flat map[string]int64, total int64) {
	t.Helper()
	args := append([]string{"tool", "pprof", "-top", "-nodecount=100000", "-nodefraction=0", "-edgefraction=0", "-unit=ns"}, extra...)
	args = append(args, file)
	out, err := exec.Command(goTool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	flat = map[string]int64{}
	totalRx := regexp.MustCompile(`of (\d+)ns total`)
	inRows := false
	for _, ln := range strings.Split(string(out), "\n") {
		if m := totalRx.FindStringSubmatch(ln); m != nil {
			total, _ = strconv.ParseInt(m[1], 10, 64)
		}
		if strings.HasPrefix(strings.TrimSpace(ln), "flat") {
			inRows = true
			continue
		}
		if !inRows || strings.TrimSpace(ln) == "" {
			continue
		}
		// flat flat% sum% cum cum% name [(inline)]
		f := strings.Fields(ln)
		if len(f) < 6 {
			t.Fatalf("unexpected pprof row %q", ln)
		}
		v, err := strconv.ParseInt(strings.TrimSuffix(f[0], "ns"), 10, 64)
		if err != nil {
			t.Fatalf("pprof row %q: %v", ln, err)
		}
		name := strings.Join(f[5:], " ")
		name = strings.TrimSuffix(name, " (inline)")
		name = strings.TrimSuffix(name, " (partial-inline)")
		flat[name] += v
	}
	if !inRows && !strings.Contains(string(out), "0 of 0") {
		t.Logf("pprof printed no rows:\n%s", out)
	}
	return flat, total
}

// isStdlibName tells standard-library functions by the import path rule
// (no dot in the first path element, and not main). It is independent of
// the package's classifier, which compares file paths with GOROOT.
func isStdlibName(name string) bool {
	pkg := usercode.FuncPackage(name)
	first, _, _ := strings.Cut(pkg, "/")
	return pkg != "" && pkg != "main" && !strings.Contains(first, ".")
}

// TestAgainstPprof cross-checks the analysis with pprof itself on every
// recorded profile:
//   - the total delay equals pprof's total;
//   - with the standard library hidden (-hide), pprof charges each sample's
//     delay to its first user frame as flat time; summing our hotspots,
//     runtime-internal entries and excluded waits per pprof function gives
//     the same numbers, function by function;
//   - pprof's flat time in runtime.unlock equals our runtime-lock total.
func TestAgainstPprof(t *testing.T) {
	for _, rc := range recorded {
		t.Run(rc.prog+"."+rc.kind, func(t *testing.T) {
			t.Parallel() // each subtest waits on two pprof processes
			file := profilePath(rc.prog, rc.kind)
			checkAgainstPprof(t, file, analyzeRecorded(t, rc.prog, rc.kind))
		})
	}
	// The recorded profiles have a handful of stacks each; a synthetic one
	// with thousands of functions, inlined frames and .deferwrap1 wrappers
	// checks the attribution at scale.
	t.Run("synthetic", func(t *testing.T) {
		t.Parallel()
		file, data := writeSynth(t, t.TempDir(), 3000)
		r, err := AnalyzeBytes(context.Background(), data, file, contention.KindMutex)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Hotspots) < 1000 {
			t.Fatalf("only %d hotspots in the synthetic profile", len(r.Hotspots))
		}
		checkAgainstPprof(t, file, r)
	})
}

func checkAgainstPprof(t *testing.T, file string, r Result) {
	t.Helper()
	all, total := pprofTop(t, file)
	if total != r.TotalDelayNs {
		t.Errorf("total: pprof %d, ours %d", total, r.TotalDelayNs)
	}
	var pprofRuntimeLock, ourRuntimeLock int64
	for fn, v := range all {
		if runtimeLockFuncs[fn] {
			pprofRuntimeLock += v
		}
	}
	for _, h := range r.RuntimeInternal {
		if h.Primitive == PrimRuntime {
			ourRuntimeLock += h.DelayNs
		}
	}
	if pprofRuntimeLock != ourRuntimeLock {
		t.Errorf("runtime lock delay: pprof %d, ours %d", pprofRuntimeLock, ourRuntimeLock)
	}

	// Hide every standard-library function pprof listed.
	pkgs := map[string]bool{}
	for fn := range all {
		if isStdlibName(fn) {
			pkgs[regexp.QuoteMeta(usercode.FuncPackage(fn))] = true
		}
	}
	var hide []string
	for p := range pkgs {
		hide = append(hide, p)
	}
	sort.Strings(hide)
	var extra []string
	if len(hide) > 0 {
		extra = append(extra, "-hide=^("+strings.Join(hide, "|")+`)\.`)
	}
	userFlat, _ := pprofTop(t, file, extra...)
	want := map[string]int64{}
	for fn, v := range userFlat {
		if v != 0 {
			want[fn] = v
		}
	}
	got := map[string]int64{}
	for _, part := range [][]contention.Hotspot{r.Hotspots, r.RuntimeInternal, r.Excluded} {
		for _, h := range part {
			fn := h.Function
			if h.PprofFunction != "" {
				fn = h.PprofFunction
			}
			if isStdlibName(fn) {
				continue // a stack with no user frame: pprof hides it all
			}
			got[fn] += h.DelayNs
		}
	}
	for fn, v := range want {
		if got[fn] != v {
			t.Errorf("%s: pprof flat %d ns, ours %d ns", fn, v, got[fn])
		}
	}
	for fn, v := range got {
		if _, ok := want[fn]; !ok && v != 0 {
			t.Errorf("%s: ours %d ns, pprof has none", fn, v)
		}
	}
	if len(want) == 0 && r.Samples > 0 && len(r.Hotspots)+len(r.Excluded) > 0 {
		t.Errorf("pprof found no user functions")
	}
	t.Logf("%d user functions agree with pprof; total %d ns", len(want), total)
}
