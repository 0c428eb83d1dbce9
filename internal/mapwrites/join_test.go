package mapwrites

import (
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
)

// siteLine finds the line of the lock site with this function and method.
func siteLine(t *testing.T, ix *Index, function, method string) LockSite {
	t.Helper()
	for _, s := range ix.LockSites() {
		if s.Function == function && s.Method == method {
			return s
		}
	}
	t.Fatalf("no %s site in %s", method, function)
	return LockSite{}
}

func hs(kind, file string, line int, delay int64) contention.Hotspot {
	return contention.Hotspot{Kind: kind, File: file, Line: line, DelayNs: delay, Lock: true, Primitive: contention.PrimMutex}
}

func findWrite(t *testing.T, ws []contention.MapWrite, m marker) contention.MapWrite {
	t.Helper()
	for _, w := range ws {
		if w.File == m.file && w.Line == m.line {
			return w
		}
	}
	t.Fatalf("no write at %v", m)
	return contention.MapWrite{}
}

func TestJoinLedger(t *testing.T) {
	ix, ms := load(t, "ledger")
	unlock := ms["hot-unlock"]
	lock := siteLine(t, ix, "main.deposit", "Lock")
	hot := []contention.Hotspot{
		hs(contention.KindMutex, unlock.file, unlock.line, 900e6),
		hs(contention.KindBlock, lock.File, lock.Line, 1200e6),
		// main's wg.Wait line is no lock site: never evidence.
		{Kind: contention.KindBlock, File: unlock.file, Line: 80, DelayNs: 2e9, Primitive: contention.PrimWaitGroup},
	}
	out := Join(ix.Writes(), ix.LockSites(), hot, JoinOptions{WindowNs: 200e6})
	h := findWrite(t, out, ms["hot-write"])
	if !h.Contended || h.WaitNs != 1200e6 {
		t.Errorf("hot-write: contended=%v waitNs=%d, want true 1200000000", h.Contended, h.WaitNs)
	}
	if h.Waiters != 6 {
		t.Errorf("hot-write waiters = %v, want 6 (1.2s of waiting in a 200ms window)", h.Waiters)
	}
	c := findWrite(t, out, ms["cold-write"])
	if c.Contended || c.WaitNs != 0 {
		t.Errorf("cold-write: contended=%v waitNs=%d, want false 0 (auditMu shows no wait)", c.Contended, c.WaitNs)
	}
	// The input is left as it was.
	for _, w := range ix.Writes() {
		if w.Contended {
			t.Errorf("Join changed its input")
		}
	}
}

func TestJoinNeverContended(t *testing.T) {
	for _, prog := range []string{"calm", "ledger", "crashmap"} {
		ix, _ := load(t, prog)
		for _, hot := range [][]contention.Hotspot{nil, {}} {
			for _, w := range Join(ix.Writes(), ix.LockSites(), hot, JoinOptions{}) {
				if w.Contended || w.WaitNs != 0 {
					t.Errorf("%s: %s:%d contended with no hotspots", prog, w.File, w.Line)
				}
			}
		}
	}
	// Hotspots on other lines (channel waits, the wrong side of the lock)
	// claim nothing.
	ix, ms := load(t, "calm")
	w := ms["calm-write"]
	lock := siteLine(t, ix, "main.main.func1", "Lock")
	unlock := siteLine(t, ix, "main.main.func1", "Unlock")
	wrongSide := []contention.Hotspot{
		hs(contention.KindMutex, lock.File, lock.Line, 5e6),     // holder side on a Lock line
		hs(contention.KindBlock, unlock.File, unlock.Line, 5e6), // waiter side on an Unlock line
		hs(contention.KindBlock, w.file, w.line, 5e6),           // the write line itself
		{Kind: "chan", File: lock.File, Line: lock.Line, DelayNs: 5e6},
	}
	for _, o := range Join(ix.Writes(), ix.LockSites(), wrongSide, JoinOptions{}) {
		if o.Contended {
			t.Errorf("calm: %s:%d contended from evidence on the wrong side", o.File, o.Line)
		}
	}
}

func TestJoinThreshold(t *testing.T) {
	ix, ms := load(t, "ledger")
	unlock := ms["hot-unlock"]
	// The cold lock's Unlock line gets 1% or just under 1% of the mutex
	// total; the rest sits on an unrelated line.
	coldUnlock := siteLine(t, ix, "main.audit", "Unlock")
	for _, tc := range []struct {
		cold, rest int64
		opts       JoinOptions
		want       bool
	}{
		{cold: 10, rest: 990, want: true},                                    // exactly 1%
		{cold: 9, rest: 991, want: false},                                    // 0.9%
		{cold: 9, rest: 991, opts: JoinOptions{MinShare: 0.005}, want: true}, // configurable
		{cold: 100, rest: 900, opts: JoinOptions{MinWaitNs: 101}, want: false},
	} {
		hot := []contention.Hotspot{
			hs(contention.KindMutex, coldUnlock.File, coldUnlock.Line, tc.cold),
			hs(contention.KindMutex, unlock.file, 1, tc.rest),
		}
		c := findWrite(t, Join(ix.Writes(), ix.LockSites(), hot, tc.opts), ms["cold-write"])
		if c.Contended != tc.want {
			t.Errorf("cold=%d rest=%d opts=%+v: contended=%v, want %v", tc.cold, tc.rest, tc.opts, c.Contended, tc.want)
		}
		if c.Contended && c.WaitNs != tc.cold {
			t.Errorf("waitNs = %d, want %d", c.WaitNs, tc.cold)
		}
	}
}

// TestJoinSameMutexAnywhere: contention on s.mu in Count (its deferred
// Unlock) makes the write in Add contended, and so does the deferred
// Unlock in Add itself.
func TestJoinSameMutexAnywhere(t *testing.T) {
	ix, ms := load(t, "inventory")
	countUnlock := siteLine(t, ix, "github.com/lockscope/lockscope/testdata/inventory/store.(*Store).Count", "Unlock")
	addUnlock := ms["store-unlock"]
	for _, h := range []contention.Hotspot{
		hs(contention.KindMutex, countUnlock.File, countUnlock.Line, 5e6),
		hs(contention.KindMutex, addUnlock.file, addUnlock.line, 5e6),
		hs(contention.KindTraceBlocks, addUnlock.file, addUnlock.line, 5e6),
	} {
		w := findWrite(t, Join(ix.Writes(), ix.LockSites(), []contention.Hotspot{h}, JoinOptions{}), ms["store-write"])
		if !w.Contended || w.WaitNs != 5e6 {
			t.Errorf("%s at line %d: contended=%v waitNs=%d, want true 5000000", h.Kind, h.Line, w.Contended, w.WaitNs)
		}
	}
}

// TestJoinRWMutex: readers waiting in RLock (Get) count for the writer's
// region in Refresh, since they wait for the same RWMutex.
func TestJoinRWMutex(t *testing.T) {
	ix, ms := load(t, "rwcache")
	rlock := siteLine(t, ix, "main.(*Cache).Get", "RLock")
	for _, kind := range []string{contention.KindBlock, contention.KindTraceBlocked} {
		h := hs(kind, rlock.File, rlock.Line, 3e6)
		w := findWrite(t, Join(ix.Writes(), ix.LockSites(), []contention.Hotspot{h}, JoinOptions{WindowNs: 1e6}), ms["rw-write"])
		if !w.Contended || w.WaitNs != 3e6 || w.Waiters != 3 {
			t.Errorf("%s on RLock: contended=%v waitNs=%d waiters=%v, want true 3000000 3", kind, w.Contended, w.WaitNs, w.Waiters)
		}
	}
}

// TestJoinUnguarded: an unguarded write has no lock to contend on.
func TestJoinUnguarded(t *testing.T) {
	ix, ms := load(t, "crashmap")
	m := ms["crash-hit"]
	out := Join(ix.Writes(), ix.LockSites(), []contention.Hotspot{hs(contention.KindBlock, m.file, m.line, 1e9)}, JoinOptions{})
	for _, w := range out {
		if w.Contended {
			t.Errorf("unguarded %s:%d called contended", w.File, w.Line)
		}
	}
}
