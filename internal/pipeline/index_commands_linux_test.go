package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/testutil"
)

// The session lets the debuggee run once WaitIndexCommands returns, and the
// embedded Delve then reaps any child of lockscope: by then no go command
// of the index (nor the Go version's) may still be running, though the
// index may still be type-checking.
func TestWaitIndexCommandsOutlivesEveryChild(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "ledger")
	p := New()
	defer p.Close()
	p.StartIndex(dir, IndexOptions{GoVersion: true}, nil)
	if !p.WaitIndexCommands(context.Background()) {
		t.Fatal("WaitIndexCommands gave up")
	}
	if kids := children(t); len(kids) > 0 {
		t.Fatalf("child processes still running after WaitIndexCommands: %v", kids)
	}
	if gv := p.GoVersion(); !strings.HasPrefix(gv, "go1.") {
		t.Errorf("GoVersion %q after WaitIndexCommands: want the go command's", gv)
	}
	if !p.WaitIndex(context.Background()) {
		t.Fatal("WaitIndex gave up")
	}
	if r := p.Build(); len(r.MapWrites) == 0 {
		t.Errorf("the index found no map writes in ledger; notes %q", r.Notes)
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
