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

// beforeStop returns the chains of the window before the stop.
func beforeStop(r *contention.Report) []contention.Chain {
	var out []contention.Chain
	for _, c := range r.Chains {
		if c.BeforeStop != "" {
			out = append(out, c)
		}
	}
	return out
}

// hasStopSource reports whether the report lists the window before the
// stop among its sources.
func hasStopSource(r *contention.Report) bool {
	for _, s := range r.Sources {
		if s.Origin == contention.OriginStopWindow && s.Kind == contention.KindTrace {
			return true
		}
	}
	return false
}

// checkLockChain fails unless some chain of the window before the stop
// starts with a goroutine waiting at the lock line and released by the
// unlock line, both in file.
func checkLockChain(t *testing.T, r *contention.Report, file string, lock, unlock int) {
	t.Helper()
	chains := beforeStop(r)
	for _, c := range chains {
		w := c.Links[0]
		if w.File == file && w.Line == lock && w.Role == "waits" && w.ReleasedAt != nil && w.ReleasedAt.File == file && w.ReleasedAt.Line == unlock {
			t.Logf("chain before the stop: %q, %d waits, %v", c.BeforeStop, c.Count, time.Duration(c.WaitNs))
			return
		}
	}
	t.Errorf("no chain before the stop waits at %s:%d and is released at line %d; chains before the stop: %+v; notes: %q", file, lock, unlock, chains, r.Notes)
}

// stopReport waits for the report that has the window before the stop,
// or the note that says why there is none.
func stopReport(t *testing.T, c *daptest.Client, what string, also func(*contention.Report) bool) *contention.Report {
	t.Helper()
	return reportEvent(t, c, time.Minute, what, func(r *contention.Report) bool {
		return (len(beforeStop(r)) > 0 || hasStopSource(r) || hasNote(r, "Before the stop: ")) && (also == nil || also(r))
	})
}

// evalTicks reads the program's tick counter at the stop.
func evalTicks(t *testing.T, c *daptest.Client) string {
	t.Helper()
	var b struct {
		Result string `json:"result"`
	}
	c.Call(t, "evaluate", map[string]any{"expression": "main.ticks.v", "context": "watch"}).Decode(t, &b)
	return b.Result
}

// With the default settings, a program stopped at a breakpoint after a few
// seconds of contention gets the chains of the moments before the stop,
// marked as such, at the lock's lines; reading them does not resume the
// program (a counter that a goroutine bumps without pause stays put).
func TestStopWindowAtBreakpoint(t *testing.T) {
	t.Parallel()
	stopWindowAtBreakpoint(t, testdataDir("stopwindow"), nil)
}

// stopWindowAtBreakpoint is TestStopWindowAtBreakpoint on the stopwindow
// program in dir, launched with env (the toolchain tests pick an older Go
// with it).
func stopWindowAtBreakpoint(t *testing.T, dir string, env map[string]string) {
	a := startAdapter(t)
	c := a.c
	file := filepath.Join(dir, "main.go")
	lock, unlock := testutil.MarkerLine(t, file, "sw-lock"), testutil.MarkerLine(t, file, "sw-unlock")
	launch(t, c, withEnv(map[string]any{"mode": "debug", "program": dir}, env))
	setBreakpoints(t, c, file, map[string]any{"line": testutil.MarkerLine(t, file, "sw-stop")})
	c.Call(t, "configurationDone", nil)
	st := c.Stopped(t)
	if st.Reason != "breakpoint" {
		t.Fatalf("stopped for %q, want breakpoint", st.Reason)
	}
	checkBuiltBy(t, c, st.ThreadID, env)
	// Go 1.25 is the oldest the embedded Delve supports: no warning.
	if n := consoleLines(c, unsupportedByDelve); n != 0 {
		t.Errorf("the Debug Console says %d times that Delve does not support this Go", n)
	}
	before := evalTicks(t, c)
	t0 := time.Now()
	r := stopReport(t, c, "chains before the stop", nil)
	t.Logf("the window before the stop reached the report %v after the stopped event", time.Since(t0).Round(time.Millisecond))
	if !hasStopSource(r) {
		t.Errorf("no source of origin %q in %+v", contention.OriginStopWindow, r.Sources)
	}
	checkLockChain(t, r, file, lock, unlock)
	if after := evalTicks(t, c); after != before {
		t.Errorf("the program ran while lockscope read the window: ticks went from %s to %s", before, after)
	}
	// The recorder's reader goroutine is lockscope's, as the agent's are.
	if agent := agentGoroutines(t, c); len(agent) > 0 {
		t.Errorf("the client sees the agent's or the flight recorder's goroutines: %v", agent)
	}
	c.Call(t, "disconnect", nil)
}

// A pause gets the window before it, as a breakpoint does.
func TestStopWindowAtPause(t *testing.T) {
	t.Parallel()
	stopWindowAtPause(t, testdataDir("stopwindow"), nil)
}

// stopWindowAtPause is TestStopWindowAtPause on the program in dir,
// launched with env.
func stopWindowAtPause(t *testing.T, dir string, env map[string]string) {
	a := startAdapter(t)
	c := a.c
	file := filepath.Join(dir, "main.go")
	lock, unlock := testutil.MarkerLine(t, file, "sw-lock"), testutil.MarkerLine(t, file, "sw-unlock")
	launch(t, c, withEnv(map[string]any{"mode": "debug", "program": dir, "args": []string{"-d", "10m"}}, env))
	c.Call(t, "configurationDone", nil)
	reportEvent(t, c, time.Minute, "the program's first profiles", func(r *contention.Report) bool { return len(r.Hotspots) > 0 })
	// The runtime ends a generation of the trace about every second: give
	// the recorder a couple.
	time.Sleep(2500 * time.Millisecond)
	c.Call(t, "pause", map[string]any{"threadId": 1})
	st := c.Stopped(t)
	if st.Reason != "pause" {
		t.Fatalf("stopped for %q, want pause", st.Reason)
	}
	checkBuiltBy(t, c, st.ThreadID, env)
	r := stopReport(t, c, "chains before the pause", nil)
	checkLockChain(t, r, file, lock, unlock)
	c.Call(t, "disconnect", nil)
}

// At a deadlock the agent has stepped aside and stopped the recorder, so
// that the runtime sees the deadlock: the window comes from the file it
// saved then.
func TestStopWindowAtDeadlock(t *testing.T) {
	t.Parallel()
	stopWindowAtDeadlock(t, testdataDir(filepath.Join("stuck", "deadlock")), nil)
}

// stopWindowAtDeadlock is TestStopWindowAtDeadlock on the deadlock
// program in dir, launched with env.
func stopWindowAtDeadlock(t *testing.T, dir string, env map[string]string) {
	a := startAdapter(t)
	c := a.c
	launch(t, c, withEnv(map[string]any{"mode": "debug", "program": dir}, env))
	c.Call(t, "configurationDone", nil)
	st := c.Stopped(t)
	if st.Reason != "exception" {
		t.Fatalf("stopped for %q, want the runtime's deadlock as an exception", st.Reason)
	}
	checkBuiltBy(t, c, st.ThreadID, env)
	r := stopReport(t, c, "the window before the deadlock", nil)
	if !hasStopSource(r) || !hasNote(r, "Before the stop: the chains marked \"before the stop\" come from the flight recorder's window that the agent saved") {
		t.Errorf("no window saved at the deadlock: sources %+v, notes %q", r.Sources, r.Notes)
	}
	c.Call(t, "disconnect", nil)
}

// A crash stop (the runtime's "concurrent map writes") gets the window
// before it too: the program cannot run any more, so only its memory has
// it.
func TestStopWindowAtCrash(t *testing.T) {
	t.Parallel()
	stopWindowAtCrash(t, testdataDir("stopwindow"), nil)
}

// stopWindowAtCrash is TestStopWindowAtCrash on the stopwindow program in
// dir, launched with env.
func stopWindowAtCrash(t *testing.T, dir string, env map[string]string) {
	a := startAdapter(t)
	c := a.c
	file := filepath.Join(dir, "main.go")
	lock, unlock := testutil.MarkerLine(t, file, "sw-lock"), testutil.MarkerLine(t, file, "sw-unlock")
	launch(t, c, withEnv(map[string]any{"mode": "debug", "program": dir, "args": []string{"-crash"}}, env))
	c.Call(t, "configurationDone", nil)
	st := c.Stopped(t)
	if st.Reason != "exception" {
		t.Fatalf("stopped for %q, want exception", st.Reason)
	}
	checkBuiltBy(t, c, st.ThreadID, env)
	r := stopReport(t, c, "a crash and chains before the stop", func(r *contention.Report) bool { return r.Crash != nil })
	if r.Crash.Reason != "concurrent map writes" {
		t.Errorf("crash %q, want concurrent map writes", r.Crash.Reason)
	}
	checkLockChain(t, r, file, lock, unlock)
	c.Call(t, "disconnect", nil)
}

// withEnv adds env to launch arguments, when there is one: a launch
// without it is the user's ordinary F5.
func withEnv(args map[string]any, env map[string]string) map[string]any {
	if env != nil {
		args["env"] = env
	}
	return args
}

// hasNote reports whether a note of the report starts with prefix.
func hasNote(r *contention.Report, prefix string) bool {
	for _, n := range r.Notes {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}
