package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/daptest"
	"github.com/lockscope/lockscope/internal/testutil"
)

// stopAt launches with args, sets one breakpoint at file:line, and checks
// that the program stops there.
func stopAt(t *testing.T, c *daptest.Client, args map[string]any, file string, line int, during ...func()) {
	t.Helper()
	launch(t, c, args)
	setBreakpoints(t, c, file, map[string]any{"line": line})
	c.Call(t, "configurationDone", nil)
	st := c.Stopped(t)
	frames := c.StackTrace(t, st.ThreadID)
	if frames[0].Line != line || filepath.Base(frames[0].Source.Path) != filepath.Base(file) {
		t.Fatalf("stopped at %s:%d, want %s:%d", frames[0].Source.Path, frames[0].Line, file, line)
	}
	for _, f := range during {
		f()
	}
	c.Call(t, "disconnect", nil)
}

func TestTestMode(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	file := filepath.Join(testdataDir("basic"), "basic_test.go")
	stopAt(t, a.c, map[string]any{"mode": "test", "program": testdataDir("basic"), "args": []string{"-test.run", "TestCompute"},
		"lockscope": map[string]any{"capture": "off"}}, file, testutil.MarkerLine(t, file, "test-compute"))
}

func TestExecMode(t *testing.T) {
	t.Parallel()
	bin := buildProgram(t, "basic")
	a := startAdapter(t)
	stopAt(t, a.c, map[string]any{"mode": "exec", "program": bin}, basicMain(), testutil.MarkerLine(t, basicMain(), "add-body"))
}

// A program in another module must build: Delve alone builds from its own
// working directory and fails with "outside main module".
func TestProgramInAnotherModule(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	file := filepath.Join(testdataDir("othermod"), "main.go")
	stopAt(t, a.c, map[string]any{"mode": "debug", "program": testdataDir("othermod"), "lockscope": map[string]any{"capture": "off"}},
		file, testutil.MarkerLine(t, file, "othermod-greet"))
}

func TestExternalDlvFlag(t *testing.T) {
	t.Parallel()
	dlv := builtDlv(t)
	a := startAdapter(t, "--dlv", dlv)
	stopAt(t, a.c, map[string]any{"mode": "debug", "program": testdataDir("basic"), "lockscope": map[string]any{"capture": "off"}},
		basicMain(), testutil.MarkerLine(t, basicMain(), "add-body"), func() { requireChildExe(t, a, dlv) })
	if !a.exited(20 * time.Second) {
		t.Fatal("lockscope dap did not exit after disconnect")
	}
}

func TestExternalDlvLaunchAttribute(t *testing.T) {
	t.Parallel()
	// A private copy, so that a dlv left behind is ours and not another
	// test package's.
	dlv := filepath.Join(t.TempDir(), "dlv")
	data, err := os.ReadFile(builtDlv(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dlv, data, 0o755); err != nil {
		t.Fatal(err)
	}
	a := startAdapter(t)
	file := filepath.Join(testdataDir("othermod"), "main.go")
	stopAt(t, a.c, map[string]any{"mode": "debug", "program": testdataDir("othermod"), "dlvPath": dlv, "lockscope": map[string]any{"capture": "off"}},
		file, testutil.MarkerLine(t, file, "othermod-greet"), func() { requireChildExe(t, a, dlv) })
	if !a.exited(20 * time.Second) {
		t.Fatal("lockscope dap did not exit after disconnect")
	}
	// The external dlv is gone too.
	exes, _ := filepath.Glob("/proc/[0-9]*/exe")
	for _, e := range exes {
		if p, err := os.Readlink(e); err == nil && p == dlv {
			t.Fatalf("external dlv still running: %s", e)
		}
	}
}

func TestListenServesOneClient(t *testing.T) {
	t.Parallel()
	addr, cmd := listenAdapter(t, "--listen", "127.0.0.1:0")
	conn := dial(t, addr)
	c := daptest.New(conn, conn)
	stopAt(t, c, map[string]any{"mode": "debug", "program": testdataDir("basic"), "lockscope": map[string]any{"capture": "off"}},
		basicMain(), testutil.MarkerLine(t, basicMain(), "add-body"))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("lockscope dap --listen did not exit after its one client disconnected")
	}
}

func TestListenRefusesNonLoopback(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(lockscopeBin, "dap", "--listen", "0.0.0.0:0").CombinedOutput()
	if err == nil {
		t.Fatal("lockscope dap --listen 0.0.0.0:0 succeeded, want a refusal")
	}
	if !strings.Contains(string(out), "--allow-non-loopback") {
		t.Fatalf("refusal does not say how to override: %s", out)
	}
	// With the flag it listens, and warns.
	cmd := exec.Command(lockscopeBin, "dap", "--listen", "0.0.0.0:0", "--allow-non-loopback")
	stderr, _ := cmd.StderrPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Read stderr as it comes, until the warning or its end.
	warned := make(chan string, 1)
	go func() {
		var seen strings.Builder
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			seen.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "WARNING") {
				break
			}
		}
		warned <- seen.String()
		_, _ = io.Copy(io.Discard, stderr)
	}()
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	buf := make([]byte, 200)
	n, _ := stdout.Read(buf)
	if !strings.Contains(string(buf[:n]), "DAP server listening at:") {
		t.Fatalf("no listening line: %q", buf[:n])
	}
	select {
	case seen := <-warned:
		if !strings.Contains(seen, "WARNING") {
			t.Fatalf("no warning on stderr: %q", seen)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no warning on stderr after 10s")
	}
}

// requireChildExe checks that the adapter runs exe as a child: the external
// dlv really is the one debugging.
func requireChildExe(t *testing.T, a *adapter, exe string) {
	t.Helper()
	for _, pid := range descendants(a.cmd.Process.Pid) {
		if p, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && p == exe {
			return
		}
	}
	t.Fatalf("no child process runs %s", exe)
}

// vscode-go's mode "auto" works: a _test.go program runs the tests.
func TestAutoMode(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	file := filepath.Join(testdataDir("basic"), "basic_test.go")
	stopAt(t, a.c, map[string]any{"mode": "auto", "program": file, "args": []string{"-test.run", "TestCompute"},
		"lockscope": map[string]any{"capture": "off"}}, file, testutil.MarkerLine(t, file, "test-compute"))
}

// A program that does not build: the compiler's message reaches the Debug
// Console, the launch fails, and the session still answers.
func TestBuildFailure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/broken\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { undefinedThing() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startAdapter(t)
	c := a.c
	initialize(t, c)
	seq := c.Send("launch", map[string]any{"request": "launch", "mode": "debug", "program": dir})
	resp := c.WaitFor(t, "the launch response", buildTimeout, func(m daptest.Message) bool {
		return m.Type == "response" && m.RequestSeq == seq
	})
	if resp.Success {
		t.Fatalf("a program that does not build launched: %s", resp.Raw)
	}
	if !strings.Contains(resp.Message, "Failed to launch") {
		t.Errorf("launch error %q", resp.Message)
	}
	c.WaitFor(t, "the compiler's message", 10*time.Second, func(m daptest.Message) bool {
		return m.Event == "output" && strings.Contains(string(m.Body), "undefined: undefinedThing")
	})
	c.ExpectReportResponse(t, c.ReportRequest())
	c.Call(t, "disconnect", nil)
	if !a.exited(20 * time.Second) {
		t.Fatal("lockscope dap did not exit")
	}
}
