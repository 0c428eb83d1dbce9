package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/daptest"
	"github.com/lockscope/lockscope/internal/testutil"
)

// oldGoNote is how the note on a toolchain too old for the agent starts
// (Debian's go1.19 prints its patch release after it).
const oldGoNote = "capture needs Go 1.24 or later; this program builds with go" + testutil.DebianGoVersion + "."

// F5, capture on, on a program whose launch env puts an older Go first on
// PATH (Debian's go1.19), as a user of an old toolchain has it. The agent
// needs go1.24, and go1.19's linker rejects the agent's -checklinkname=0,
// so before the version gate this launch failed to build. Now lockscope
// leaves the agent out: the program is built by go1.19 and debugged as by
// plain Delve (the embedded Delve checks no Go version; a dlv of its own
// refuses Go older than 1.25 unless --check-go-version=false), and the
// report and the Debug Console, once a launch, say why there are no
// profiles.
func TestOldToolchainDebugs(t *testing.T) {
	t.Parallel()
	env, dir, file, line := oldmod(t)
	a := startAdapter(t)
	c := a.c
	// vscode-go's dlvFlags are for an external dlv: the embedded Delve
	// already checks no Go version, and says which flags it does not take.
	cfg := map[string]any{"request": "launch", "type": "lockscope", "name": "oldmod", "mode": "debug", "program": dir, "env": env,
		"dlvFlags": []string{"--check-go-version=false", "--log-output", "dap"}}
	launch(t, c, cfg)
	setBreakpoints(t, c, file, map[string]any{"line": line})
	c.Call(t, "configurationDone", nil)
	st := stoppedAt(t, c, line)
	if got := consoleLines(c, `lockscope: dlvFlags ["--log-output dap"] are for an external dlv (dlvPath); the Delve embedded in lockscope does not take them`); got != 1 {
		t.Errorf("the Debug Console said %d times that the embedded Delve ignores --log-output, want once", got)
	}
	// The program is go1.19's, not the go on the test's own PATH.
	frames := c.StackTrace(t, st.ThreadID)
	if v := c.Evaluate(t, frames[0].ID, "runtime.buildVersion"); !strings.HasPrefix(v, `"go`+testutil.DebianGoVersion+".") {
		t.Errorf("runtime.buildVersion = %s, want go%s", v, testutil.DebianGoVersion)
	}
	checkOldGoNote(t, c, ": profiles and traces are off; debugging works")
	// The agent is not there to be asked.
	if e := c.CallErr(t, "lockscope/capture", map[string]any{"seconds": 1}); !strings.Contains(string(e.Raw), "without lockscope's agent") {
		t.Errorf("lockscope/capture without the agent: %s", e.Raw)
	}
	if got := consoleLines(c, oldGoNote); got != 1 {
		t.Errorf("the Debug Console got the old-toolchain note %d times, want once", got)
	}

	// A restart is a new launch: the console says it again, and the
	// report, which keeps its notes, still has it once.
	restart(t, c, cfg, func() { setBreakpoints(t, c, file, map[string]any{"line": line}) })
	st = stoppedAt(t, c, line)
	checkOldGoNote(t, c, ": profiles and traces are off; debugging works")
	if got := consoleLines(c, oldGoNote); got != 2 {
		t.Errorf("after a restart the Debug Console got the old-toolchain note %d times, want once a launch (2)", got)
	}
	// The line runs 8000 times: the program ends without the breakpoint.
	setBreakpoints(t, c, file)
	c.Call(t, "continue", map[string]any{"threadId": st.ThreadID})
	c.Event(t, "terminated")
	c.Call(t, "disconnect", nil)
	if !a.exited(20 * time.Second) {
		t.Fatal("lockscope dap did not exit after disconnect")
	}
}

// With an external dlv (dlvPath), Delve 1.27's own `dlv dap` refuses a
// program built by a Go older than 1.25: the launch fails with Delve's
// message, and lockscope's note, sent before, says that its embedded
// Delve debugs it.
func TestOldToolchainExternalDlv(t *testing.T) {
	t.Parallel()
	env := testutil.DebianGoEnv(testutil.DebianGo(t))
	a := startAdapter(t)
	c := a.c
	initialize(t, c)
	seq := c.Send("launch", map[string]any{"request": "launch", "mode": "debug", "program": testdataDir(filepath.Join("capture", "oldmod")),
		"env": env, "dlvPath": builtDlv(t)})
	resp := c.WaitFor(t, "the launch response", buildTimeout, func(m daptest.Message) bool {
		return m.Type == "response" && m.RequestSeq == seq
	})
	if resp.Success || !strings.Contains(string(resp.Raw), "too old for this version of Delve") {
		t.Errorf("launch with dlv on a go1.19 program: %s\nwant Delve's refusal", resp.Raw)
	}
	const way = ": profiles and traces are off; an external dlv refuses so old a Go unless its dlvFlags have --check-go-version=false; lockscope's embedded Delve (no dlvPath) debugs it"
	if got := consoleLines(c, oldGoNote); got != 1 || consoleLines(c, way) != 1 {
		t.Errorf("the Debug Console got the old-toolchain note %d times (%d ending %q), want once with it", got, consoleLines(c, way), way)
	}
}

// The way out the note names: vscode-go's dlvFlags reach the external dlv,
// and with --check-go-version=false it debugs the go1.19 program. Flags
// that would take the connection from lockscope are refused first, with
// the session still there for the next launch.
func TestOldToolchainExternalDlvFlags(t *testing.T) {
	t.Parallel()
	env, dir, file, line := oldmod(t)
	a := startAdapter(t)
	c := a.c
	dlv := builtDlv(t)
	initialize(t, c)
	e := c.CallErr(t, "launch", map[string]any{"request": "launch", "mode": "debug", "program": dir, "env": env,
		"dlvPath": dlv, "dlvFlags": []string{"--check-go-version=false", "--listen=127.0.0.1:4000"}})
	if !strings.Contains(string(e.Raw), "dlvFlags may not set --listen") {
		t.Errorf("launch with dlvFlags --listen: %s\nwant a refusal", e.Raw)
	}
	seq := c.Send("launch", map[string]any{"request": "launch", "mode": "debug", "program": dir, "env": env,
		"dlvPath": dlv, "dlvFlags": []string{"--check-go-version=false"}})
	resp := c.WaitFor(t, "the launch response", buildTimeout, func(m daptest.Message) bool {
		return m.Type == "response" && m.RequestSeq == seq
	})
	if !resp.Success {
		t.Fatalf("launch with dlvFlags --check-go-version=false: %s", resp.Raw)
	}
	c.Event(t, "initialized")
	setBreakpoints(t, c, file, map[string]any{"line": line})
	c.Call(t, "configurationDone", nil)
	st := stoppedAt(t, c, line)
	frames := c.StackTrace(t, st.ThreadID)
	if v := c.Evaluate(t, frames[0].ID, "runtime.buildVersion"); !strings.HasPrefix(v, `"go`+testutil.DebianGoVersion+".") {
		t.Errorf("runtime.buildVersion = %s, want go%s", v, testutil.DebianGoVersion)
	}
	c.Call(t, "disconnect", nil)
	if !a.exited(20 * time.Second) {
		t.Fatal("lockscope dap did not exit after disconnect")
	}
}

// pprofURL needs no agent: with a toolchain too old for it, a launched
// service's own net/http/pprof still feeds the report.
func TestOldToolchainPprofURL(t *testing.T) {
	t.Parallel()
	env := testutil.DebianGoEnv(testutil.DebianGo(t))
	addr := freeLoopbackAddr(t)
	a := startAdapter(t)
	c := a.c
	dir := testdataDir(filepath.Join("capture", "oldservice"))
	file := filepath.Join(dir, "main.go")
	launch(t, c, map[string]any{"mode": "debug", "program": dir, "env": env, "args": []string{"-listen", addr},
		"lockscope": map[string]any{"pprofURL": "http://" + addr, "refreshSeconds": 0.5}})
	c.Call(t, "configurationDone", nil)
	r := reportEvent(t, c, 60*time.Second, "the service's Unlock line on top, from its pprofURL", func(r *contention.Report) bool {
		m := topOfKind(r, contention.KindMutex)
		return m != nil && m.Function == "main.work"
	})
	if m := topOfKind(r, contention.KindMutex); m.File != file || m.Line != testutil.MarkerLine(t, file, "oldservice-unlock") {
		t.Errorf("top mutex hotspot at %s:%d, want the service's Unlock line", m.File, m.Line)
	}
	if n := notesWith(r, oldGoNote); len(n) != 1 || !strings.HasSuffix(n[0], ": profiles and traces come from pprofURL only; debugging works") {
		t.Errorf("report notes %q: want one %q… note that says the profiles come from pprofURL", r.Notes, oldGoNote)
	}
	c.Call(t, "disconnect", nil)
	if !a.exited(20 * time.Second) {
		t.Fatal("lockscope dap did not exit after disconnect")
	}
}

// oldmod is the launch env that puts Debian's go1.19 first on PATH, and
// testdata/capture/oldmod's folder, main.go and the line of its Unlock.
func oldmod(t *testing.T) (env map[string]string, dir, file string, line int) {
	t.Helper()
	env = testutil.DebianGoEnv(testutil.DebianGo(t))
	dir = testdataDir(filepath.Join("capture", "oldmod"))
	file = filepath.Join(dir, "main.go")
	return env, dir, file, testutil.MarkerLine(t, file, "oldmod-unlock")
}

// stoppedAt waits for a stop at the breakpoint on line.
func stoppedAt(t *testing.T, c *daptest.Client, line int) daptest.StoppedBody {
	t.Helper()
	st := c.Stopped(t)
	if st.Reason != "breakpoint" {
		t.Fatalf("stopped for %q, want breakpoint", st.Reason)
	}
	if frames := c.StackTrace(t, st.ThreadID); frames[0].Line != line || !strings.HasPrefix(frames[0].Name, "main.main") {
		t.Fatalf("top frame %s:%d, want main.main's goroutine at line %d", frames[0].Name, frames[0].Line, line)
	}
	return st
}

// checkOldGoNote asks for the report and checks that it has the
// old-toolchain note once, ending in suffix.
func checkOldGoNote(t *testing.T, c *daptest.Client, suffix string) {
	t.Helper()
	r := c.ExpectReportResponse(t, c.ReportRequest()).Body
	if n := notesWith(r, oldGoNote); len(n) != 1 || !strings.HasSuffix(n[0], suffix) {
		t.Errorf("report notes %q: want one %q… note that ends %q", r.Notes, oldGoNote, suffix)
	}
}

// notesWith returns the report's notes that start with prefix.
func notesWith(r *contention.Report, prefix string) []string {
	var out []string
	for _, n := range r.Notes {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

// consoleLines counts the output events so far whose text holds s.
func consoleLines(c *daptest.Client, s string) int {
	n := 0
	for _, m := range c.Messages() {
		if m.Type != "event" || m.Event != "output" {
			continue
		}
		var b struct{ Output string }
		if json.Unmarshal(m.Body, &b) == nil && strings.Contains(b.Output, s) {
			n++
		}
	}
	return n
}
