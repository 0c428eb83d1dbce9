//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

// These tests use analyze_test.go's helpers, which run programs with the
// capture agent (a named pipe: capture/fifo_unix.go).

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
)

// With an older Go first on PATH (Debian's go1.19), analyze cannot run a
// program with its agent, which needs go1.24: it says so with a usage exit
// code before it builds anything (before the gate, go1.19's linker failed
// the build on the agent's -checklinkname=0). --test needs no agent, and
// works with that toolchain.
func TestAnalyzeOldToolchain(t *testing.T) {
	for k, v := range testutil.DebianGoEnv(testutil.DebianGo(t)) {
		t.Setenv(k, v)
	}
	r := analyze(t, "--json", fixture(t, "capture", "oldmod"))
	want := "lockscope analyze: capture needs Go 1.24 or later; this program builds with go" + testutil.DebianGoVersion + "."
	if r.code != ExitUsage || !strings.HasPrefix(r.stderr, want) || !strings.Contains(r.stderr, "use --test") {
		t.Errorf("exit %d, want %d (usage) and a message that starts %q and offers --test\nstderr:\n%s", r.code, ExitUsage, want, r.stderr)
	}
	if strings.Contains(r.stderr, "building") || r.stdout != "" {
		t.Errorf("analyze built or printed a report:\nstdout: %q\nstderr:\n%s", r.stdout, r.stderr)
	}

	// --test: go test's own profiles, from a test binary go1.19 builds
	// (in a module of its own: go1.19 cannot read lockscope's go.mod).
	dir := t.TempDir()
	test := filepath.Join(dir, "old_test.go")
	if err := os.WriteFile(test, []byte(oldTest), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/old\n\ngo 1.19\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = analyze(t, "--json", "--test", "--trace-seconds", "0", dir)
	mustOK(t, r)
	wantAt(t, "mutex hotspot of a go1.19 test", firstLock(r.report, contention.KindMutex), test, testutil.MarkerLine(t, test, "old-unlock"), "")
}

// oldTest holds a lock while it sleeps, so that its waiters park on it
// (Go 1.19's mutex profile records only those) whatever the machine.
const oldTest = `package old_test

import (
	"sync"
	"testing"
	"time"
)

func TestHeld(t *testing.T) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				mu.Lock()
				time.Sleep(time.Millisecond)
				mu.Unlock() // lockscope:old-unlock
			}
		}()
	}
	wg.Wait()
}
`
