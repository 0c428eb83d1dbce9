package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/daptest"
	"github.com/lockscope/lockscope/internal/dapx"
)

// Delve builds __debug_bin* into the build folder by default, the user's
// tree, where a killed adapter left it (the README promises the tree is
// never written to). lockscope builds into the session's own folder under
// $TMPDIR unless the launch sets "output".
func TestBuildOutputStaysOutOfTheTree(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	launchBasic(t, c, map[string]any{"stopOnEntry": true})
	c.Call(t, "configurationDone", nil)
	pid := processPid(t, c)
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(exe, a.tmp+string(filepath.Separator)) {
		t.Errorf("the debuggee runs from %s, want a file under the session's TMPDIR %s", exe, a.tmp)
	}
	if left, _ := filepath.Glob(filepath.Join(testdataDir("basic"), "__debug_bin*")); len(left) > 0 {
		t.Errorf("the build wrote into the source tree: %v", left)
	}
	c.Call(t, "disconnect", map[string]any{"terminateDebuggee": true})
	if !a.exited(30 * time.Second) {
		t.Fatal("the adapter did not exit after disconnect")
	}
}

// A second launch in one session is refused before lockscope prepares an
// agent for it; before, Delve refused it after the agent folder was made,
// and each attempt left one behind.
func TestSecondLaunchLeavesNoFolder(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	launch(t, c, map[string]any{"mode": "debug", "program": testdataDir("basic")})
	agents := func() []string {
		top, _ := filepath.Glob(filepath.Join(a.tmp, "lockscope-agent-*"))
		inSession, _ := filepath.Glob(filepath.Join(a.tmp, "lockscope-session-*", "lockscope-agent-*"))
		return append(top, inSession...)
	}
	if n := len(agents()); n != 1 {
		t.Fatalf("%d agent folders after one launch, want 1", n)
	}
	for range 2 {
		resp := c.CallErr(t, "launch", map[string]any{"mode": "debug", "program": testdataDir("basic")})
		if resp.ErrorID() != dapx.ErrBadArguments {
			t.Errorf("second launch answered %s, want error %d", resp.Raw, dapx.ErrBadArguments)
		}
	}
	if got := agents(); len(got) != 1 {
		t.Errorf("agent folders after refused launches: %v, want the first one only", got)
	}
	c.Call(t, "disconnect", map[string]any{"terminateDebuggee": true})
	if !a.exited(30 * time.Second) {
		t.Fatal("the adapter did not exit after disconnect")
	}
}

// coldIndex gives the adapters a test starts an empty lockscope cache, as
// at a first F5 in a folder: the source index is loaded, in the index
// helper (`lockscope __index`), not read from the cache. The go command's
// build cache stays where it is.
func coldIndex(t *testing.T) {
	t.Helper()
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOCACHE", strings.TrimSpace(string(gocache)))
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
}

// indexHelpers lists the index helpers running below the adapter pid.
func indexHelpers(pid int) []int {
	var out []int
	for _, d := range descendants(pid) {
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", d))
		if bytes.HasSuffix(cmd, []byte("\x00__index\x00")) {
			out = append(out, d)
		}
	}
	return out
}

// processGroup lists the live processes (zombies left out) of group pgid.
func processGroup(pgid int) []string {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []string
	for _, d := range dirs {
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // state, ppid, pgrp, …
		if len(f) < 3 || f[0] == "Z" || f[2] != strconv.Itoa(pgid) {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join(d, "cmdline"))
		out = append(out, filepath.Base(d)+" "+strings.ReplaceAll(string(cmd), "\x00", " "))
	}
	return out
}

// A first F5 loads the source index in the helper, whose go commands are
// out of the embedded Delve's reach: the program is stopped at main.main,
// the index joins the report after that stop, and the helper is gone once
// it has answered.
func TestColdIndexComesFromTheHelper(t *testing.T) {
	coldIndex(t)
	a := startAdapter(t)
	c := a.c
	launch(t, c, map[string]any{"mode": "debug", "program": testdataDir("ledger"), "args": []string{"-d", "1ms"}})
	if h := indexHelpers(a.cmd.Process.Pid); len(h) != 1 {
		t.Errorf("index helpers below the adapter after the launch: %v, want one", h)
	}
	c.Call(t, "setFunctionBreakpoints", map[string]any{"breakpoints": []map[string]any{{"name": "main.main"}}})
	c.Call(t, "configurationDone", nil)
	c.Stopped(t)
	c.WaitFor(t, "a report with the source index", 2*time.Minute, func(m daptest.Message) bool {
		return m.Event == dapx.EventReport && bytes.Contains(m.Raw, []byte(`"kind":"source"`)) && bytes.Contains(m.Raw, []byte(`"mapWrites":[{`))
	})
	deadline := time.Now().Add(30 * time.Second)
	for len(indexHelpers(a.cmd.Process.Pid)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if h := indexHelpers(a.cmd.Process.Pid); len(h) > 0 {
		t.Errorf("index helpers still running after the index came: %v", h)
	}
	c.Call(t, "disconnect", map[string]any{"terminateDebuggee": true})
	if !a.exited(30 * time.Second) {
		t.Fatal("the adapter did not exit after disconnect")
	}
}

// However a session ends while the index helper's go command still runs
// (a disconnect, the client gone, the adapter SIGKILLed), nothing of the
// helper's process group is left: not the helper, not its go command.
func TestIndexHelperLeavesNothing(t *testing.T) {
	for _, end := range []string{endDisconnect, endEOF, endSIGKILL} {
		t.Run(end, func(t *testing.T) {
			coldIndex(t)
			// The index's own `go list -deps` marks that it runs, then
			// sleeps in its place; every other go command (Delve's build
			// too) is the real one.
			real, err := exec.LookPath("go")
			if err != nil {
				t.Fatal(err)
			}
			bin, marker := t.TempDir(), filepath.Join(t.TempDir(), "listing")
			script := fmt.Sprintf("#!/bin/sh\ncase \"$*\" in *-deps*) echo $$ > '%s'; exec sleep 600;; esac\nexec '%s' \"$@\"\n", marker, real)
			if err := os.WriteFile(filepath.Join(bin, "go"), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

			a := startAdapter(t)
			launch(t, a.c, map[string]any{"mode": "debug", "program": testdataDir("ledger"), "args": []string{"-d", "1ms"}})
			deadline := time.Now().Add(time.Minute)
			for time.Now().Before(deadline) {
				if _, err := os.Stat(marker); err == nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			helpers := indexHelpers(a.cmd.Process.Pid)
			if len(helpers) != 1 {
				t.Fatalf("index helpers below the adapter: %v, want one", helpers)
			}
			group := helpers[0] // it leads its process group
			if m := processGroup(group); len(m) < 2 {
				t.Fatalf("the helper's process group: %v, want the helper and its go command", m)
			}
			switch end {
			case endDisconnect:
				a.c.Call(t, "disconnect", map[string]any{"terminateDebuggee": true})
			case endEOF:
				_ = a.stdin.Close()
			case endSIGKILL:
				if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				// A killed session cannot remove its folder (the next one
				// sweeps it).
				t.Cleanup(func() {
					left, _ := filepath.Glob(filepath.Join(a.tmp, "lockscope-*"))
					for _, d := range left {
						os.RemoveAll(d)
					}
				})
			}
			if !a.exited(30 * time.Second) {
				t.Fatalf("lockscope dap did not exit after %s", end)
			}
			deadline = time.Now().Add(30 * time.Second)
			for len(processGroup(group)) > 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if m := processGroup(group); len(m) > 0 {
				t.Errorf("left running after %s: %v", end, m)
			}
		})
	}
}
