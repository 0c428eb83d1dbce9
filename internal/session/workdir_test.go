package session

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// A session killed with SIGKILL cannot remove its folder. The next session
// removes the folders whose owner is gone, and leaves a live one's alone.
func TestSweepRemovesDeadSessionsFolders(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal("running true, a process that is gone at once:", err)
	}
	mk := func(owner string) string {
		dir, err := os.MkdirTemp("", workDirPattern)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "lockscope-agent-1"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(owner), 0o600); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	gone := mk(strconv.Itoa(dead.ProcessState.Pid()) + " 1\n")
	reused := mk(strconv.Itoa(os.Getpid()) + " 1\n") // our pid, another start time
	live := mk(selfOwner())
	sweepWorkDirs(slog.New(slog.DiscardHandler))
	for _, c := range []struct {
		dir  string
		keep bool
	}{{gone, false}, {reused, false}, {live, true}} {
		_, err := os.Stat(c.dir)
		if kept := err == nil; kept != c.keep {
			t.Errorf("%s: kept %v, want %v", c.dir, kept, c.keep)
		}
	}
}
