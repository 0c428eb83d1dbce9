//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

// These tests run programs with the capture agent, which needs a named
// pipe (see capture/fifo_unix.go).

package cli

import (
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
)

// A lock-order deadlock ends analyze by itself, as the runtime ends the
// program ("all goroutines are asleep - deadlock!"), and the report names
// the cycle with its lines; the text report says it first.
func TestAnalyzeDeadlock(t *testing.T) {
	t.Parallel()
	dir := fixture(t, "stuck", "deadlock")
	main := dir + "/main.go"
	r := analyze(t, "--json", "--trace-seconds", "0", dir)
	mustOK(t, r)
	if len(r.report.Deadlocks) != 1 {
		t.Fatalf("%d deadlocks, want 1: %+v\nstderr:\n%s", len(r.report.Deadlocks), r.report.Deadlocks, r.stderr)
	}
	d := r.report.Deadlocks[0]
	if !d.Forever || len(d.Links) != 2 {
		t.Fatalf("deadlock %+v: want a cycle of two, for good", d)
	}
	want := map[int]bool{
		testutil.MarkerLine(t, main, "transfer-lock-b"): true,
		testutil.MarkerLine(t, main, "audit-lock-a"):    true,
	}
	held := map[int]bool{
		testutil.MarkerLine(t, main, "transfer-lock-a"): true,
		testutil.MarkerLine(t, main, "audit-lock-b"):    true,
	}
	for _, l := range d.Links {
		if !want[l.WaitsAt.Line] || !held[l.LockedAt.Line] {
			t.Errorf("link %+v: want it to wait at %v and hold from %v", l, want, held)
		}
	}
	if !strings.Contains(r.stderr, "a deadlock") {
		t.Errorf("progress does not say the program deadlocked:\n%s", r.stderr)
	}

	text := analyze(t, "--trace-seconds", "0", dir)
	mustOK(t, text)
	dl, hot := strings.Index(text.stdout, "Deadlock"), strings.Index(text.stdout, "Lock contention")
	if dl < 0 || hot < 0 || dl > hot {
		t.Errorf("the deadlock is not the text report's headline:\n%s", text.stdout)
	}
}

// A lock held for the whole run, with the program still running, is
// found from goroutine dumps: the waiters are stuck, and the holder is
// named with the Lock line that took the lock and what it waits for.
func TestAnalyzeStuckWaiters(t *testing.T) {
	t.Parallel()
	dir := fixture(t, "stuck", "holdlock")
	main := dir + "/main.go"
	// The waits are measured between goroutine dumps, which begin when the
	// agent answers: 8 s leaves room for a slow start on a loaded machine
	// (CI once found none stuck in a 4 s run, the dumps less than 2 s
	// apart).
	r := analyze(t, "--json", "--duration", "8s", "--trace-seconds", "1", dir)
	mustOK(t, r)
	wait, lock, hold := testutil.MarkerLine(t, main, "record-lock"), testutil.MarkerLine(t, main, "flush-lock"), testutil.MarkerLine(t, main, "flush-wait")
	if len(r.report.Stuck) != 3 {
		t.Fatalf("%d stuck waits, want the 3 recorders: %+v\nstderr:\n%s", len(r.report.Stuck), r.report.Stuck, r.stderr)
	}
	for _, s := range r.report.Stuck {
		if s.Line != wait || s.Lock != "reg.mu" || s.WaitNs < 2e9 || len(s.Holders) != 1 {
			t.Errorf("stuck %+v: want a wait of 2s or more at line %d for reg.mu, with one holder", s, wait)
			continue
		}
		if h := s.Holders[0]; h.LockedAt.Line != lock || h.WaitsAt == nil || h.WaitsAt.Line != hold {
			t.Errorf("holder %+v: want it locked at %d and waiting at %d", h, lock, hold)
		}
	}
	if len(r.report.Deadlocks) != 0 {
		t.Errorf("a stall reported as a deadlock: %+v", r.report.Deadlocks)
	}
	// The trace window saw the waits that had not ended.
	var open *contention.Hotspot
	for i, h := range r.report.Hotspots {
		if h.Kind == contention.KindTraceBlocked && h.Line == wait {
			open = &r.report.Hotspots[i]
		}
	}
	if open == nil || open.OpenWaits == 0 {
		t.Errorf("the trace's hotspot at line %d does not count the open waits: %+v", wait, open)
	}
}

// A busy but healthy lock is not stuck.
func TestAnalyzeHotLockIsNotStuck(t *testing.T) {
	t.Parallel()
	r := analyze(t, "--json", "--duration", "3s", "--trace-seconds", "0", fixture(t, "ledger"))
	mustOK(t, r)
	if len(r.report.Stuck) != 0 || len(r.report.Deadlocks) != 0 {
		t.Errorf("the ledger's hot lock reported stuck: %+v %+v", r.report.Stuck, r.report.Deadlocks)
	}
	if bad := analyze(t, "--stuck-after", "-1s", "."); bad.code != ExitUsage {
		t.Errorf("--stuck-after -1s: exit %d, want %d", bad.code, ExitUsage)
	}
}
