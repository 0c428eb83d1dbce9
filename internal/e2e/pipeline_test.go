package e2e

import (
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/daptest"
	"github.com/lockscope/lockscope/internal/testutil"
)

// A client may write initialize, launch, setBreakpoints and
// configurationDone without waiting for any answer (plain dlv handles the
// same bytes). The launch is rewritten off the read loop; before the fix
// the two requests after it reached Delve first, failed, and the program
// never started. They must reach Delve in order, the answers come back in
// order, and the seq numbers the client sees go up.
func TestPipelinedLaunch(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	line := testutil.MarkerLine(t, basicMain(), "main-print")
	// Capture stays on (the default), so that the launch is rewritten with
	// an agent: the slowest rewrite, the widest window for overtaking.
	seqs := []int{
		c.Send("initialize", map[string]any{"clientID": "vscode", "adapterID": "lockscope",
			"linesStartAt1": true, "columnsStartAt1": true, "pathFormat": "path"}),
		c.Send("launch", map[string]any{"request": "launch", "mode": "debug", "program": testdataDir("basic")}),
		c.Send("setBreakpoints", map[string]any{"source": map[string]any{"path": basicMain()},
			"breakpoints": []map[string]any{{"line": line}}}),
		c.Send("configurationDone", nil),
	}
	for _, seq := range seqs {
		m := c.WaitFor(t, "a response", buildTimeout, func(m daptest.Message) bool { return m.Type == "response" && m.RequestSeq == seq })
		if !m.Success {
			t.Fatalf("%s failed: %s\n%s", m.Command, m.Message, m.Raw)
		}
	}
	st := c.Stopped(t)
	if st.Reason != "breakpoint" {
		t.Fatalf("stopped for %q, want breakpoint", st.Reason)
	}
	var order []int
	last := 0
	for _, m := range c.Messages() {
		if m.Seq <= last {
			t.Errorf("seq %d after %d: the client's seq space must go up", m.Seq, last)
		}
		last = m.Seq
		if m.Type == "response" {
			order = append(order, m.RequestSeq)
		}
	}
	for i, seq := range seqs {
		if i >= len(order) || order[i] != seq {
			t.Fatalf("responses came in the order %v, want %v first", order, seqs)
		}
	}
	c.Call(t, "disconnect", map[string]any{"terminateDebuggee": true})
	if !a.exited(30 * time.Second) {
		t.Fatal("the adapter did not exit after disconnect")
	}
}
