package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/daptest"
	"github.com/lockscope/lockscope/internal/dapx"
	"github.com/lockscope/lockscope/internal/testutil"
)

// suggestions asks lockscope/breakpoints for file:line until the report
// behind it has them (the index and the first profiles arrive a moment
// after the launch).
func suggestions(t *testing.T, c *daptest.Client, file string, line int) []contention.Breakpoint {
	t.Helper()
	return suggestionsWhere(t, c, file, line, nil)
}

// suggestionsWhere asks lockscope/breakpoints for file:line until one of
// the suggestions satisfies ok (nil: until there is any). The suggestions
// change only with the report, so between two asks it waits for the next
// lockscope/report event, without taking it from the test's other waits.
func suggestionsWhere(t testing.TB, c *daptest.Client, file string, line int, ok func(contention.Breakpoint) bool) []contention.Breakpoint {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last dapx.BreakpointsResponseBody
	for {
		mark := c.Mark()
		last = c.ExpectBreakpointsResponse(t, c.BreakpointsRequest(file, line)).Body
		for _, bp := range last.Breakpoints {
			if ok == nil || ok(bp) {
				return last.Breakpoints
			}
		}
		if _, changed := c.Seen(time.Until(deadline), func(m daptest.Message) bool {
			return m.N >= mark && m.Event == dapx.EventReport
		}); !changed {
			break
		}
	}
	rep := c.Call(t, dapx.CommandReport, nil)
	t.Fatalf("no fitting breakpoint suggestion for %s:%d (last: %+v, reason %q); report:\n%s", file, line, last.Breakpoints, last.Reason, rep.Body)
	return nil
}

// setSuggested sets the suggested breakpoints exactly as the extension
// does: through setBreakpoints, one call per file with all of its lines.
func setSuggested(t *testing.T, c *daptest.Client, bps []contention.Breakpoint) {
	t.Helper()
	byFile := map[string][]map[string]any{}
	for _, bp := range bps {
		if bp.LogMessage != "" {
			continue
		}
		m := map[string]any{"line": bp.Line}
		if bp.Condition != "" {
			m["condition"] = bp.Condition
		}
		if bp.HitCondition != "" {
			m["hitCondition"] = bp.HitCondition
		}
		byFile[bp.File] = append(byFile[bp.File], m)
	}
	for f, list := range byFile {
		setBreakpoints(t, c, f, list...)
	}
}

// goroutineTops returns, for every goroutine, its top frame in files of dir.
func goroutineTops(t testing.TB, c *daptest.Client, dir string) map[int]daptest.Frame {
	t.Helper()
	var th struct {
		Threads []struct {
			ID int `json:"id"`
		} `json:"threads"`
	}
	c.Call(t, "threads", nil).Decode(t, &th)
	out := map[int]daptest.Frame{}
	for _, x := range th.Threads {
		for _, f := range c.StackTrace(t, x.ID) {
			if strings.HasPrefix(f.Source.Path, dir) {
				out[x.ID] = f
				break
			}
		}
	}
	return out
}

// contendedStop launches a contended program, takes the suggested
// breakpoint for the write at marker, and checks that the program stops
// there with the condition true.
func contendedStop(t *testing.T, program, file, marker string) (*daptest.Client, daptest.StoppedBody, contention.Breakpoint) {
	t.Helper()
	a := startAdapter(t)
	c := a.c
	launch(t, c, map[string]any{"mode": "debug", "program": testdataDir(program), "args": []string{"-d", "0"},
		"lockscope": map[string]any{"refreshSeconds": 0.5}})
	c.Call(t, "configurationDone", nil)
	line := testutil.MarkerLine(t, file, marker)
	bps := suggestions(t, c, file, line)
	var stopBP *contention.Breakpoint
	for i := range bps {
		if bps[i].LogMessage == "" && bps[i].Line == line {
			stopBP = &bps[i]
		}
	}
	if stopBP == nil {
		t.Fatalf("no stopping breakpoint among %+v", bps)
	}
	if stopBP.Label == "" || stopBP.ForWrite != fmt.Sprintf("%s:%d", file, line) {
		t.Errorf("suggestion %+v: want a label and forWrite %s:%d", *stopBP, file, line)
	}
	setSuggested(t, c, []contention.Breakpoint{*stopBP})
	st := c.Stopped(t)
	frames := c.StackTrace(t, st.ThreadID)
	if frames[0].Line != line || frames[0].Source.Path != file {
		t.Fatalf("stopped at %s:%d, want the write at %s:%d", frames[0].Source.Path, frames[0].Line, file, line)
	}
	if got := c.Evaluate(t, frames[0].ID, stopBP.Condition); got != "true" {
		t.Errorf("condition %q at the stop = %s, want true", stopBP.Condition, got)
	}
	return c, st, *stopBP
}

func TestContendedMutexWriteBreakpoint(t *testing.T) {
	t.Parallel()
	file := filepath.Join(testdataDir("ledger"), "main.go")
	c, _, bp := contendedStop(t, "ledger", file, "hot-write")
	if !strings.Contains(bp.Condition, "balMu.mu.state >> 3") {
		t.Errorf("condition %q does not count balMu's waiters", bp.Condition)
	}
	// Other goroutines are frozen waiting for the lock.
	waiting := 0
	var th struct {
		Threads []struct {
			ID int `json:"id"`
		} `json:"threads"`
	}
	c.Call(t, "threads", nil).Decode(t, &th)
	for _, x := range th.Threads {
		for _, f := range c.StackTrace(t, x.ID) {
			if f.Name == "sync.(*Mutex).Lock" || f.Name == "internal/sync.(*Mutex).lockSlow" {
				waiting++
				break
			}
		}
	}
	if waiting < 2 {
		t.Errorf("%d goroutines wait in Lock at the stop, want at least 2", waiting)
	}
	c.Call(t, "disconnect", nil)
}

func TestContendedRWMutexWriteBreakpoint(t *testing.T) {
	t.Parallel()
	file := filepath.Join(testdataDir("rwcache"), "main.go")
	c, _, _ := contendedStop(t, "rwcache", file, "rw-write")
	c.Call(t, "disconnect", nil)
}

func TestContendedStructFieldWriteInOtherPackage(t *testing.T) {
	t.Parallel()
	file := filepath.Join(testdataDir("inventory"), "store", "store.go")
	c, _, bp := contendedStop(t, "inventory", file, "store-write")
	if !strings.Contains(bp.Condition, "s.mu") {
		t.Errorf("condition %q is not on the receiver's mutex s.mu", bp.Condition)
	}
	c.Call(t, "disconnect", nil)
}

// On a map written by two functions with no lock, the suggested
// breakpoints stop one writer while the other is frozen mid-write: both
// writers are named before the runtime's crash, which names one.
func TestUnguardedTwoWriterBreakpoint(t *testing.T) {
	t.Parallel()
	file := filepath.Join(testdataDir("crashmap"), "main.go")
	hit, reset := testutil.MarkerLine(t, file, "crash-hit"), testutil.MarkerLine(t, file, "crash-reset")
	a := startAdapter(t)
	c := a.c
	// Stop on entry so that the breakpoints are in before the race begins.
	launch(t, c, map[string]any{"mode": "debug", "program": testdataDir("crashmap"), "stopOnEntry": true})
	c.Call(t, "configurationDone", nil)
	c.Stopped(t)
	bps := suggestions(t, c, file, hit)
	for _, bp := range bps {
		if bp.Line != hit || !strings.Contains(bp.Condition, "hits") {
			t.Fatalf("suggestion %+v: want a condition on hits at the clicked line %d", bp, hit)
		}
	}
	setSuggested(t, c, bps)
	c.Call(t, "continue", map[string]any{"threadId": 1})
	st := c.Stopped(t)
	if st.Reason == "exception" {
		var out []string
		for _, m := range c.Messages() {
			if m.Event == "output" && strings.Contains(string(m.Body), "lockscope") {
				out = append(out, string(m.Body))
			}
		}
		t.Fatalf("the runtime's crash won the race against the breakpoint and every restart; console:\n%s", strings.Join(out, "\n"))
	}
	frames := c.StackTrace(t, st.ThreadID)
	at := frames[0].Line
	if at != hit && at != reset {
		t.Fatalf("stopped at line %d, want a writer line %d or %d", at, hit, reset)
	}
	other := hit + reset - at
	found := false
	for id, f := range goroutineTops(t, c, testdataDir("crashmap")) {
		if id != st.ThreadID && f.Line == other {
			found = true
		}
	}
	if !found {
		t.Errorf("no other goroutine is frozen at the other writer line %d", other)
	}
	c.Call(t, "disconnect", nil)
}

// The logpoint variant prints the number of waiters without stopping.
func TestContendedWriteLogpoint(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	file := filepath.Join(testdataDir("ledger"), "main.go")
	launch(t, c, map[string]any{"mode": "debug", "program": testdataDir("ledger"), "args": []string{"-d", "0"},
		"lockscope": map[string]any{"refreshSeconds": 0.5}})
	c.Call(t, "configurationDone", nil)
	line := testutil.MarkerLine(t, file, "hot-write")
	var logBP *contention.Breakpoint
	isLog := func(bp contention.Breakpoint) bool { return bp.LogMessage != "" }
	for _, bp := range suggestionsWhere(t, c, file, line, isLog) {
		if isLog(bp) {
			logBP = &bp
		}
	}
	setBreakpoints(t, c, file, map[string]any{"line": logBP.Line, "condition": logBP.Condition, "logMessage": logBP.LogMessage})
	out := c.WaitFor(t, "the logpoint's output", 60*time.Second, func(m daptest.Message) bool {
		return m.Type == "event" && m.Event == "output" && strings.Contains(string(m.Body), "goroutines wait for balMu")
	})
	var body struct {
		Output string `json:"output"`
	}
	out.Decode(t, &body)
	// Delve prefixes a logpoint's output with the goroutine: "> [Go 9]: ".
	var g, n int
	if _, err := fmt.Sscanf(body.Output, "> [Go %d]: %d goroutines wait", &g, &n); err != nil || n < 2 {
		t.Errorf("logpoint printed %q: want a waiter count of at least 2", body.Output)
	}
	// It never stopped the program.
	if m, ok := c.TryWait(time.Second, func(m daptest.Message) bool { return m.Event == "stopped" }); ok {
		t.Errorf("the logpoint stopped the program: %s", m.Raw)
	}
	c.Call(t, "disconnect", nil)
}
