package mapwrites

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
)

// sitesAt renders sites as "function line" for messages and comparisons.
func sitesAt(ss []contention.Site) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Function+" "+filepath.Base(s.File)+":"+itoa(s.Line))
	}
	return out
}

// hasSiteIn reports whether one of ss is in function fn.
func hasSiteIn(ss []contention.Site, fn string) bool {
	for _, s := range ss {
		if s.Function == fn {
			return true
		}
	}
	return false
}

// TestLockedHelpers: writes in helpers that every caller calls with the
// lock held are guarded by it, through the receiver, two calls deep, in
// recursion and through an inner structure; a helper with one caller that
// forgot the lock is sometimes unguarded and names that caller; a helper
// that gives the lock up in the middle is unguarded after its Unlock and
// guarded again after its Lock; a lock of another value does not guard.
func TestLockedHelpers(t *testing.T) {
	ix, ms := load(t, "lockedhelpers")
	if p := ix.Problems(); len(p) > 0 {
		t.Fatalf("Problems() = %q", p)
	}
	const pkg = "main.(*Cache)."
	for _, tc := range []struct {
		marker, guard, eval string
		via                 []string // functions that take the lock for the helper
	}{
		{"helper-set", "c.mu", "c.mu", []string{pkg + "Add"}},
		{"helper-delete", "c.mu", "c.mu", []string{pkg + "Add", pkg + "Shrink"}},
		{"helper-recursive", "c.mu", "c.mu", []string{pkg + "Shrink"}},
		// index.add is entered with c.mu held on its owner, which it cannot
		// name: guarded, with nothing Delve can evaluate in its frame.
		{"inner-add", "c.mu", "", []string{pkg + "Add"}},
		// The write after the helper takes the lock again is its own.
		{"flush-relocked", "c.mu", "c.mu", nil},
	} {
		w := writeAt(t, ix, ms, tc.marker)
		if w.Guard != tc.guard || w.GuardEval != tc.eval || w.Unguarded || w.SometimesUnguarded || w.GuardKind != contention.PrimMutex {
			t.Errorf("%s: guard=%q eval=%q unguarded=%v sometimes=%v, want guard %q eval %q, guarded",
				tc.marker, w.Guard, w.GuardEval, w.Unguarded, w.SometimesUnguarded, tc.guard, tc.eval)
		}
		for _, fn := range tc.via {
			if !hasSiteIn(w.GuardedVia, fn) {
				t.Errorf("%s: guardedVia = %q, want a call in %s", tc.marker, sitesAt(w.GuardedVia), fn)
			}
		}
		if len(w.GuardedVia) != len(tc.via) {
			t.Errorf("%s: guardedVia = %q, want calls in %q", tc.marker, sitesAt(w.GuardedVia), tc.via)
		}
		if tc.guard != "" && w.GuardID == "" {
			t.Errorf("%s: no guard id", tc.marker)
		}
	}
	// The guard of a helper is the very mutex its callers lock, so that
	// contention on it reaches the helper's write.
	set, add := writeAt(t, ix, ms, "helper-set"), writeAt(t, ix, ms, "inner-add")
	relocked := writeAt(t, ix, ms, "flush-relocked")
	if set.GuardID != relocked.GuardID || add.GuardID != relocked.GuardID {
		t.Errorf("guard ids differ: %q %q %q", set.GuardID, add.GuardID, relocked.GuardID)
	}

	// bump: Get holds the lock; Touch does not, nor does String, which
	// fmt calls through an interface (the cache is passed to Println).
	b := writeAt(t, ix, ms, "helper-sometimes")
	touch, str := ms["touch-call"], ms["string-call"]
	if b.Guard != "" || !b.Unguarded || !b.SometimesUnguarded {
		t.Errorf("helper-sometimes: guard=%q unguarded=%v sometimes=%v, want sometimes unguarded", b.Guard, b.Unguarded, b.SometimesUnguarded)
	}
	if len(b.UnguardedVia) != 2 || b.UnguardedVia[0].Line != touch.line || b.UnguardedVia[0].Function != pkg+"Touch" ||
		b.UnguardedVia[1].Line != str.line || b.UnguardedVia[1].Function != pkg+"String" {
		t.Errorf("helper-sometimes: unguardedVia = %q, want Touch's call at line %d and String's at %d", sitesAt(b.UnguardedVia), touch.line, str.line)
	}

	// resetStats is called under the lock by Get, and kept as a value in a
	// package-level table, from which it runs with no lock held.
	h := writeAt(t, ix, ms, "hook-write")
	if h.Guard != "" || !h.Unguarded || !h.SometimesUnguarded || len(h.UnguardedVia) != 1 || h.UnguardedVia[0].Function != "main.init" {
		t.Errorf("hook-write: guard=%q unguarded=%v sometimes=%v via=%q, want sometimes unguarded via main.init's table",
			h.Guard, h.Unguarded, h.SometimesUnguarded, sitesAt(h.UnguardedVia))
	}

	// flushLocked gave the lock up: the write before it takes it again is
	// unguarded, and every caller held the lock, so it is not "sometimes".
	f := writeAt(t, ix, ms, "flush-unlocked")
	if f.Guard != "" || !f.Unguarded || f.SometimesUnguarded {
		t.Errorf("flush-unlocked: guard=%q unguarded=%v sometimes=%v, want plainly unguarded", f.Guard, f.Unguarded, f.SometimesUnguarded)
	}

	// MergeFrom holds c.mu while it writes o's map: not o's lock.
	s := writeAt(t, ix, ms, "stamp-write")
	if s.Guard != "" || !s.Unguarded {
		t.Errorf("stamp-write: guard=%q unguarded=%v, want unguarded (the caller holds another cache's lock)", s.Guard, s.Unguarded)
	}
	if merge := ms["merge-call"]; !s.SometimesUnguarded && len(s.UnguardedVia) > 0 {
		t.Errorf("stamp-write names unguarded callers %q without being sometimes unguarded (merge at %d)", sitesAt(s.UnguardedVia), merge.line)
	}
}

// TestLockedHelpersJSON: the new fields are omitted when empty, so the
// report of a plain program does not change.
func TestLockedHelpersJSON(t *testing.T) {
	ix, _ := load(t, "ledger")
	for _, w := range ix.Writes() {
		if w.GuardedVia != nil || w.UnguardedVia != nil || w.SometimesUnguarded || w.SameLockOnly {
			t.Errorf("%s:%d: %+v, want no helper fields", w.File, w.Line, w)
		}
	}
	data, err := json.Marshal(ix.Writes())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"guardedVia", "unguardedVia", "sometimesUnguarded", "sameLockOnly"} {
		if strings.Contains(string(data), f) {
			t.Errorf("ledger's writes carry %s: %s", f, data)
		}
	}
}

// TestLockInInitStatement: a condition runs after its if's or for's init
// statement, so a helper called in the condition has the locks the init
// took (Reserve, Fill), and not those it gave up (Release).
func TestLockInInitStatement(t *testing.T) {
	ix, ms := load(t, "lockedinit")
	if p := ix.Problems(); len(p) > 0 {
		t.Fatalf("Problems() = %q", p)
	}
	for _, m := range []string{"reserve-write", "fill-write"} {
		w := writeAt(t, ix, ms, m)
		if w.Guard != "s.mu" || w.Unguarded || w.SometimesUnguarded {
			t.Errorf("%s: guard=%q unguarded=%v sometimes=%v via=%q, want guarded by s.mu",
				m, w.Guard, w.Unguarded, w.SometimesUnguarded, sitesAt(w.UnguardedVia))
		}
	}
	if w := writeAt(t, ix, ms, "forget-write"); w.Guard != "" || !w.Unguarded {
		t.Errorf("forget-write: guard=%q unguarded=%v, want unguarded", w.Guard, w.Unguarded)
	}
}
