//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

// The agent takes its commands through a named pipe (fifo_unix.go).

package capture

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/testutil"
)

// A module whose go.mod says an old Go (1.19: no min or max) builds with
// the agent, which raises its own files' language version with its build
// constraints, and the agent runs in it, flight recorder included.
func TestAgentInOldLanguageModule(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "capture", "oldmod")
	inj, bin := buildAgent(t, PrepareOptions{Program: dir, Snapshot: -1, Flight: time.Second})
	cmd := exec.Command(bin)
	cmd.Env = inj.Environ(os.Environ())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oldmod: %v\n%s", err, out)
	}
	files, exited, err := inj.Final()
	if err != nil || !exited {
		t.Fatalf("Final: exited=%v err=%v files=%v", exited, err, keys(files))
	}
	main := filepath.Join(dir, "main.go")
	if d := hotLine(t, files["mutex"], main, testutil.MarkerLine(t, main, "oldmod-unlock")); d <= 0 {
		t.Errorf("the mutex profile charges nothing to the unlock line")
	}
	if tr, err := inj.OpenFinalTrace(FinalFlight); err != nil || tr == nil {
		t.Errorf("the flight recorder's window was not saved at exit (%v)", err)
	} else {
		tr.Close()
	}
	assertTreeUntouched(t, dir)
}
