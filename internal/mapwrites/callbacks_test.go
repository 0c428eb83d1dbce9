package mapwrites

import (
	"slices"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
)

// TestLockedCallbacks: a function value that its callee only calls runs
// with the locks held at those calls: a method value under the caller's
// lock (bigcache's onEvict(..., s.removeOldestEntry), called at two places
// in the callee), a literal under the lock its helper takes (the helper
// compares it with nil first), a named function under a package lock, and
// a method value the helper calls after taking the caller's lock again.
// The same when the helper passes the value on to one that runs it.
// Guarded, with the calls that hold the lock. A value kept in a field and
// called later, started with go, called after the helper gives the lock
// up, called once with and once without it, or bound to another shard
// than the locked one is not; the first two, also called under the lock,
// are sometimes unguarded through the place the value is passed.
func TestLockedCallbacks(t *testing.T) {
	ix, ms := load(t, "lockedcallbacks")
	if p := ix.Problems(); len(p) > 0 {
		t.Fatalf("Problems() = %q", p)
	}
	const shard = "main.(*Shard)."
	for _, tc := range []struct {
		marker, guard, eval string
		via                 []string // markers of the calls that hold the guard for the value
		viaFuncs            []string // and their functions
	}{
		{"evict-delete", "s.mu", "s.mu", []string{"evict-from-set", "evict-from-sweep"}, []string{shard + "Set", shard + "Sweep"}},
		{"evict-count", "s.mu", "s.mu", []string{"evict-from-set", "evict-from-sweep"}, []string{shard + "Set", shard + "Sweep"}},
		{"evict-reason", "s.mu", "s.mu", []string{"evict-from-set", "evict-from-sweep"}, []string{shard + "Set", shard + "Sweep"}},
		{"literal-write", "s.mu", "s.mu", []string{"locked-call"}, []string{shard + "locked"}},
		{"named-write", "totalsMu", "totalsMu", []string{"totals-call"}, []string{"main.withTotals"}},
		{"relocked-write", "s.mu", "s.mu", []string{"relock-call"}, []string{shard + "relockThen"}},
		// Passed on: each hands the literal to locked, which takes the
		// lock; under holds its own lock while visit runs the value.
		{"passed-on-write", "s.mu", "s.mu", []string{"locked-call"}, []string{shard + "locked"}},
		{"held-at-pass-write", "s.mu", "s.mu", []string{"under-call"}, []string{shard + "under"}},
	} {
		w := writeAt(t, ix, ms, tc.marker)
		if w.Guard != tc.guard || w.GuardEval != tc.eval || w.Unguarded || w.SometimesUnguarded || w.GuardKind != contention.PrimMutex {
			t.Errorf("%s: guard=%q eval=%q unguarded=%v sometimes=%v via=%q, want guard %q eval %q, guarded",
				tc.marker, w.Guard, w.GuardEval, w.Unguarded, w.SometimesUnguarded, sitesAt(w.UnguardedVia), tc.guard, tc.eval)
		}
		var want []contention.Site
		for i, m := range tc.via {
			want = append(want, contention.Site{File: ms[m].file, Line: ms[m].line, Function: tc.viaFuncs[i]})
		}
		if !slices.Equal(w.GuardedVia, want) {
			t.Errorf("%s: guardedVia = %q, want %q", tc.marker, sitesAt(w.GuardedVia), sitesAt(want))
		}
	}
	// The guard is the very mutex the callers lock, so that contention on
	// it reaches the callbacks' writes.
	if del, lit := writeAt(t, ix, ms, "evict-delete"), writeAt(t, ix, ms, "literal-write"); del.GuardID == "" || del.GuardID != lit.GuardID {
		t.Errorf("guard ids: evict-delete %q, literal-write %q, want the same s.mu", del.GuardID, lit.GuardID)
	}

	// Called under the lock, and passed where it runs from an unknown
	// state: sometimes unguarded, through the place it is passed.
	for _, tc := range []struct{ marker, value, fn string }{
		{"stored-write", "stored-value", shard + "Arm"}, // kept in s.hook, called by Fire with nothing held
		{"go-write", "go-value", shard + "Refresh"},     // go f()
	} {
		w := writeAt(t, ix, ms, tc.marker)
		want := []contention.Site{{File: ms[tc.value].file, Line: ms[tc.value].line, Function: tc.fn}}
		if w.Guard != "" || !w.Unguarded || !w.SometimesUnguarded || !slices.Equal(w.UnguardedVia, want) {
			t.Errorf("%s: guard=%q unguarded=%v sometimes=%v unguardedVia=%q, want sometimes unguarded via %q",
				tc.marker, w.Guard, w.Unguarded, w.SometimesUnguarded, sitesAt(w.UnguardedVia), sitesAt(want))
		}
	}

	for _, m := range []string{
		"after-unlock-write",     // the callee unlocks the caller's lock first
		"after-own-unlock-write", // the callee's own lock is released first
		"twice-write",            // called with the lock, then without
		"other-shard-write",      // s.mu held, o.forget runs on o
		// Passed on: the next helper releases the lock before it runs
		// the value; the helper releases the caller's lock before the pass.
		"released-by-next-write",
		"released-before-pass-write",
		// A cycle of passes is not followed: entered as any value is.
		"cycle-write",
	} {
		w := writeAt(t, ix, ms, m)
		if w.Guard != "" || !w.Unguarded || w.SometimesUnguarded || len(w.GuardedVia) > 0 {
			t.Errorf("%s: guard=%q unguarded=%v sometimes=%v guardedVia=%q, want plainly unguarded",
				m, w.Guard, w.Unguarded, w.SometimesUnguarded, sitesAt(w.GuardedVia))
		}
	}
}
