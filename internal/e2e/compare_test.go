package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/daptest"
	"github.com/lockscope/lockscope/internal/dapx"
	"github.com/lockscope/lockscope/internal/pipeline"
	"github.com/lockscope/lockscope/internal/testutil"
)

// copyShards copies testdata/shards into a module of its own, where the
// test can apply the fix as a user would.
func copyShards(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "shards")
	for _, f := range []string{"main.go", "store.go", "startup.go", "fix/store.go.txt"} {
		data, err := os.ReadFile(filepath.Join(testdataDir("shards"), f))
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

// shardsRun is how one debug session runs the shards program.
type shardsRun struct {
	d   string            // its -d: how long the program counts
	env map[string]string // its environment, besides the adapter's
	// hold, when set, stops the program at the start of its main (after
	// the agent set the profile rates) for that long.
	hold time.Duration
}

// debugShards debugs the shards program in dir to its end and calls then
// with the client, once the final report holds the Store's lock. It
// returns what the adapter's clock of the program's running time came to,
// as the client sees it: from configurationDone to the exited event, the
// stop left out. That clock also counts the program's start and exit,
// which no profile covers.
func debugShards(t *testing.T, dir string, r shardsRun, then func(c *daptest.Client)) time.Duration {
	t.Helper()
	a := startAdapter(t)
	c := a.c
	args := map[string]any{"mode": "debug", "program": dir, "args": []string{"-d", r.d},
		"lockscope": map[string]any{"refreshSeconds": 30, "traceSeconds": 0}}
	if r.env != nil {
		args["env"] = r.env
	}
	launch(t, c, args)
	if r.hold > 0 {
		main := filepath.Join(dir, "main.go")
		setBreakpoints(t, c, main, map[string]any{"line": testutil.MarkerLine(t, main, "shards-main")})
	}
	began := time.Now()
	c.Call(t, "configurationDone", nil)
	if r.hold > 0 {
		st := c.Stopped(t)
		if st.Reason != "breakpoint" {
			t.Fatalf("stopped for %q, want the breakpoint at the start of main", st.Reason)
		}
		time.Sleep(r.hold)
		c.Call(t, "continue", map[string]any{"threadId": st.ThreadID})
	}
	c.WaitFor(t, "the exited event", 90*time.Second, func(m daptest.Message) bool {
		return m.Type == "event" && m.Event == "exited"
	})
	clock := time.Since(began) - r.hold
	reportEvent(t, c, 60*time.Second, "the Store's lock", func(r *contention.Report) bool {
		for _, h := range r.Hotspots {
			if h.Function == "main.(*Store).Add" && h.Kind == contention.KindBlock {
				return true
			}
		}
		return false
	})
	c.Event(t, "terminated")
	then(c)
	c.Call(t, "disconnect", nil)
	return clock
}

// saveCapture saves the session's capture with lockscope/save and reads
// it back.
func saveCapture(t *testing.T, c *daptest.Client, path string) *pipeline.Capture {
	t.Helper()
	var body dapx.SaveResponseBody
	c.Call(t, dapx.CommandSave, map[string]any{"path": path}).Decode(t, &body)
	if body.Path != path || body.Profiles != 2 {
		t.Errorf("lockscope/save answered %+v, want the path and 2 profiles", body)
	}
	saved, err := pipeline.OpenCapture(path)
	if err != nil {
		t.Fatal(err)
	}
	return saved
}

// The fix of the shards program in two debug sessions: the first saves
// its capture with lockscope/save, the second (after the coarse lock was
// split into shards) compares with it through lockscope/compare. The hot
// lines are reported gone, the Stats lock the edit moved is matched to
// its old line, and no lock line is called worse.
func TestCompareInSession(t *testing.T) {
	t.Parallel()
	dir := copyShards(t)
	store := filepath.Join(dir, "store.go")
	coarseLock := testutil.MarkerLine(t, store, "coarse-lock")
	oldStats := testutil.MarkerLine(t, store, "stats-lock")
	base := filepath.Join(t.TempDir(), "base.zip")

	// Runs of a few seconds: shorter ones on a loaded machine left the
	// locks' wait a second noisy enough to read as a change (once in about
	// 48 runs of 1 s against 2 s).
	debugShards(t, dir, shardsRun{d: "3s"}, func(c *daptest.Client) {
		saveCapture(t, c, base)
		bad := c.CallErr(t, dapx.CommandSave, map[string]any{"path": filepath.Join(t.TempDir(), "no", "such", "dir", "x.zip")})
		if bad.ErrorID() != dapx.ErrSaveFailed {
			t.Errorf("save into a missing directory: id %d, want %d: %s", bad.ErrorID(), dapx.ErrSaveFailed, bad.Raw)
		}
	})

	data, err := os.ReadFile(filepath.Join(dir, "fix", "store.go.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(store, data, 0o644); err != nil {
		t.Fatal(err)
	}
	newStats := testutil.MarkerLine(t, store, "stats-lock")

	// The fixed program runs twice as long: the comparison must be per
	// second of what the profiles cover, or the unchanged Stats lock reads
	// as a regression of its running total
	// (TestCompareInSessionPerSecondOfProfiles checks the seconds).
	debugShards(t, dir, shardsRun{d: "6s"}, func(c *daptest.Client) {
		var r contention.Report
		c.Call(t, dapx.CommandCompare, map[string]any{"path": base}).Decode(t, &r)
		if r.Comparison == nil {
			t.Fatal("lockscope/compare answered a report without a comparison")
		}
		if r.Comparison.Unit != contention.UnitSecond {
			t.Errorf("the comparison is per %q (%s), want per second of running time", r.Comparison.Unit, r.Comparison.UnitNote)
		}
		var gone bool
		for _, h := range r.Comparison.Gone.Hotspots {
			gone = gone || (h.Kind == contention.KindBlock && h.Line == coarseLock && h.Function == "main.(*Store).Add")
		}
		if !gone {
			t.Errorf("the coarse Lock at store.go:%d is not reported gone: %+v", coarseLock, r.Comparison.Gone.Hotspots)
		}
		var stats bool
		for _, h := range r.Hotspots {
			if h.Base == nil || !h.Lock || (h.Kind != contention.KindMutex && h.Kind != contention.KindBlock) {
				continue
			}
			if h.Base.Status == contention.ChangeWorse {
				t.Errorf("a false regression: %s store.go:%d %s %+v", h.Kind, h.Line, h.Function, *h.Base)
			}
			if h.Kind == contention.KindBlock && h.Line == newStats {
				stats = h.Base.BaseLine == oldStats && h.Base.Status != contention.ChangeNew
			}
		}
		if !stats {
			t.Errorf("the Stats lock at store.go:%d is not matched to its base at line %d", newStats, oldStats)
		}
		bad := c.CallErr(t, dapx.CommandCompare, map[string]any{"path": store})
		if bad.ErrorID() != dapx.ErrCompareFailed {
			t.Errorf("compare with a Go file: id %d, want %d: %s", bad.ErrorID(), dapx.ErrCompareFailed, bad.Raw)
		}
	})
}

// The same unchanged program, run for 1 s and then for 3 s after a start
// of 1.5 s that no profile covers (package variables set before the
// agent's init), compares as "same" per second: the seconds are those the
// profiles cover, from when the agent set the rates to the snapshot. The
// adapter's clock, from configurationDone to the exit, which a capture
// used to record, counts the start too (and the launch, longer on a loaded
// machine): it would make the Stats lock, about a second of wait a second
// in both runs, look worse by far more than the threshold.
func TestCompareInSessionPerSecondOfProfiles(t *testing.T) {
	t.Parallel()
	dir := copyShards(t)
	store := filepath.Join(dir, "store.go")
	base := filepath.Join(t.TempDir(), "base.zip")
	env := map[string]string{"SHARDS_STARTUP": "1500ms"}
	oldBase := debugShards(t, dir, shardsRun{d: "1s", env: env}, func(c *daptest.Client) { saveCapture(t, c, base) })
	var r contention.Report
	oldCur := debugShards(t, dir, shardsRun{d: "3s", env: env}, func(c *daptest.Client) {
		c.Call(t, dapx.CommandCompare, map[string]any{"path": base}).Decode(t, &r)
	})
	cmp := r.Comparison
	if cmp == nil || cmp.Unit != contention.UnitSecond {
		t.Fatalf("lockscope/compare answered %+v, want a comparison per second", cmp)
	}
	t.Logf("seconds the profiles cover: %.3f (1 s run) and %.3f (3 s run); the adapter's clock: %.3f and %.3f",
		cmp.BaseUnits, cmp.Units, oldBase.Seconds(), oldCur.Seconds())
	for _, side := range []struct {
		name         string
		units, count float64
		old          time.Duration
	}{{"the 1 s run", cmp.BaseUnits, 1, oldBase}, {"the 3 s run", cmp.Units, 3, oldCur}} {
		// From the agent's init to the snapshot at exit: the program's
		// counting and little else, however long its start.
		if side.units < side.count-0.05 || side.units > side.count+1 {
			t.Errorf("%s: the capture covers %.3f s, want about the %g s the program counts", side.name, side.units, side.count)
		}
		if side.old.Seconds() < side.count+1.5 {
			t.Errorf("%s: the adapter's clock came to %v, less than its start and run: the test measured it wrong", side.name, side.old)
		}
	}
	// The coarse lock's holder side is only logged: the mutex profile
	// charges it for every waiter the Unlock leaves behind, and in 20
	// pairs of runs here its wait a second moved by -24% to +24% from one
	// run to the other, which is the program and not the clock; its
	// waiter side moved by -12% to +4%, the Stats lock by under 6%.
	for _, m := range []struct {
		kind, marker, fn string
		logOnly          bool
	}{
		{contention.KindBlock, "stats-lock", "main.(*Stats).Tick", false},
		{contention.KindMutex, "stats-unlock", "main.(*Stats).Hold", false},
		{contention.KindBlock, "coarse-lock", "main.(*Store).Add", false},
		{contention.KindMutex, "coarse-unlock", "main.(*Store).Add", true},
	} {
		line := testutil.MarkerLine(t, store, m.marker)
		var h *contention.Hotspot
		for i := range r.Hotspots {
			if r.Hotspots[i].Kind == m.kind && r.Hotspots[i].Line == line && r.Hotspots[i].Function == m.fn {
				h = &r.Hotspots[i]
			}
		}
		if h == nil || h.Base == nil {
			t.Errorf("%s %s (store.go:%d) is not in the comparison", m.kind, m.fn, line)
			continue
		}
		old := (float64(h.DelayNs) / oldCur.Seconds()) / (float64(h.Base.BaseDelayNs) / oldBase.Seconds())
		t.Logf("%s %s: %.3f s/s against %.3f s/s (%s); by the adapter's clock %+.0f%%",
			m.kind, m.marker, h.Base.PerUnit/1e9, h.Base.BasePerUnit/1e9, h.Base.Status, 100*(old-1))
		if h.Base.Status != contention.ChangeSame && !m.logOnly {
			t.Errorf("%s %s (store.go:%d), unchanged, compares as %q: %+v", m.kind, m.fn, line, h.Base.Status, *h.Base)
		}
		if m.marker == "stats-lock" && old-1 <= cmp.Threshold {
			t.Errorf("by the adapter's clock the Stats lock changes by %+.0f%% only: the runs do not tell the clocks apart", 100*(old-1))
		}
	}
}

// A stop at a breakpoint is no time the profiles cover: the capture's
// seconds are the span of its profiles (from the agent's clock, which ran
// on during the stop) less the stop the adapter saw, lined up on the
// machine's monotonic clock.
func TestSessionCaptureLeavesOutStops(t *testing.T) {
	t.Parallel()
	dir := copyShards(t)
	hold := 2 * time.Second
	var saved *pipeline.Capture
	debugShards(t, dir, shardsRun{d: "1s", hold: hold}, func(c *daptest.Client) {
		saved = saveCapture(t, c, filepath.Join(t.TempDir(), "stopped.zip"))
	})
	// The capture records the later of the two profiles' spans (the agent
	// writes the block profile milliseconds after the mutex profile).
	var span time.Duration
	for _, kind := range []string{contention.KindMutex, contention.KindBlock} {
		profiles := saved.ProfilesOf(kind)
		if len(profiles) != 1 {
			t.Fatalf("the capture holds %d %s profiles, want 1", len(profiles), kind)
		}
		p, err := profile.ParseData(profiles[0].Data)
		if err != nil {
			t.Fatal(err)
		}
		span = max(span, time.Duration(p.DurationNanos))
	}
	covered := time.Duration(saved.Info.DurationNs)
	t.Logf("the profiles span %v, the capture covers %v: %v left out for a stop of %v", span, covered, span-covered, hold)
	if covered < time.Second-50*time.Millisecond || covered > 2*time.Second {
		t.Errorf("the capture covers %v, want about the 1 s the program counts", covered)
	}
	// The adapter sees the stop begin a little after the program stopped
	// and end a little after the client asked to continue.
	if left := span - covered; left < hold-100*time.Millisecond || left > hold+time.Second {
		t.Errorf("%v of the span is left out, want the stop of %v", left, hold)
	}
}

// With pprofURL and no agent, the service's profiles say nothing of when
// it set its rates: a capture of a launched service records the adapter's
// clock, its running time from configurationDone to the last refresh with
// its stops left out, and records it at each refresh, so that a save in
// mid-run is per second too.
func TestPprofURLCaptureSeconds(t *testing.T) {
	t.Parallel()
	dir := testdataDir(filepath.Join("capture", "oldservice"))
	bin := filepath.Join(t.TempDir(), "oldservice")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building oldservice: %v\n%s", err, out)
	}
	addr := freeLoopbackAddr(t)
	a := startAdapter(t)
	c := a.c
	launch(t, c, map[string]any{"mode": "exec", "program": bin, "args": []string{"-listen", addr},
		"lockscope": map[string]any{"pprofURL": "http://" + addr, "refreshSeconds": 0.5}})
	began := time.Now()
	c.Call(t, "configurationDone", nil)
	onTop := func(r *contention.Report) bool {
		m := topOfKind(r, contention.KindMutex)
		return m != nil && m.Function == "main.work"
	}
	reportEvent(t, c, 60*time.Second, "the service's lock, from its pprofURL", onTop)
	hold := 1500 * time.Millisecond
	c.Call(t, "pause", map[string]any{"threadId": 1})
	st := c.Stopped(t)
	time.Sleep(hold)
	mark := c.Mark()
	c.Call(t, "continue", map[string]any{"threadId": st.ThreadID})
	c.ExpectReportEventWhere(t, "a refresh after the pause", mark, 60*time.Second, onTop)
	saved := saveCapture(t, c, filepath.Join(t.TempDir(), "url.zip"))
	limit := time.Since(began) - hold
	covered := time.Duration(saved.Info.DurationNs)
	t.Logf("the capture covers %v of the %v since configurationDone, with a pause of %v", covered, time.Since(began), hold)
	if covered <= 0 || covered > limit+100*time.Millisecond {
		t.Errorf("the capture covers %v: want the service's running time, at most %v", covered, limit)
	}
	c.Call(t, "disconnect", nil)
}

// freeLoopbackAddr returns a loopback address with a port free now, for a
// service whose pprofURL the launch must name before it starts.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
