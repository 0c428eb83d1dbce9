package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/testutil"
)

// BenchmarkUnguardedCatchRate runs fresh sessions on crashmap through
// `lockscope dap`, sets the suggested second-writer breakpoint as the
// extension would, and counts the sessions that stop on the write (rather
// than on the runtime's crash), with the session's crash restarts.
// LOCKSCOPE_CATCH_RUNS sets the number of sessions (default 20).
func BenchmarkUnguardedCatchRate(b *testing.B) {
	runs := 20
	if v, err := strconv.Atoi(os.Getenv("LOCKSCOPE_CATCH_RUNS")); err == nil && v > 0 {
		runs = v
	}
	file := filepath.Join(testdataDir("crashmap"), "main.go")
	hit, reset := testutil.MarkerLine(b, file, "crash-hit"), testutil.MarkerLine(b, file, "crash-reset")
	caught, both, restarts := 0, 0, 0
	var took []time.Duration
	for i := 0; i < runs; i++ {
		a := startAdapter(b)
		c := a.c
		launch(b, c, map[string]any{"mode": "debug", "program": testdataDir("crashmap"), "stopOnEntry": true})
		c.Call(b, "configurationDone", nil)
		c.Stopped(b)
		var bps []map[string]any
		for _, bp := range suggestionsWhere(b, c, file, hit, nil) {
			bps = append(bps, map[string]any{"line": bp.Line, "condition": bp.Condition})
		}
		setBreakpoints(b, c, file, bps...)
		t0 := time.Now()
		c.Call(b, "continue", map[string]any{"threadId": 1})
		st := c.Stopped(b)
		took = append(took, time.Since(t0))
		// Caught means stopped on a writer line of hits, not on the crash
		// and not anywhere else.
		if st.Reason != "exception" {
			if line := c.StackTrace(b, st.ThreadID)[0].Line; line == hit || line == reset {
				caught++
				for id, f := range goroutineTops(b, c, testdataDir("crashmap")) {
					if id != st.ThreadID && f.Line == hit+reset-line {
						both++ // the other writer is frozen mid-write: both named
						break
					}
				}
			}
		}
		for _, m := range c.Messages() {
			if m.Event == "output" && strings.Contains(string(m.Body), "restarting the program") {
				restarts++
			}
		}
		c.Call(b, "disconnect", nil)
		a.exited(20 * time.Second)
	}
	b.ReportMetric(float64(caught)/float64(runs), "catch-rate")
	b.ReportMetric(float64(restarts)/float64(runs), "restarts/session")
	b.ReportMetric(float64(both)/float64(runs), "both-writers-rate")
	fmt.Printf("CATCHRATE caught=%d/%d other_writer_frozen=%d/%d restarts=%d median_time_to_stop=%v\n", caught, runs, both, runs, restarts, quantile(took, 0.5))
}
