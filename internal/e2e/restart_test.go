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

// VS Code's restart (Ctrl+Shift+F5) sends the launch configuration again.
// restart restarts the session with cfg as VS Code does: the restart
// request, then, after initialized, the client's breakpoints again
// (setBreakpoints) and configurationDone; it fails the test unless the
// restart succeeds.
func restart(t *testing.T, c *daptest.Client, cfg map[string]any, setBreakpoints func()) {
	t.Helper()
	seq := c.Send("restart", map[string]any{"arguments": cfg})
	c.Event(t, "initialized")
	setBreakpoints()
	c.Call(t, "configurationDone", nil)
	if resp := c.WaitFor(t, "the restart response", buildTimeout, func(m daptest.Message) bool {
		return m.Type == "response" && m.RequestSeq == seq
	}); !resp.Success {
		t.Fatalf("restart failed: %s", resp.Raw)
	}
}

// The restarted program's output still reaches the Debug Console, its
// profiles still reach the report, and the breakpoints the client sets
// again still stop it.
func TestRestartKeepsOutputAndReport(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	ledger := filepath.Join(testdataDir("ledger"), "main.go")
	cfg := map[string]any{"request": "launch", "type": "lockscope", "name": "ledger", "mode": "debug",
		"program": testdataDir("ledger"), "args": []string{"-d", "0"}, "lockscope": map[string]any{"refreshSeconds": 0.5}}
	launch(t, c, cfg)
	c.Call(t, "configurationDone", nil)
	reportEvent(t, c, 60*time.Second, "the hot lock", func(r *contention.Report) bool { return topOfKind(r, contention.KindMutex) != nil })

	// The same configuration with new program arguments, as VS Code sends
	// it after an edit of launch.json: the program now ends after a second
	// and prints.
	cfg["args"] = []string{"-d", "1s"}
	mark := c.Mark()
	restart(t, c, cfg, func() { setBreakpoints(t, c, ledger) })
	// The client must learn that the new run is running: VS Code kept
	// showing the old run as paused without it.
	c.WaitFor(t, "a continued event for the restarted run", 60*time.Second, func(m daptest.Message) bool {
		return m.N >= mark && m.Event == "continued" && strings.Contains(string(m.Body), `"allThreadsContinued":true`)
	})
	c.WaitFor(t, "the restarted program's output", 60*time.Second, func(m daptest.Message) bool {
		return m.Event == "output" && strings.Contains(string(m.Body), "accounts: 3")
	})
	c.ExpectReportEventWhere(t, "the hot lock after the restart", mark, 60*time.Second, func(r *contention.Report) bool {
		top := topOfKind(r, contention.KindMutex)
		return top != nil && top.Function == "main.deposit"
	})
	c.Event(t, "terminated")
	c.Call(t, "disconnect", nil)
	if !a.exited(20 * time.Second) {
		t.Fatal("lockscope dap did not exit")
	}
}

// After a crash that beat a second-writer breakpoint, the session restarts
// the program; the restarted program's output still reaches the client.
func TestCrashRestartKeepsOutput(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	file := filepath.Join(testdataDir("crashonce"), "main.go")
	marker := filepath.Join(t.TempDir(), "ran")
	launch(t, c, map[string]any{"mode": "debug", "program": testdataDir("crashonce"), "args": []string{"-marker", marker}})
	setBreakpoints(t, c, file, map[string]any{"line": testutil.MarkerLine(t, file, "crashonce-spare"),
		"condition": `(*(**"internal/runtime/maps.Map")(uintptr(&hits))).writing != 0`})
	c.Call(t, "configurationDone", nil)
	c.WaitFor(t, "the console saying the program restarts", 60*time.Second, func(m daptest.Message) bool {
		return m.Event == "output" && strings.Contains(string(m.Body), "restarting the program")
	})
	c.WaitFor(t, "the restarted program's output", 60*time.Second, func(m daptest.Message) bool {
		return m.Event == "output" && strings.Contains(string(m.Body), "second run")
	})
	c.Event(t, "terminated")
	for _, m := range c.Messages() {
		if m.Event == "stopped" {
			t.Errorf("the client saw a stop of the crashed run: %s", m.Raw)
		}
	}
	c.Call(t, "disconnect", nil)
	if !a.exited(20 * time.Second) {
		t.Fatal("lockscope dap did not exit")
	}
}
