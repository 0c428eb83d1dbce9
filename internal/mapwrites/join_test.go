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

// TestJoinSameMutexElsewhere: contention on s.mu in Count (its deferred
// Unlock), a function that neither writes nor calls Add, does not make
// the write in Add contended: same lock, not seen contended. The deferred
// Unlock in Add itself does, from either profile or the trace.
func TestJoinSameMutexElsewhere(t *testing.T) {
	ix, ms := load(t, "inventory")
	countUnlock := siteLine(t, ix, "github.com/lockscope/lockscope/testdata/inventory/store.(*Store).Count", "Unlock")
	addUnlock := ms["store-unlock"]
	for _, tc := range []struct {
		h    contention.Hotspot
		want bool
	}{
		{hs(contention.KindMutex, countUnlock.File, countUnlock.Line, 5e6), false},
		{hs(contention.KindMutex, addUnlock.file, addUnlock.line, 5e6), true},
		{hs(contention.KindTraceBlocks, addUnlock.file, addUnlock.line, 5e6), true},
	} {
		w := findWrite(t, Join(ix.Writes(), ix.LockSites(), []contention.Hotspot{tc.h}, JoinOptions{}), ms["store-write"])
		if w.Contended != tc.want || w.SameLockOnly == tc.want || (w.WaitNs == 5e6) != tc.want {
			t.Errorf("%s at line %d: contended=%v sameLockOnly=%v waitNs=%d, want contended %v", tc.h.Kind, tc.h.Line, w.Contended, w.SameLockOnly, w.WaitNs, tc.want)
		}
	}
}

// TestJoinRWMutex: readers waiting in RLock (Get) are contention seen in
// Get, not in Refresh, which writes under Lock; the holder side on
// Refresh's Unlock is seen there. The waiters of a contended write are
// all the goroutines waiting for its lock, the readers included.
func TestJoinRWMutex(t *testing.T) {
	ix, ms := load(t, "rwcache")
	rlock := siteLine(t, ix, "main.(*Cache).Get", "RLock")
	unlock := ms["rw-unlock"]
	for _, kind := range []string{contention.KindBlock, contention.KindTraceBlocked} {
		readers := hs(kind, rlock.File, rlock.Line, 3e6)
		w := findWrite(t, Join(ix.Writes(), ix.LockSites(), []contention.Hotspot{readers}, JoinOptions{WindowNs: 1e6}), ms["rw-write"])
		if w.Contended || !w.SameLockOnly || w.WaitNs != 0 {
			t.Errorf("%s on RLock alone: contended=%v sameLockOnly=%v waitNs=%d, want same lock only", kind, w.Contended, w.SameLockOnly, w.WaitNs)
		}
		holder := hs(contention.KindMutex, unlock.file, unlock.line, 2e6)
		w = findWrite(t, Join(ix.Writes(), ix.LockSites(), []contention.Hotspot{readers, holder}, JoinOptions{WindowNs: 1e6}), ms["rw-write"])
		if !w.Contended || w.SameLockOnly || w.WaitNs != 2e6 || w.Waiters != 3 {
			t.Errorf("%s on RLock and mutex on Unlock: contended=%v waitNs=%d waiters=%v, want true 2000000 3", kind, w.Contended, w.WaitNs, w.Waiters)
		}
	}
}

// TestJoinHelpers: contention on the lock Add takes reaches the writes of
// the helpers Add calls with it held, and the writes of functions on the
// hotspot's stacks; writes under the same lock elsewhere (Shrink's
// recursive helper, Flush) are same lock only until contention is seen
// in Shrink.
func TestJoinHelpers(t *testing.T) {
	ix, ms := load(t, "lockedhelpers")
	addLock := siteLine(t, ix, "main.(*Cache).Add", "Lock")
	shrinkUnlock := siteLine(t, ix, "main.(*Cache).Shrink", "Unlock")
	inAdd := hs(contention.KindBlock, addLock.File, addLock.Line, 4e6)
	inAdd.Stacks = [][]contention.Frame{{{Function: "main.(*Cache).Add", File: addLock.File, Line: addLock.Line}, {Function: "main.main.func2"}}}
	out := Join(ix.Writes(), ix.LockSites(), []contention.Hotspot{inAdd}, JoinOptions{})
	for m, want := range map[string]bool{
		"helper-set": true, "helper-delete": true, "inner-add": true,
		"helper-recursive": false, "flush-relocked": false,
	} {
		w := findWrite(t, out, ms[m])
		if w.Contended != want || w.SameLockOnly == want {
			t.Errorf("Add's Lock hot: %s contended=%v sameLockOnly=%v, want contended %v", m, w.Contended, w.SameLockOnly, want)
		}
	}
	// Seen in Shrink too: the recursive helper and the delete reached
	// from both rank by what was seen on their paths.
	inShrink := hs(contention.KindMutex, shrinkUnlock.File, shrinkUnlock.Line, 1e6)
	out = Join(ix.Writes(), ix.LockSites(), []contention.Hotspot{inAdd, inShrink}, JoinOptions{})
	if w := findWrite(t, out, ms["helper-recursive"]); !w.Contended || w.WaitNs != 1e6 {
		t.Errorf("helper-recursive: contended=%v waitNs=%d, want true 1000000", w.Contended, w.WaitNs)
	}
	if w := findWrite(t, out, ms["helper-set"]); !w.Contended || w.WaitNs != 4e6 {
		t.Errorf("helper-set: contended=%v waitNs=%d, want true 4000000", w.Contended, w.WaitNs)
	}
	// A function on a hotspot's stacks counts as where it was seen, with
	// its generic or wrapper name as pprof prints it.
	viaStack := hs(contention.KindMutex, shrinkUnlock.File, shrinkUnlock.Line, 1e6)
	out = Join(ix.Writes(), ix.LockSites(), []contention.Hotspot{viaStack}, JoinOptions{})
	if w := findWrite(t, out, ms["flush-relocked"]); w.Contended || !w.SameLockOnly {
		t.Errorf("flush-relocked contended=%v from a hotspot in Shrink alone", w.Contended)
	}
	viaStack.Stacks = [][]contention.Frame{{{Function: "main.(*Cache).Shrink"}, {Function: "main.(*Cache).flushLocked.deferwrap1"}}}
	out = Join(ix.Writes(), ix.LockSites(), []contention.Hotspot{viaStack}, JoinOptions{})
	if w := findWrite(t, out, ms["flush-relocked"]); !w.Contended || w.SameLockOnly {
		t.Errorf("flush-relocked contended=%v, want true: flushLocked is on the hotspot's stack", w.Contended)
	}
}

func TestFuncName(t *testing.T) {
	for in, want := range map[string]string{
		"github.com/hashicorp/golang-lru/v2/expirable.(*LRU[go.shape.string,go.shape.string]).Add": "github.com/hashicorp/golang-lru/v2/expirable.(*LRU).Add",
		"github.com/hashicorp/golang-lru/v2/expirable.(*LRU[...]).Add":                             "github.com/hashicorp/golang-lru/v2/expirable.(*LRU).Add",
		"main.Map[go.shape.map[string]int].func1":                                                  "main.Map.func1",
		"main.deposit.deferwrap1":                                                                  "main.deposit",
		"main.main.gowrap12":                                                                       "main.main",
		"main.main.func1":                                                                          "main.main.func1",
	} {
		if got := funcName(in); got != want {
			t.Errorf("funcName(%q) = %q, want %q", in, got, want)
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
