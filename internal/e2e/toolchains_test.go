package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/daptest"
	"github.com/lockscope/lockscope/internal/testutil"
)

// The capture agent and the flight recorder's reader on the older Go
// releases lockscope supports, built by the module proxy's toolchains
// (testutil.ProxyGo) from copies of the testdata programs in modules of
// their own (lockscope's go.mod asks for a newer Go). This machine's Go is
// covered by the tests these reuse.

// TestToolchainGo125StopWindow runs the stop-window tests on a program
// built by Go 1.25, whose runtime/trace.FlightRecorder keeps its batches
// in another shape than Go 1.26's (capture.ReadFlightWindow reads both):
// at a breakpoint, a pause and a crash the window is read from the stopped
// program's memory, and at a deadlock from the file the agent saved.
func TestToolchainGo125StopWindow(t *testing.T) {
	t.Parallel()
	env := testutil.ProxyGo(t, testutil.ProxyGo125)
	stopwindow := testutil.CopyToModule(t, testdataDir("stopwindow"), "1.25")
	deadlock := testutil.CopyToModule(t, testdataDir(filepath.Join("stuck", "deadlock")), "1.25")
	// The first build by a toolchain compiles its standard library with
	// Delve's -gcflags=all=-N -l (a minute on a clean machine's 2 cores):
	// the breakpoint runs alone and fills the build cache, the others
	// then share it rather than each compile it at the same time.
	t.Run("breakpoint", func(t *testing.T) {
		stopWindowAtBreakpoint(t, stopwindow, env)
	})
	t.Run("crash", func(t *testing.T) {
		t.Parallel()
		stopWindowAtCrash(t, stopwindow, env)
	})
	t.Run("deadlock", func(t *testing.T) {
		t.Parallel()
		stopWindowAtDeadlock(t, deadlock, env)
	})
	t.Run("pause", func(t *testing.T) {
		t.Parallel()
		stopWindowAtPause(t, stopwindow, env)
	})
}

// unsupportedByDelve is how the Debug Console says that the program's Go
// is older than the embedded Delve supports (Go 1.25 for Delve 1.27).
const unsupportedByDelve = "older than the go1.25 that the embedded Delve supports"

// flightNeedsGo125 is how the report says, at a stop of a program built by
// Go 1.24, why there is no window before the stop.
const flightNeedsGo125 = "Before the stop: no trace of the moments before the stop: the flight recorder needs Go 1.25 or later, and this program builds with " + testutil.ProxyGo124

// TestToolchainGo124Capture runs a program built by Go 1.24, the oldest the
// agent builds with, which has no flight recorder: the agent's profiles
// reach the report, its goroutines stay hidden at a breakpoint, and the
// report says once why there is no window before the stop.
func TestToolchainGo124Capture(t *testing.T) {
	t.Parallel()
	env := testutil.ProxyGo(t, testutil.ProxyGo124)
	dir := testutil.CopyToModule(t, testdataDir("ledger"), "1.24")
	file := filepath.Join(dir, "main.go")
	a := startAdapter(t)
	c := a.c
	launch(t, c, map[string]any{"mode": "debug", "program": dir, "args": []string{"-d", "0"}, "env": env,
		"lockscope": map[string]any{"refreshSeconds": 0.5}})
	c.Call(t, "configurationDone", nil)
	rep := reportEvent(t, c, time.Minute, "the hot lock", func(r *contention.Report) bool { return topOfKind(r, contention.KindMutex) != nil })
	if h := topOfKind(rep, contention.KindMutex); filepath.Base(h.File) != "main.go" {
		t.Errorf("the hottest mutex is at %s:%d, want the ledger's main.go", h.File, h.Line)
	}
	setBreakpoints(t, c, file, map[string]any{"line": testutil.MarkerLine(t, file, "hot-write")})
	st := c.Stopped(t)
	if st.Reason != "breakpoint" {
		t.Fatalf("stopped for %q, want the breakpoint", st.Reason)
	}
	checkBuiltBy(t, c, st.ThreadID, env)
	if n := consoleLines(c, "lockscope: this program builds with "+testutil.ProxyGo124+", "+unsupportedByDelve); n != 1 {
		t.Errorf("the Debug Console says %d times that the embedded Delve does not support %s, want once", n, testutil.ProxyGo124)
	}
	if agent := agentGoroutines(t, c); len(agent) > 0 {
		t.Errorf("the client sees the agent's goroutines: %v", agent)
	}
	r := stopReport(t, c, "why there is no window before the stop", nil)
	if n := notesWith(r, flightNeedsGo125); len(n) != 1 || len(notesWith(r, "Before the stop: ")) != 1 {
		t.Errorf("report notes %q: want one that starts %q", r.Notes, flightNeedsGo125)
	}
	if len(beforeStop(r)) > 0 || hasStopSource(r) {
		t.Errorf("a window before the stop without a flight recorder: chains %+v, sources %+v", beforeStop(r), r.Sources)
	}
	// The profiles still reach the report at the stop.
	if topOfKind(r, contention.KindMutex) == nil {
		t.Errorf("no mutex hotspot in the report at the stop: %+v", r.Hotspots)
	}
	c.Call(t, "disconnect", nil)
}

// checkBuiltBy fails unless the stopped program's runtime is the one
// env's GOTOOLCHAIN names, when it names one: a test on an older Go must
// not pass on this machine's own.
func checkBuiltBy(t *testing.T, c *daptest.Client, thread int, env map[string]string) {
	t.Helper()
	want := env["GOTOOLCHAIN"]
	if want == "" {
		return
	}
	frames := c.StackTrace(t, thread)
	if v := c.Evaluate(t, frames[0].ID, "runtime.buildVersion"); v != `"`+want+`"` {
		t.Fatalf("runtime.buildVersion = %s, want %q", v, want)
	}
}

// agentGoroutines lists the threads the client sees that run the capture
// agent's code, the runtime's trace goroutines or the flight recorder's
// reader (Delve shortens runtime/trace to trace).
func agentGoroutines(t *testing.T, c *daptest.Client) []string {
	t.Helper()
	var b struct {
		Threads []struct {
			ID   int    `json:"id"`
			Name string `json:"name"`
		} `json:"threads"`
	}
	c.Call(t, "threads", nil).Decode(t, &b)
	var agent []string
	for _, th := range b.Threads {
		for _, f := range c.StackTrace(t, th.ID) {
			if strings.Contains(f.Name, "lockscopeAgent") || filepath.Base(f.Source.Path) == "zz_lockscope_agent.go" || runtimeTraceFrame(f.Name) ||
				strings.HasPrefix(f.Name, "trace.") || strings.HasPrefix(f.Name, "runtime/trace.") {
				agent = append(agent, th.Name+" ("+f.Name+")")
				break
			}
		}
	}
	return agent
}
