package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/daptest"
	"github.com/lockscope/lockscope/internal/testutil"
)

var (
	moduleRoot   string
	lockscopeBin string
	binDir       string
)

// buildTimeout bounds a launch, which includes Delve's go build.
const buildTimeout = 10 * time.Minute

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	wd, _ := os.Getwd()
	moduleRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	var err error
	binDir, err = os.MkdirTemp("", "lockscope-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(binDir)
	lockscopeBin = filepath.Join(binDir, "lockscope")
	buildArgs := []string{"build", "-o", lockscopeBin}
	if raceEnabled {
		buildArgs = append(buildArgs, "-race")
	}
	cmd := exec.Command("go", append(buildArgs, "./adapter")...)
	cmd.Dir = moduleRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building lockscope: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// testdataDir returns the absolute path of testdata/<name>.
func testdataDir(name string) string { return filepath.Join(moduleRoot, "testdata", name) }

// builtDlv builds dlv from the pinned module once per machine.
func builtDlv(t testing.TB) string { return testutil.Dlv(t) }

// buildProgram builds a testdata program with debugging flags.
func buildProgram(t testing.TB, name string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-gcflags=all=-N -l", "-o", out, "./testdata/"+name)
	cmd.Dir = moduleRoot
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", name, err, b)
	}
	return out
}

// adapter is a running `lockscope dap` process.
type adapter struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	c      *daptest.Client
	stderr *syncBuffer
	done   chan struct{}
	tmp    string // the adapter's private TMPDIR
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startAdapter runs `lockscope dap` on stdio with extra flags.
func startAdapter(t testing.TB, flags ...string) *adapter {
	t.Helper()
	cmd := exec.Command(lockscopeBin, append([]string{"dap"}, flags...)...)
	cmd.Dir = moduleRoot
	// A private TMPDIR shows whether the session left its agent files.
	tmp := t.TempDir()
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	a := &adapter{cmd: cmd, stdin: stdin, stderr: &syncBuffer{}, done: make(chan struct{}), tmp: tmp}
	cmd.Stderr = a.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(a.done) }()
	a.c = daptest.New(stdout, stdin)
	t.Cleanup(func() {
		select {
		case <-a.done:
		default:
			_ = stdin.Close()
			select {
			case <-a.done:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-a.done
				t.Errorf("lockscope dap did not exit after its client went away\nstderr:\n%s", a.stderr.String())
			}
		}
		if left, _ := filepath.Glob(filepath.Join(tmp, "lockscope-*")); len(left) > 0 {
			t.Errorf("the session left files behind: %v", left)
		}
		if t.Failed() {
			t.Logf("lockscope stderr:\n%s", a.stderr.String())
		}
	})
	return a
}

// exited waits for the adapter process to exit.
func (a *adapter) exited(timeout time.Duration) bool {
	select {
	case <-a.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// initialize sends initialize as VS Code does.
func initialize(t testing.TB, c *daptest.Client) {
	t.Helper()
	c.Call(t, "initialize", map[string]any{
		"clientID": "vscode", "adapterID": "lockscope", "linesStartAt1": true, "columnsStartAt1": true,
		"pathFormat": "path", "supportsVariableType": true, "supportsRunInTerminalRequest": false,
		"supportsProgressReporting": true, "supportsInvalidatedEvent": true,
	})
}

// launch initializes and launches, and waits for the initialized event.
func launch(t testing.TB, c *daptest.Client, args map[string]any) {
	t.Helper()
	initialize(t, c)
	if _, ok := args["request"]; !ok {
		args["request"] = "launch"
	}
	seq := c.Send("launch", args)
	// Delve builds the program before it answers: with a cold build cache
	// (a new machine), -gcflags=all=-N -l rebuilds the standard library.
	resp := c.WaitFor(t, "the launch response", buildTimeout, func(m daptest.Message) bool {
		return m.Type == "response" && m.RequestSeq == seq
	})
	if !resp.Success {
		t.Fatalf("launch failed: %s\n%s", resp.Message, resp.Raw)
	}
	c.Event(t, "initialized")
}

// setBreakpoints sets source breakpoints as VS Code does: all of a file at once.
func setBreakpoints(t testing.TB, c *daptest.Client, file string, bps ...map[string]any) []map[string]any {
	t.Helper()
	var b struct {
		Breakpoints []map[string]any `json:"breakpoints"`
	}
	c.Call(t, "setBreakpoints", map[string]any{"source": map[string]any{"path": file}, "breakpoints": bps}).Decode(t, &b)
	for i, bp := range b.Breakpoints {
		if v, _ := bp["verified"].(bool); !v {
			t.Fatalf("breakpoint %d not verified: %v", i, bp)
		}
	}
	return b.Breakpoints
}

// processPid waits for Delve's process event and returns the debuggee's pid.
func processPid(t testing.TB, c *daptest.Client) int {
	t.Helper()
	var b struct {
		SystemProcessID int `json:"systemProcessId"`
	}
	c.Event(t, "process").Decode(t, &b)
	if b.SystemProcessID <= 0 {
		t.Fatalf("process event without a pid")
	}
	return b.SystemProcessID
}

func alive(pid int) bool {
	if err := kill(pid, 0); err != nil {
		return false
	}
	// A zombie is not alive.
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// descendants lists the pids of every process below pid.
func descendants(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		data, _ := os.ReadFile(f)
		for _, w := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(w); err == nil {
				out = append(out, n)
				out = append(out, descendants(n)...)
			}
		}
	}
	return out
}

func waitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// listenAdapter runs `lockscope dap --listen` and returns its address.
func listenAdapter(t testing.TB, flags ...string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(lockscopeBin, append([]string{"dap"}, flags...)...)
	cmd.Dir = moduleRoot
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the listen address: %v", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "DAP server listening at: ")
	if !ok {
		t.Fatalf("unexpected first line %q", line)
	}
	return addr, cmd
}

func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
