package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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
