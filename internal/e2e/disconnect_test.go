package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/capture"
	"github.com/lockscope/lockscope/internal/daptest"
	"github.com/lockscope/lockscope/internal/testutil"
)

// How a session ends, in the disconnect matrix.
const (
	endDisconnect = "disconnect"
	endEOF        = "EOF" // the client closes the adapter's stdin
	endSIGKILL    = "SIGKILL"
)

// disconnectCase is one row of the matrix: how the program was started,
// where it is when the session ends, and how the session ends.
type disconnectCase struct {
	request string // launch (with the capture agent) or attach
	state   string // running, stopped or exited
	end     string // endDisconnect, endEOF, or a signal's name
	term    *bool  // the disconnect's terminateDebuggee; nil leaves it out
}

func (dc disconnectCase) name() string {
	n := dc.request + "/" + dc.state + "/" + dc.end
	if dc.end == endDisconnect {
		if dc.term == nil {
			n += "/unset"
		} else {
			n += "/" + strconv.FormatBool(*dc.term)
		}
	}
	return n
}

// survives is what should become of the program. A launched program dies
// with its session: Delve kills a program it started whatever the client
// says (it answers initialize with supportTerminateDebuggee false, and
// its disconnect kills when it did not attach). An attached one is left
// running unless the client said terminateDebuggee true. SIGKILL gives the
// adapter no say: the capture agent ends a launched program itself.
func (dc disconnectCase) survives() bool {
	if dc.state == "exited" || dc.request == "launch" {
		return false
	}
	return dc.term == nil || !*dc.term
}

var adapterSignals = map[string]syscall.Signal{
	"SIGTERM": syscall.SIGTERM, "SIGINT": syscall.SIGINT, "SIGHUP": syscall.SIGHUP, endSIGKILL: syscall.SIGKILL,
}

func disconnectMatrix() []disconnectCase {
	var cases []disconnectCase
	yes, no := true, false
	for _, req := range []string{"launch", "attach"} {
		for _, state := range []string{"running", "stopped", "exited"} {
			for _, term := range []*bool{nil, &yes, &no} {
				cases = append(cases, disconnectCase{request: req, state: state, end: endDisconnect, term: term})
			}
		}
		for _, end := range []string{endEOF, "SIGTERM", "SIGINT", "SIGHUP", endSIGKILL} {
			cases = append(cases, disconnectCase{request: req, state: "running", end: end})
		}
	}
	// The debuggee must not outlive a SIGKILLed adapter even when it sat
	// at a breakpoint: the kernel detaches it and it runs again.
	cases = append(cases, disconnectCase{request: "launch", state: "stopped", end: endSIGKILL})
	return cases
}

// TestDisconnectMatrix ends sessions every way a client or the system can,
// and checks the program's fate, that it is never left stopped or traced,
// and that $TMPDIR (startAdapter's cleanup) and the source tree stay clean.
func TestDisconnectMatrix(t *testing.T) {
	t.Parallel()
	bin := buildProgram(t, "basic") // for attach
	for _, dc := range disconnectMatrix() {
		t.Run(dc.name(), func(t *testing.T) {
			t.Parallel()
			runDisconnectCase(t, dc, bin)
		})
	}
	t.Cleanup(func() {
		for _, pat := range []string{"__debug_bin*", capture.AgentFileName} {
			if left, _ := filepath.Glob(filepath.Join(testdataDir("basic"), pat)); len(left) > 0 {
				t.Errorf("the source tree was written to: %v", left)
			}
		}
	})
}

func runDisconnectCase(t *testing.T, dc disconnectCase, bin string) {
	a := startAdapter(t)
	c := a.c
	wait := "120s"
	var pid int
	switch dc.request {
	case "launch":
		if dc.state == "exited" {
			wait = "0s"
		}
		launch(t, c, map[string]any{"mode": "debug", "program": testdataDir("basic"), "args": []string{"-wait", wait}})
		if dc.state == "stopped" {
			setBreakpoints(t, c, basicMain(), map[string]any{"line": testutil.MarkerLine(t, basicMain(), "compute-loop")})
		}
		c.Call(t, "configurationDone", nil)
		pid = processPid(t, c)
		switch dc.state {
		case "stopped":
			c.Stopped(t)
		case "running":
			// Past its init (the agent reads its pipe) and its output.
			c.WaitFor(t, "the program's output", time.Minute, func(m daptest.Message) bool {
				return m.Event == "output" && strings.Contains(string(m.Body), "lockscope 7 10")
			})
		}
	case "attach":
		prog := exec.Command(bin, "-wait", wait)
		if err := prog.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = prog.Process.Kill(); _ = prog.Wait() })
		pid = prog.Process.Pid
		initialize(t, c)
		c.Call(t, "attach", map[string]any{"request": "attach", "mode": "local", "processId": pid})
		c.Event(t, "initialized")
		c.Call(t, "configurationDone", nil)
		switch dc.state {
		case "stopped":
			c.Call(t, "pause", map[string]any{"threadId": 1})
			c.Stopped(t)
		case "exited":
			// Delve passes the signal on; the program dies of it.
			if err := kill(pid, syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
		}
	}
	if dc.state == "exited" {
		c.Event(t, "terminated")
	}

	switch dc.end {
	case endDisconnect:
		args := map[string]any{}
		if dc.term != nil {
			args["terminateDebuggee"] = *dc.term
		}
		c.Call(t, "disconnect", args)
	case endEOF:
		_ = a.stdin.Close()
	default:
		if err := a.cmd.Process.Signal(adapterSignals[dc.end]); err != nil {
			t.Fatal(err)
		}
	}
	if !a.exited(30 * time.Second) {
		t.Fatalf("lockscope dap did not exit after %s", dc.end)
	}
	if dc.end == endSIGKILL {
		// A killed session cannot remove its folder; the next session
		// sweeps it (session.TestSweepRemovesDeadSessionsFolders). Remove
		// it once the program, whose agent writes there, is done with it.
		t.Cleanup(func() {
			left, _ := filepath.Glob(filepath.Join(a.tmp, "lockscope-*"))
			for _, d := range left {
				os.RemoveAll(d)
			}
		})
	}

	if !dc.survives() {
		if !waitGone(pid, 30*time.Second) {
			t.Fatalf("program %d still runs after %s; want it ended\n%s", pid, dc.name(), procStatus(pid))
		}
		return
	}
	if !alive(pid) {
		t.Fatalf("program %d ended after %s; want it left running", pid, dc.name())
	}
	st := procStatus(pid)
	if !strings.Contains(st, "TracerPid:\t0\n") {
		t.Fatalf("program %d is still traced after %s:\n%s", pid, dc.name(), st)
	}
	if strings.Contains(st, "State:\tT") || strings.Contains(st, "State:\tt") {
		t.Fatalf("program %d is left stopped after %s:\n%s", pid, dc.name(), st)
	}
}

func procStatus(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	return string(b)
}
