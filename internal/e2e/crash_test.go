package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
)

// A crash stop on a map carries a report: the reason, the write that
// tripped, the map's other writer, and a ready-made breakpoint.
func TestCrashStopSendsReport(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	file := filepath.Join(testdataDir("crashmap"), "main.go")
	hit, reset := testutil.MarkerLine(t, file, "crash-hit"), testutil.MarkerLine(t, file, "crash-reset")
	launch(t, c, map[string]any{"mode": "debug", "program": testdataDir("crashmap")})
	c.Call(t, "configurationDone", nil)
	st := c.Stopped(t)
	if st.Reason != "exception" {
		t.Fatalf("stopped for %q, want exception", st.Reason)
	}
	r := reportEvent(t, c, 30*time.Second, "a crash", func(r *contention.Report) bool { return r.Crash != nil })
	cr := r.Crash
	if cr.Reason != "concurrent map writes" {
		t.Errorf("crash reason %q, want concurrent map writes", cr.Reason)
	}
	if cr.File != file || (cr.Line != hit && cr.Line != reset) {
		t.Errorf("crash at %s:%d, want a writer line (%d or %d) of %s", cr.File, cr.Line, hit, reset, file)
	}
	other := hit + reset - cr.Line
	found := false
	for _, w := range cr.Writers {
		if w.File == file && w.Line == other {
			found = true
		}
	}
	if !found {
		t.Errorf("crash writers %+v do not include the other writer at line %d", cr.Writers, other)
	}
	hasBP := false
	for _, bp := range r.Breakpoints {
		if bp.Line == hit || bp.Line == reset {
			hasBP = true
		}
	}
	if !hasBP {
		t.Errorf("no second-writer breakpoint in the report: %+v", r.Breakpoints)
	}
	c.Call(t, "disconnect", nil)
}

// With race: true the program is built with -race and the race detector's
// reports, read from Delve's output events, land in the report.
func TestRaceReportsInSession(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	file := filepath.Join(testdataDir("racymap"), "main.go")
	record, forget := testutil.MarkerLine(t, file, "racy-record"), testutil.MarkerLine(t, file, "racy-forget")
	launch(t, c, map[string]any{"mode": "debug", "program": testdataDir("racymap"), "env": map[string]string{"GORACE": "halt_on_error=0"},
		"lockscope": map[string]any{"race": true}})
	c.Call(t, "configurationDone", nil)
	r := reportEvent(t, c, 120*time.Second, "a race", func(r *contention.Report) bool { return len(r.Races) > 0 })
	race := r.Races[0]
	lines := map[int]bool{race.Access.Line: true, race.Previous.Line: true}
	if !lines[record] || !lines[forget] {
		t.Errorf("race between lines %d and %d, want %d (record) and %d (forget)", race.Access.Line, race.Previous.Line, record, forget)
	}
	if !race.Access.Map || race.Access.Op != "write" {
		t.Errorf("access %+v: want a map write", race.Access)
	}
	c.Call(t, "disconnect", nil)
}
