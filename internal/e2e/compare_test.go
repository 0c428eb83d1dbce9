package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/daptest"
	"github.com/lockscope/lockscope/internal/dapx"
	"github.com/lockscope/lockscope/internal/testutil"
)

// copyShards copies testdata/shards into a module of its own, where the
// test can apply the fix as a user would.
func copyShards(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "shards")
	for _, f := range []string{"main.go", "store.go", "fix/store.go.txt"} {
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

	// run debugs the program for d to its end and returns the client once
	// the final report holds the Store's lock.
	run := func(d string, then func(c *daptest.Client)) {
		a := startAdapter(t)
		c := a.c
		launch(t, c, map[string]any{"mode": "debug", "program": dir, "args": []string{"-d", d},
			"lockscope": map[string]any{"refreshSeconds": 30, "traceSeconds": 0}})
		c.Call(t, "configurationDone", nil)
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
	}

	// 3 s and 6 s, not 1 s and 2 s: the session's clock runs from
	// configurationDone to the exit event, so it also counts the program's
	// start and its exit: 1.68 s of clock for a 1 s run under a load average
	// of 15 (its wait, 0.995 s, over its wait per second); on a 1 s
	// run that diluted the unchanged Stats lock's wait per second to 0.59
	// against 0.91 in the 2 s run, a false "worse" (+54%).
	run("3s", func(c *daptest.Client) {
		var body dapx.SaveResponseBody
		c.Call(t, dapx.CommandSave, map[string]any{"path": base}).Decode(t, &body)
		if body.Path != base || body.Profiles != 2 {
			t.Errorf("lockscope/save answered %+v, want the path and 2 profiles", body)
		}
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
	// second of the program's running time, or the unchanged Stats lock
	// reads as a regression of its running total.
	run("6s", func(c *daptest.Client) {
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
