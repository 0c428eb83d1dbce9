//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

// The agent takes its commands through a named pipe (fifo_unix.go).

package capture

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
	"github.com/lockscope/lockscope/internal/tracechain"
)

// TraceStream hands out the agent's trace window from its file: the
// window of a running ledger, analysed straight from the stream, has the
// hot Lock line in it. The answer's name is gone as soon as it is open,
// and Close leaves nothing behind.
func TestAgentTraceStream(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "ledger")
	inj, bin := buildAgent(t, PrepareOptions{Program: dir, Snapshot: -1})
	cmd := exec.Command(bin, "-d", "0")
	cmd.Env = inj.Environ(os.Environ())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	ctx := ctxTimeout(t, 60*time.Second)
	ag, err := inj.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ag.TraceStream(ctx, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	assertNoAnswersLeft(t, inj)
	res, err := tracechain.Analyze(ctx, tr, tracechain.Options{Name: "agent trace"})
	if cerr := tr.Close(); cerr != nil {
		t.Errorf("Close: %v", cerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "main.go")
	lock := testutil.MarkerLine(t, main, "hot-write") - 1
	found := false
	for _, h := range res.Hotspots {
		found = found || (h.Kind == contention.KindTraceBlocked && h.Lock && h.File == main && h.Line == lock)
	}
	if !found {
		t.Errorf("the streamed trace window has no lock wait at main.go:%d (the hot Lock); hotspots: %d", lock, len(res.Hotspots))
	}
	assertNoAnswersLeft(t, inj)

	// A stream cut short by its reader is closed all the same.
	tr, err = ag.TraceStream(ctx, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(tr, make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	assertNoAnswersLeft(t, inj)
}
