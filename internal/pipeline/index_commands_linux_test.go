package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/testutil"
)

// The session lets the debuggee run once WaitIndexCommands returns, and the
// embedded Delve then reaps any child of lockscope: by then no go command
// of the index (nor the Go version's) may still be running, though the
// index may still be type-checking.
//
// The first F5 loads (go commands run); the second reads the go facts and
// the index from their caches, and so starts no child process at all.
func TestWaitIndexCommandsOutlivesEveryChild(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "ledger")
	freshCache(t)
	for _, f5 := range []string{"first", "second"} {
		p := New()
		p.StartIndex(dir, IndexOptions{GoVersion: true}, nil)
		if f5 == "second" {
			// Nothing to wait for: WaitIndexCommands returns at once.
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			ok := p.WaitIndexCommands(ctx)
			cancel()
			if !ok {
				t.Errorf("%s F5: WaitIndexCommands did not return at once", f5)
			}
		}
		if !p.WaitIndexCommands(context.Background()) {
			t.Fatalf("%s F5: WaitIndexCommands gave up", f5)
		}
		if kids := children(t); len(kids) > 0 {
			t.Fatalf("%s F5: child processes still running after WaitIndexCommands: %v", f5, kids)
		}
		if gv := p.GoVersion(); !strings.HasPrefix(gv, "go1.") {
			t.Errorf("%s F5: GoVersion %q after WaitIndexCommands: want the go command's", f5, gv)
		}
		if !p.WaitIndex(context.Background()) {
			t.Fatalf("%s F5: WaitIndex gave up", f5)
		}
		if r := p.Build(); len(r.MapWrites) == 0 {
			t.Errorf("%s F5: the index found no map writes in ledger; notes %q", f5, r.Notes)
		}
		p.Close()
	}
}

// children lists this process's child pids, from every thread.
func children(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("/proc/self/task/*/children")
	if err != nil || len(files) == 0 {
		t.Fatalf("no /proc/self/task/*/children: %v", err)
	}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended
		}
		out = append(out, strings.Fields(string(b))...)
	}
	return out
}
