//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

// These tests run programs with the capture agent, which needs a named
// pipe (see capture/fifo_unix.go).

package cli

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/pipeline"
	"github.com/lockscope/lockscope/internal/testutil"
)

// shardsCopy copies testdata/shards into a module of its own, where the
// test can apply the fix to store.go as a user would.
func shardsCopy(t *testing.T) string {
	t.Helper()
	src := fixture(t, "shards")
	dir := filepath.Join(t.TempDir(), "shards")
	for _, f := range []string{"main.go", "store.go", "shards_test.go", "fix/store.go.txt"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/shards\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// applyFix replaces the coarse store with the sharded one.
func applyFix(t *testing.T, dir string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "fix", "store.go.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "store.go"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func diff(t *testing.T, args ...string) analyzeResult {
	t.Helper()
	var out, errb bytes.Buffer
	code := Diff(args, &out, &errb)
	res := analyzeResult{code: code, stdout: out.String(), stderr: errb.String()}
	if (code == ExitOK || code == ExitGate) && hasArg(args, "--json") {
		var r contention.Report
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("stdout is not one JSON report: %v\n%s", err, out.String())
		}
		res.report = &r
	}
	return res
}

func lockLines(r *contention.Report) []contention.Hotspot {
	var out []contention.Hotspot
	for _, h := range r.Hotspots {
		if h.Lock && (h.Kind == contention.KindMutex || h.Kind == contention.KindBlock) {
			out = append(out, h)
		}
	}
	return out
}

// The fix of the shards program, a coarse lock split into shards: the
// comparison with the capture before it reports the hot lines gone, the
// Stats lock (moved 22 lines down by the edit) matched to its old lines,
// and no lock line worse. The same comparison comes from --base and from
// lockscope diff on two saved captures, and its totals agree with
// `go tool pprof -diff_base` on the same two profiles.
func TestCompareShardFix(t *testing.T) {
	dir := shardsCopy(t)
	store := filepath.Join(dir, "store.go")
	coarseLock := testutil.MarkerLine(t, store, "coarse-lock")
	coarseUnlock := testutil.MarkerLine(t, store, "coarse-unlock")
	oldStats := testutil.MarkerLine(t, store, "stats-lock")
	base := filepath.Join(t.TempDir(), "base.zip")
	mustOK(t, analyze(t, "--json", "--save", base, "--trace-seconds", "0.5", dir, "--", "-d", "1s"))

	applyFix(t, dir)
	newStats := testutil.MarkerLine(t, store, "stats-lock")
	if newStats == oldStats {
		t.Fatal("the fix was meant to move the Stats lock")
	}
	after := filepath.Join(t.TempDir(), "after.zip")
	res := analyze(t, "--json", "--base", base, "--save", after, "--trace-seconds", "0.5", dir, "--", "-d", "1s")
	mustOK(t, res)
	r := res.report
	checkShardFix(t, r, store, coarseLock, coarseUnlock, oldStats, newStats)

	t.Run("diff", func(t *testing.T) {
		d := diff(t, "--json", base, after)
		if d.code != ExitOK {
			t.Fatalf("diff: exit %d\n%s", d.code, d.stderr)
		}
		checkShardFix(t, d.report, store, coarseLock, coarseUnlock, oldStats, newStats)
		text := diff(t, base, after)
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`▼ gone +block +was [^ ]+/s +` + regexp.QuoteMeta(store) + `:` + strconv.Itoa(coarseLock) + ` +main\.\(\*Store\)\.Add`),
			regexp.MustCompile(`= same +block .*:` + strconv.Itoa(newStats) + ` .*\(was line ` + strconv.Itoa(oldStats) + `\)`),
			regexp.MustCompile(`unit: per second of capture`),
		} {
			if !want.MatchString(text.stdout) {
				t.Errorf("the text comparison has no line matching %s:\n%s", want, text.stdout)
			}
		}
	})

	t.Run("pprof -diff_base", func(t *testing.T) {
		for _, kind := range []string{contention.KindMutex, contention.KindBlock} {
			var total *contention.Total
			for i := range r.Comparison.Totals {
				if r.Comparison.Totals[i].Kind == kind {
					total = &r.Comparison.Totals[i]
				}
			}
			if total == nil || total.BaseDelayNs == 0 {
				t.Fatalf("%s: no totals in %+v", kind, r.Comparison.Totals)
			}
			tmp := t.TempDir()
			old := extract(t, base, "profiles/"+kind+"-1.pb.gz", filepath.Join(tmp, "old.pb.gz"))
			cur := extract(t, after, "profiles/"+kind+"-1.pb.gz", filepath.Join(tmp, "new.pb.gz"))
			diffNs, baseNs := pprofDiff(t, old, cur)
			if baseNs != total.BaseDelayNs || diffNs != total.DelayNs-total.BaseDelayNs {
				t.Errorf("%s: pprof -diff_base says %dns of a %dns base total; lockscope: %d - %d = %d",
					kind, diffNs, baseNs, total.DelayNs, total.BaseDelayNs, total.DelayNs-total.BaseDelayNs)
			}
		}
	})
}

func checkShardFix(t *testing.T, r *contention.Report, store string, coarseLock, coarseUnlock, oldStats, newStats int) {
	t.Helper()
	c := r.Comparison
	if c == nil {
		t.Fatal("no comparison in the report")
	}
	if c.Unit != contention.UnitSecond || c.Base.Program == "" || c.Base.GoVersion == "" {
		t.Errorf("comparison unit %q, base %+v: want per second, with the base's program and Go version", c.Unit, c.Base)
	}
	gone := map[string]bool{}
	for _, h := range c.Gone.Hotspots {
		if h.Base == nil || h.Base.Status != contention.ChangeGone || h.Base.BaseDelayNs <= 0 {
			t.Errorf("gone hotspot %s:%d without its base value: %+v", h.File, h.Line, h.Base)
		}
		gone[h.Kind+":"+strconv.Itoa(h.Line)] = h.Function == "main.(*Store).Add"
	}
	for _, want := range []string{"block:" + strconv.Itoa(coarseLock), "mutex:" + strconv.Itoa(coarseUnlock)} {
		if !gone[want] {
			t.Errorf("the coarse lock's %s is not reported gone; gone: %v", want, gone)
		}
	}
	var statsSeen bool
	for _, h := range lockLines(r) {
		if h.Base == nil {
			t.Errorf("%s:%d has no base", h.File, h.Line)
			continue
		}
		if h.Base.Status == contention.ChangeWorse {
			t.Errorf("a false regression: %s %s:%d %s is worse (%+v)", h.Kind, filepath.Base(h.File), h.Line, h.Function, *h.Base)
		}
		if h.Kind == contention.KindBlock && h.File == store && h.Line == newStats {
			statsSeen = true
			if h.Base.Status == contention.ChangeNew || h.Base.BaseLine != oldStats || h.Base.BaseDelayNs == 0 {
				t.Errorf("the Stats lock at line %d did not match its base at line %d: %+v", newStats, oldStats, *h.Base)
			}
		}
		if h.Line == coarseLock && h.Base.Status != contention.ChangeNew {
			// The line number of the coarse Lock holds other code now.
			t.Errorf("%s:%d matched the coarse lock's old line", filepath.Base(h.File), h.Line)
		}
	}
	if !statsSeen {
		t.Errorf("no block hotspot on the Stats lock at store.go:%d", newStats)
	}
	var mwGone bool
	for _, m := range c.Gone.MapWrites {
		mwGone = mwGone || (m.Map == "s.counts" && m.Line == coarseLock+1)
	}
	if !mwGone {
		t.Errorf("the contended write s.counts is not reported gone: %+v", c.Gone.MapWrites)
	}
}

func extract(t *testing.T, zipPath, name, to string) string {
	t.Helper()
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	f, err := zr.Open(name)
	if err != nil {
		t.Fatalf("%s: %v", zipPath, err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return to
}

// pprofDiff runs `go tool pprof -top -diff_base=old cur` and returns what
// its nodes account for (cur minus old, every node shown) and its total
// (the base's, for a diff).
func pprofDiff(t *testing.T, old, cur string) (diffNs, baseNs int64) {
	t.Helper()
	out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=1000000", "-nodefraction=0", "-edgefraction=0",
		"-unit=ns", "-diff_base="+old, cur).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`accounting for (-?\d+)ns, [-\d.]+% of (\d+)ns total`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no totals in pprof's output:\n%s", out)
	}
	diffNs, _ = strconv.ParseInt(string(m[1]), 10, 64)
	baseNs, _ = strconv.ParseInt(string(m[2]), 10, 64)
	return diffNs, baseNs
}

// A saved capture records the run: program, commit (as git rev-parse HEAD
// gives it), Go version, lockscope's version and the settings; --load
// reads it back to the same hotspots.
func TestSaveRecordsTheRun(t *testing.T) {
	dir := fixture(t, "shards")
	file := filepath.Join(t.TempDir(), "run.zip")
	res := analyze(t, "--json", "--save", file, "--trace-seconds", "0", "--mutex-fraction", "2", dir, "--", "-d", "300ms")
	mustOK(t, res)
	c, err := pipeline.OpenCapture(file)
	if err != nil {
		t.Fatal(err)
	}
	head, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", err)
	}
	gv, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	i := c.Info
	if i.Program != dir || i.Commit != strings.TrimSpace(string(head)) || i.GoVersion != strings.TrimSpace(string(gv)) ||
		i.Lockscope == "" || i.Time.IsZero() {
		t.Errorf("capture info %+v: want program %s, commit %s, %s", i, dir, head, gv)
	}
	if i.Settings["mode"] != "run" || i.Settings["args"] != "-d 300ms" || i.Settings["mutexProfileFraction"] != "2" {
		t.Errorf("settings %v: want mode run, the program's args and the mutex fraction", i.Settings)
	}
	loaded := analyze(t, "--json", "--load", file)
	mustOK(t, loaded)
	want, got := map[string]int64{}, map[string]int64{}
	for _, h := range lockLines(res.report) {
		want[h.Kind+strconv.Itoa(h.Line)] = h.DelayNs
	}
	for _, h := range lockLines(loaded.report) {
		got[h.Kind+strconv.Itoa(h.Line)] = h.DelayNs
	}
	if len(want) == 0 || !equalMaps(want, got) {
		t.Errorf("--load of the capture: lock lines %v, want %v", got, want)
	}
}

func equalMaps(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// The CI gate on the shards benchmark: a rerun of the same code passes,
// with the noise it saw; the reverse of the fix (shards back to one
// coarse lock) fails with exit 6 and names the coarse lines with both
// values.
func TestGateShards(t *testing.T) {
	dir := shardsCopy(t)
	store := filepath.Join(dir, "store.go")
	coarseLock := testutil.MarkerLine(t, store, "coarse-lock")
	bench := func(args ...string) analyzeResult {
		t.Helper()
		a := append([]string{"--test", "--bench", "Add", "--count", "5", "--trace-seconds", "0"}, args...)
		return analyze(t, append(a, dir, "--", "-test.benchtime=200x")...)
	}
	tmp := t.TempDir()
	coarse, fixed := filepath.Join(tmp, "coarse.zip"), filepath.Join(tmp, "fixed.zip")
	mustOK(t, bench("--save", coarse))

	// The same code again: nothing to flag.
	rerun := bench("--json", "--base", coarse, "--fail-on", "wait+20%")
	mustOK(t, rerun)
	g := rerun.report.Comparison.Gate
	if g == nil || !g.Passed || g.Runs != 5 || g.BaseRuns != 5 {
		t.Fatalf("rerun: gate %+v, want passed over 5 runs each", g)
	}
	if rerun.report.Comparison.Unit != contention.UnitOp {
		t.Errorf("unit %q, want op: both sides ran benchmarks", rerun.report.Comparison.Unit)
	}

	applyFix(t, dir)
	fix := bench("--json", "--save", fixed, "--base", coarse, "--fail-on", "wait+20%")
	mustOK(t, fix)

	// The reverse change: from the shards back to the coarse lock.
	rev := diff(t, "--fail-on", "wait+20%", fixed, coarse)
	if rev.code != ExitGate {
		t.Fatalf("the coarse lock after the shards: exit %d, want %d (ExitGate)\n%s\n%s", rev.code, ExitGate, rev.stdout, rev.stderr)
	}
	line := regexp.MustCompile(regexp.QuoteMeta(store) + `:` + strconv.Itoa(coarseLock) + ` +main\.\(\*Store\)\.Add +block: [^ ]+/op → [^ ]+/op \(new`)
	if !line.MatchString(rev.stdout) || !strings.Contains(rev.stdout, "FAILED") {
		t.Errorf("the gate's output does not name the coarse Lock line with both values:\n%s", rev.stdout)
	}
	revJSON := diff(t, "--json", "--fail-on", "wait+20%", fixed, coarse)
	for _, f := range revJSON.report.Comparison.Gate.Failures {
		if f.P >= 0.05 || !strings.HasSuffix(f.Function, ".(*Store).Add") {
			t.Errorf("gate failure %+v: want the coarse Add lines, each significant", f)
		}
	}
}

// Flags that cannot work together are usage errors, before anything runs.
func TestCompareUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--count", "3", "."}, "--count needs --test --bench"},
		{[]string{"--fail-on", "wait+20%", "."}, "--fail-on needs --base"},
		{[]string{"--base", "x.zip", "--fail-on", "wait>20", "."}, "want wait+N%"},
		{[]string{"--base", "x.zip", "--fail-on", "wait+20%,beta=1", "."}, "unknown option"},
		{[]string{"--test", "--bench", ".", "--count", "0", "."}, "--count must be"},
	} {
		r := analyze(t, tc.args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("analyze %q: exit %d, stderr %q; want %d saying %q", tc.args, r.code, r.stderr, ExitUsage, tc.want)
		}
	}
	if r := diff(t, "only-one.zip"); r.code != ExitUsage {
		t.Errorf("diff with one capture: exit %d, want %d", r.code, ExitUsage)
	}
	if r := diff(t, "/nonexistent/a.zip", "/nonexistent/b.zip"); r.code != ExitInput {
		t.Errorf("diff of missing files: exit %d, want %d", r.code, ExitInput)
	}
}

// --base-dir runs the base checkout's benchmarks alternately with these:
// the same code in two folders passes, with its map writes matched; the
// coarse lock against a base with the shards fails.
func TestGateBaseDir(t *testing.T) {
	coarse, fixed := shardsCopy(t), shardsCopy(t)
	applyFix(t, fixed)
	gate := func(cur, base string) analyzeResult {
		t.Helper()
		return analyze(t, "--json", "--test", "--bench", "Add", "--count", "5", "--trace-seconds", "0",
			"--base-dir", base, "--fail-on", "wait+20%", cur, "--", "-test.benchtime=200x")
	}
	again := shardsCopy(t)
	same := gate(coarse, again)
	mustOK(t, same)
	c := same.report.Comparison
	if c.Gate == nil || !c.Gate.Passed || c.Base.Settings["interleaved"] != "true" || c.Base.Program != again {
		t.Fatalf("the same code in two folders: gate %+v, base %+v; want passed, the base run alongside", c.Gate, c.Base)
	}
	// Alternating, the second run of each pair first: this, base, base,
	// this, ... so that a drift weighs on both sides alike.
	e := same.stderr
	if i, j := strings.Index(e, "running the base's benchmarks (run 2 "), strings.Index(e, "running the benchmarks (run 2 "); i < 0 || j < 0 || i > j ||
		strings.Index(e, "running the benchmarks (run 1 ") > strings.Index(e, "running the base's benchmarks (run 1 ") {
		t.Errorf("the runs do not alternate:\n%s", e)
	}
	for _, m := range same.report.MapWrites {
		if m.Contended && (m.Base == nil || m.Base.Status == contention.ChangeNew) {
			t.Errorf("map write %s:%d: %+v, want matched to the base's", filepath.Base(m.File), m.Line, m.Base)
		}
	}
	worse := gate(coarse, fixed)
	if worse.code != ExitGate {
		t.Fatalf("the coarse lock against the shards: exit %d, want %d\n%s", worse.code, ExitGate, worse.stderr)
	}
	var r contention.Report
	if err := json.Unmarshal([]byte(worse.stdout), &r); err != nil || r.Comparison == nil || r.Comparison.Gate.Passed {
		t.Errorf("exit 6 without a failed gate in the JSON report (%v)", err)
	}
}
