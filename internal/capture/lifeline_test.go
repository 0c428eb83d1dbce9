package capture

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/testutil"
)

// startLifeline runs testdata/basic (sleeping wait at the end) with an
// agent on a lifeline, and returns once the agent reads its pipe.
func startLifeline(t *testing.T, wait string) (*Injection, *exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "basic")
	inj, bin := buildAgent(t, PrepareOptions{Program: dir, Snapshot: -1, Lifeline: true})
	cmd := exec.Command(bin, "-wait", wait)
	cmd.Env = inj.Environ(os.Environ())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	if _, err := inj.Connect(ctxTimeout(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	return inj, cmd, &stdout, &stderr
}

// When lockscope's write end closes without a detach (lockscope was
// killed), the program ends itself with status 1 and says why. It would
// otherwise sleep for a minute and exit 0.
func TestAgentLifelineEndsOrphanedProgram(t *testing.T) {
	inj, cmd, stdout, stderr := startLifeline(t, "60s")
	inj.dropLifeline() // what the kernel does when lockscope gets SIGKILL
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("the program ended with %v, want exit status 1\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	if want := "lockscope: the debugger went away; exiting"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q does not say %q", stderr, want)
	}
}

// After Release the program's fate is its own: it runs to its natural end
// (status 0, "bye") although lockscope's write end is gone and its folder
// stays, as when lockscope is killed right after a detach.
func TestAgentLifelineReleasedProgramRunsOn(t *testing.T) {
	inj, cmd, stdout, stderr := startLifeline(t, "3s")
	if err := inj.Release(); err != nil {
		t.Fatal(err)
	}
	inj.dropLifeline() // even before Close, as when lockscope is killed now
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the released program ended with %v, want a normal exit\nstderr:\n%s", err, stderr)
	}
	if !strings.Contains(stdout.String(), "bye") {
		t.Errorf("the program did not run to its end: stdout %q", stdout)
	}
}

// A session that ends normally removes the agent's folder before it lets
// go of the pipe: an agent that never got the detach (its program had not
// opened the pipe when the client disconnected) leaves its program be.
func TestAgentLifelineClosedSessionLeavesProgram(t *testing.T) {
	inj, cmd, stdout, stderr := startLifeline(t, "3s")
	if err := inj.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the program ended with %v, want a normal exit\nstderr:\n%s", err, stderr)
	}
	if !strings.Contains(stdout.String(), "bye") {
		t.Errorf("the program did not run to its end: stdout %q", stdout)
	}
}
