package mapwrites

import (
	"strings"
	"testing"
)

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
	guards := map[string]string{"self-guarded": "s.mu"}
	n := 0
	for name := range ms {
		n++
		w := writeAt(t, ix, ms, name)
		switch {
		case strings.HasSuffix(name, "-guarded"):
			want := guards[name]
			if want == "" {
				want = "totalsMu"
			}
			if w.Guard != want || w.Unguarded || w.SometimesUnguarded {
				t.Errorf("%s (%s in %s): guard=%q unguarded=%v sometimes=%v via=%q, want guard %q",
					name, w.Map, w.Function, w.Guard, w.Unguarded, w.SometimesUnguarded, sitesAt(w.UnguardedVia), want)
			}
		case strings.HasSuffix(name, "-unguarded"):
			if w.Guard != "" || !w.Unguarded {
				t.Errorf("%s (%s in %s): guard=%q unguarded=%v, want no guard, unguarded", name, w.Map, w.Function, w.Guard, w.Unguarded)
			}
		default:
			t.Fatalf("marker %s ends in neither -guarded nor -unguarded", name)
		}
	}
	if n < 7 {
		t.Errorf("%d markers in testdata/fieldcallbacks, want the 7 shapes it has", n)
	}
}
