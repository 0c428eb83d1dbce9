package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/daptest"
	"github.com/lockscope/lockscope/internal/dapx"
	"github.com/lockscope/lockscope/internal/testutil"
)

var basicMain = func() string { return filepath.Join(testdataDir("basic"), "main.go") }

// launchBasic launches testdata/basic in debug mode with capture off, so
// these tests see plain Delve behaviour.
func launchBasic(t *testing.T, c *daptest.Client, extra map[string]any) {
	t.Helper()
	args := map[string]any{"mode": "debug", "program": testdataDir("basic"), "lockscope": map[string]any{"capture": "off"}}
	for k, v := range extra {
		args[k] = v
	}
	launch(t, c, args)
}

func TestLineBreakpointVariables(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	launchBasic(t, c, nil)
	line := testutil.MarkerLine(t, basicMain(), "main-print")
	setBreakpoints(t, c, basicMain(), map[string]any{"line": line})
	c.Call(t, "configurationDone", nil)
	st := c.Stopped(t)
	if st.Reason != "breakpoint" {
		t.Fatalf("stopped for %q, want breakpoint", st.Reason)
	}
	frames := c.StackTrace(t, st.ThreadID)
	if frames[0].Line != line || frames[0].Name != "main.main" {
		t.Fatalf("top frame %s:%d, want main.main:%d", frames[0].Name, frames[0].Line, line)
	}
	vars := c.Locals(t, frames[0].ID)
	if got := vars["name"].Value; got != `"lockscope"` {
		t.Errorf("name = %s, want \"lockscope\"", got)
	}
	if got := vars["r"].Value; got != "10" {
		t.Errorf("r = %s, want 10", got)
	}
	if got := c.Evaluate(t, frames[0].ID, "p.X + p.Y"); got != "7" {
		t.Errorf("p.X + p.Y = %s, want 7", got)
	}
	c.Call(t, "continue", map[string]any{"threadId": st.ThreadID})
	// The program prints a fake DAP header; it must arrive as an output
	// event and leave the stream intact.
	c.WaitFor(t, "the program's fake header as output", 30*time.Second, func(m daptest.Message) bool {
		return m.Type == "event" && m.Event == "output" && strings.Contains(string(m.Body), "Content-Length: 99999999")
	})
	c.Event(t, "terminated")
	c.Call(t, "disconnect", nil)
	if !a.exited(20 * time.Second) {
		t.Fatal("lockscope dap did not exit after disconnect")
	}
}

func TestConditionalHitCountAndLogpoint(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	launchBasic(t, c, nil)
	addLine := testutil.MarkerLine(t, basicMain(), "add-body")
	loopLine := testutil.MarkerLine(t, basicMain(), "compute-loop")
	retLine := testutil.MarkerLine(t, basicMain(), "compute-return")
	// compute(5) calls add(0,0), add(0,1), add(1,2), add(3,3), add(6,4).
	setBreakpoints(t, c, basicMain(),
		map[string]any{"line": addLine, "condition": "a == 6"},
		map[string]any{"line": loopLine, "hitCondition": "3"},
		map[string]any{"line": retLine, "logMessage": "total is {total}"},
	)
	c.Call(t, "configurationDone", nil)

	st := c.Stopped(t)
	frames := c.StackTrace(t, st.ThreadID)
	if frames[0].Line != loopLine {
		t.Fatalf("first stop at line %d, want the hit-count breakpoint at %d", frames[0].Line, loopLine)
	}
	if got := c.Evaluate(t, frames[0].ID, "i"); got != "2" {
		t.Errorf("at the third hit i = %s, want 2", got)
	}
	c.Call(t, "continue", map[string]any{"threadId": st.ThreadID})

	st = c.Stopped(t)
	frames = c.StackTrace(t, st.ThreadID)
	if frames[0].Line != addLine {
		t.Fatalf("second stop at line %d, want the conditional breakpoint at %d", frames[0].Line, addLine)
	}
	if got := c.Evaluate(t, frames[0].ID, "b"); got != "4" {
		t.Errorf("under condition a == 6, b = %s, want 4", got)
	}
	c.Call(t, "continue", map[string]any{"threadId": st.ThreadID})
	c.WaitFor(t, "the logpoint's output", 30*time.Second, func(m daptest.Message) bool {
		return m.Type == "event" && m.Event == "output" && strings.Contains(string(m.Body), "total is 10")
	})
	c.Event(t, "terminated")
	c.Call(t, "disconnect", nil)
}

func TestFunctionBreakpointAndStepping(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	launchBasic(t, c, nil)
	c.Call(t, "setFunctionBreakpoints", map[string]any{"breakpoints": []map[string]any{{"name": "main.compute"}}})
	c.Call(t, "configurationDone", nil)
	st := c.Stopped(t)
	if st.Reason != "function breakpoint" {
		t.Errorf("stopped for %q, want function breakpoint", st.Reason)
	}
	frames := c.StackTrace(t, st.ThreadID)
	if frames[0].Name != "main.compute" {
		t.Fatalf("stopped in %s, want main.compute", frames[0].Name)
	}
	loopLine := testutil.MarkerLine(t, basicMain(), "compute-loop")
	addLine := testutil.MarkerLine(t, basicMain(), "add-body")
	// Step over until the loop line.
	for i := 0; i < 5 && frames[0].Line != loopLine; i++ {
		c.Call(t, "next", map[string]any{"threadId": st.ThreadID})
		st = c.Stopped(t)
		frames = c.StackTrace(t, st.ThreadID)
	}
	if frames[0].Line != loopLine {
		t.Fatalf("next never reached line %d (at %d)", loopLine, frames[0].Line)
	}
	c.Call(t, "stepIn", map[string]any{"threadId": st.ThreadID})
	st = c.Stopped(t)
	frames = c.StackTrace(t, st.ThreadID)
	// Delve stops at the function's first line, the declaration or the body.
	if frames[0].Name != "main.add" || frames[0].Line < addLine-1 || frames[0].Line > addLine {
		t.Fatalf("stepIn went to %s:%d, want main.add at %d or %d", frames[0].Name, frames[0].Line, addLine-1, addLine)
	}
	c.Call(t, "stepOut", map[string]any{"threadId": st.ThreadID})
	st = c.Stopped(t)
	frames = c.StackTrace(t, st.ThreadID)
	if frames[0].Name != "main.compute" {
		t.Fatalf("stepOut went to %s, want main.compute", frames[0].Name)
	}
	c.Call(t, "disconnect", map[string]any{"terminateDebuggee": true})
	if !a.exited(20 * time.Second) {
		t.Fatal("lockscope dap did not exit after disconnect")
	}
}

func TestGoroutinesAsThreadsAndPause(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	launchBasic(t, c, nil)
	setBreakpoints(t, c, basicMain(), map[string]any{"line": testutil.MarkerLine(t, basicMain(), "main-compute")})
	c.Call(t, "configurationDone", nil)
	c.Stopped(t)
	var b struct {
		Threads []struct {
			ID   int    `json:"id"`
			Name string `json:"name"`
		} `json:"threads"`
	}
	c.Call(t, "threads", nil).Decode(t, &b)
	workers := 0
	for _, th := range b.Threads {
		if strings.Contains(th.Name, "main.worker") {
			workers++
		}
	}
	if workers < 8 {
		t.Fatalf("threads list %d main.worker goroutines, want 10 (at least 8): %v", workers, b.Threads)
	}
	c.Call(t, "disconnect", nil)
}

func TestPause(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	launchBasic(t, c, map[string]any{"args": []string{"-wait", "60s"}})
	c.Call(t, "configurationDone", nil)
	// Pause a program that is running: it has printed its result and
	// sleeps for -wait.
	c.WaitFor(t, "the program's result", c.Timeout, func(m daptest.Message) bool {
		return m.Event == "output" && strings.Contains(string(m.Body), "lockscope 7 10")
	})
	c.Call(t, "pause", map[string]any{"threadId": 1})
	st := c.Stopped(t)
	if st.Reason != "pause" {
		t.Fatalf("stopped for %q, want pause", st.Reason)
	}
	c.Call(t, "disconnect", nil)
}

func TestConcurrentMapWritesIsAnExceptionStop(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	launch(t, c, map[string]any{"mode": "debug", "program": testdataDir("crashmap"), "lockscope": map[string]any{"capture": "off"}})
	c.Call(t, "configurationDone", nil)
	st := c.Stopped(t)
	if st.Reason != "exception" {
		t.Fatalf("stopped for %q, want exception", st.Reason)
	}
	var info struct {
		Description string `json:"description"`
		ExceptionID string `json:"exceptionId"`
	}
	c.Call(t, "exceptionInfo", map[string]any{"threadId": st.ThreadID}).Decode(t, &info)
	if !strings.Contains(info.Description, "concurrent map writes") && !strings.Contains(st.Text, "concurrent map writes") {
		t.Fatalf("exception %q / %q does not name concurrent map writes", info.Description, st.Text)
	}
	c.Call(t, "disconnect", nil)
}

func TestUnknownLockscopeCommandThenMore(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	initialize(t, c)
	m := c.CallErr(t, "lockscope/nonsense", map[string]any{})
	if m.ErrorID() != dapx.ErrUnknownCommand {
		t.Fatalf("error id %d, want %d: %s", m.ErrorID(), dapx.ErrUnknownCommand, m.Raw)
	}
	// The session goes on: a lockscope request and a Delve request work.
	// The report is read raw here: empty lists must be [] on the wire, which
	// a decoded report cannot tell from null.
	var rep map[string]json.RawMessage
	c.Call(t, dapx.CommandReport, nil).Decode(t, &rep)
	for _, k := range []string{"hotspots", "chains", "mapWrites", "breakpoints", "races", "sources"} {
		if string(rep[k]) != "[]" {
			t.Errorf("empty report field %s = %s, want []", k, rep[k])
		}
	}
	launchBasic(t, c, nil)
	c.Call(t, "configurationDone", nil)
	c.Event(t, "terminated")
	c.Call(t, "disconnect", nil)
}

func TestMalformedMessages(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	// A frame whose body is not JSON.
	c.SendRaw(a.stdin, []byte("Content-Length: 5\r\n\r\n{bad}"))
	m := c.WaitFor(t, "an error for a bad body", 10*time.Second, func(m daptest.Message) bool { return m.Type == "response" && !m.Success })
	if m.ErrorID() != dapx.ErrMalformedMessage {
		t.Fatalf("error id %d, want %d", m.ErrorID(), dapx.ErrMalformedMessage)
	}
	// A Content-Length that is not a number. (A header DAP does not define
	// ends the session instead: see TestStdioClosesOnNonDAPHeader.)
	c.SendRaw(a.stdin, []byte("Content-Length: twelve\r\n\r\n"))
	c.WaitFor(t, "an error for a bad header", 10*time.Second, func(m daptest.Message) bool { return m.Type == "response" && !m.Success })
	// JSON that is not a DAP message.
	c.SendBody([]byte(`{"seq":3,"type":"nonsense"}`))
	c.WaitFor(t, "an error for a bad type", 10*time.Second, func(m daptest.Message) bool { return m.Type == "response" && !m.Success })
	// The session is intact.
	initialize(t, c)
	c.ExpectReportResponse(t, c.ReportRequest())
	c.Call(t, "disconnect", nil)
	if !a.exited(20 * time.Second) {
		t.Fatal("lockscope dap did not exit after disconnect")
	}
}
