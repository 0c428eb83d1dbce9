package mapwrites

import "testing"

// TestFieldCallbacks: a call through an unexported function-typed field
// whose every value the index sees runs those values with the caller's
// locks: a method value stored on the shard itself (s.onEvict =
// s.evictOldest) under the shard's lock, a literal handed down through a
// variable and a constructor's parameter, and a named function, under a
// package lock. The cache's method value that every shard calls under
// its own lock is not guarded by it (two shards may run it at once), and
// fields with values the index cannot all see (exported, also started
// with go, set from an exported method's parameter) keep their values
// entered with nothing held.
func TestFieldCallbacks(t *testing.T) {
	ix, ms := load(t, "fieldcallbacks")
	if p := ix.Problems(); len(p) > 0 {
		t.Fatalf("Problems() = %q", p)
	}
	n := checkMarked(t, ix, ms, func(name string) string {
		if name == "self-guarded" {
			return "s.mu"
		}
		return "totalsMu"
	})
	if n < 7 {
		t.Errorf("%d markers in testdata/fieldcallbacks, want the 7 shapes it has", n)
	}
}
