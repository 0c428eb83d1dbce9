package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
)

// agentThreads stops ledger at its hot write in a session with capture on,
// and returns the threads that run the capture agent's code, the
// debuggee's pid and the report before the stop.
func agentThreads(t *testing.T, lockscope map[string]any) (agent []string, pid int, rep *contention.Report) {
	t.Helper()
	a := startAdapter(t)
	c := a.c
	ledger := filepath.Join(testdataDir("ledger"), "main.go")
	lockscope["refreshSeconds"] = 0.5
	launch(t, c, map[string]any{"mode": "debug", "program": testdataDir("ledger"), "args": []string{"-d", "0"}, "lockscope": lockscope})
	c.Call(t, "configurationDone", nil)
	pid = processPid(t, c)
	// The agent runs: its profiles have reached the report.
	rep = reportEvent(t, c, 60*time.Second, "the hot lock", func(r *contention.Report) bool { return topOfKind(r, contention.KindMutex) != nil })
	if _, traced := lockscope["traceSeconds"]; traced {
		// The trace window is taken at the first refresh; the refresh after
		// it has the window's own waits in its block profile.
		reportEvent(t, c, 60*time.Second, "the trace", func(r *contention.Report) bool {
			for _, src := range r.Sources {
				if src.Kind == "trace" {
					return true
				}
			}
			return false
		})
		rep = reportEvent(t, c, 60*time.Second, "a refresh after the trace", func(r *contention.Report) bool { return true })
	}
	setBreakpoints(t, c, ledger, map[string]any{"line": testutil.MarkerLine(t, ledger, "hot-write")})
	if st := c.Stopped(t); st.Reason != "breakpoint" {
		t.Fatalf("stopped for %q, want the breakpoint", st.Reason)
	}
	var b struct {
		Threads []struct {
			ID   int    `json:"id"`
			Name string `json:"name"`
		} `json:"threads"`
	}
	c.Call(t, "threads", nil).Decode(t, &b)
	if len(b.Threads) < 9 {
		t.Fatalf("only %d threads: %+v", len(b.Threads), b.Threads)
	}
	agent = agentGoroutines(t, c)
	t.Cleanup(func() { c.Call(t, "disconnect", nil) })
	return agent, pid, rep
}

// runtimeTraceFrame reports whether a frame is one of the goroutines the
// runtime starts while a trace runs (the flight recorder is on by
// default): they are there because lockscope traces, so they count as the
// agent's.
func runtimeTraceFrame(fn string) bool {
	return strings.HasPrefix(fn, "runtime.traceStartReadCPU") || strings.HasPrefix(fn, "runtime.(*traceAdvancerState)")
}

// The capture agent is invisible: stopped at a breakpoint, none of the
// threads the client gets runs the agent's code, and the program holds no
// socket (the agent talks through a pipe in lockscope's private folder, so
// there is no port for an editor to forward).
func TestAgentIsInvisible(t *testing.T) {
	t.Parallel()
	agent, pid, rep := agentThreads(t, map[string]any{"traceSeconds": 0.5})
	if len(agent) > 0 {
		t.Errorf("the client sees the agent's goroutines: %v", agent)
	}
	// Its own waits (a trace window's goroutines block on a timer and a
	// channel, and the block profile records them) never reach the report.
	for _, h := range append(rep.Hotspots, rep.RuntimeInternal...) {
		for _, st := range h.Stacks {
			for _, f := range st {
				if strings.Contains(f.Function, "lockscopeAgent") || filepath.Base(f.File) == "zz_lockscope_agent.go" {
					t.Errorf("the report shows the agent's own wait: %s %s:%d", h.Kind, h.File, h.Line)
				}
			}
		}
	}
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	if len(fds) == 0 {
		t.Fatalf("no open files listed for the debuggee %d", pid)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		if target, err := os.Readlink(fd); err == nil && strings.HasPrefix(target, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
			t.Errorf("the debuggee holds a socket: %s -> %s", fd, target)
		}
	}
	for _, table := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue // no IPv6 here
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 9 && f[3] == "0A" && inodes[f[9]] { // 0A: LISTEN
				t.Errorf("the debuggee listens on %s %s", table, f[1])
			}
		}
	}
}

// showAgentGoroutines brings them back, for whoever debugs lockscope: this
// also shows that the test above would see them.
func TestShowAgentGoroutines(t *testing.T) {
	t.Parallel()
	agent, _, _ := agentThreads(t, map[string]any{"showAgentGoroutines": true})
	if len(agent) < 3 {
		t.Errorf("with showAgentGoroutines the client sees %v; want the agent's goroutines", agent)
	}
}

// A lockscope attribute of the wrong type fails the launch with 7021, as
// the others do.
func TestShowAgentGoroutinesIsValidated(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	initialize(t, c)
	resp := c.CallErr(t, "launch", map[string]any{"request": "launch", "mode": "debug", "program": testdataDir("ledger"),
		"lockscope": map[string]any{"showAgentGoroutines": "yes"}})
	if resp.ErrorID() != 7021 || !strings.Contains(string(resp.Raw), "showAgentGoroutines") {
		t.Errorf("launch answered %s, want error 7021 naming the attribute", resp.Raw)
	}
	c.Call(t, "disconnect", nil)
}
