package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/dapx"
	"github.com/lockscope/lockscope/internal/testutil"
)

// A lock-order deadlock under F5: lockscope's agent steps aside, the
// runtime's fatal error stops the program under Delve with every goroutine
// where it sits, and the report event names the cycle on its lines.
func TestDeadlockUnderTheDebugger(t *testing.T) {
	t.Parallel()
	program := testdataDir(filepath.Join("stuck", "deadlock"))
	main := filepath.Join(program, "main.go")
	a := startAdapter(t)
	c := a.c
	launch(t, c, map[string]any{"mode": "debug", "program": program, "lockscope": map[string]any{"traceSeconds": 0}})
	c.Call(t, "configurationDone", nil)
	st := c.Stopped(t)
	if st.Reason != "exception" || !strings.Contains(st.Description+st.Text, "deadlock") {
		t.Fatalf("stopped %+v, want the runtime's deadlock as an exception", st)
	}
	ev := c.ExpectReportEventWhere(t, "a deadlock", 0, 30*time.Second, func(r *contention.Report) bool { return len(r.Deadlocks) > 0 })
	d := ev.Body.Deadlocks[0]
	want := map[int]bool{
		testutil.MarkerLine(t, main, "transfer-lock-b"): true,
		testutil.MarkerLine(t, main, "audit-lock-a"):    true,
	}
	if len(d.Links) != 2 || !d.Forever {
		t.Fatalf("deadlock %+v: want a cycle of two, for good", d)
	}
	for _, l := range d.Links {
		if !want[l.WaitsAt.Line] {
			t.Errorf("link %+v waits at line %d; want one of %v", l, l.WaitsAt.Line, want)
		}
	}
	// Both goroutines of the cycle are there to look at.
	var r contention.Report
	c.Call(t, dapx.CommandReport, nil).Decode(t, &r)
	if len(r.Deadlocks) != 1 {
		t.Errorf("lockscope/report has %d deadlocks, want 1", len(r.Deadlocks))
	}
	c.Call(t, "disconnect", map[string]any{"terminateDebuggee": true})
}
