package mapwrites

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// loopFixed are hand-written loops whose guards are known. The loops drop
// locks at different depths, so the held set at the top of an iteration is
// not the one before the loop: a walk that did not iterate to the
// fixpoint would call every write below guarded by all six mutexes.
const loopFixed = `
func manyDrops(keys []int) {
	mu0.Lock()
	mu1.Lock()
	mu2.RLock()
	mu3.Lock()
	mu4.Lock()
	mu5.Lock()
	for _, k := range keys {
		only[k] = 1 // lockscope:drops-top
		if c {
			mu1.Unlock()
		}
		for c {
			mu2.RUnlock()
			for range xs {
				mu3.Unlock()
			}
		}
		switch {
		case c:
			mu4.Unlock()
		default:
			mu5.Unlock()
		}
	}
	only[0] = 2 // lockscope:drops-after
}

func keepsAll(keys []int) {
	mu0.Lock()
	mu1.Lock()
	for _, k := range keys {
		mu1.Unlock()
		other[k] = 1 // lockscope:keeps-mid
		mu1.Lock()
		if c {
			continue
		}
		mu1.Unlock()
		mu1.Lock()
	}
	after[0] = 2 // lockscope:keeps-after
}
`

// genLoops writes n functions that take some of six locks, then nest
// loops, branches, switches, locks, unlocks, defers, breaks, continues and
// returns at random, writing the map m here and there.
func genLoops(rng *rand.Rand, n int) string {
	var sb strings.Builder
	var gen func(depth int, inLoop bool)
	line := func(depth int, format string, args ...any) {
		sb.WriteString(strings.Repeat("\t", depth+1))
		fmt.Fprintf(&sb, format, args...)
		sb.WriteByte('\n')
	}
	methods := []string{"Lock", "Unlock", "RLock", "RUnlock"}
	gen = func(depth int, inLoop bool) {
		for range 1 + rng.Intn(5) {
			switch k := rng.Intn(12); {
			case k < 4:
				line(depth, "mu%d.%s()", rng.Intn(6), methods[rng.Intn(len(methods))])
			case k == 4:
				line(depth, "m[%d]++", rng.Intn(100))
			case k == 5 && depth < 3:
				line(depth, "if c {")
				gen(depth+1, inLoop)
				if rng.Intn(2) == 0 {
					line(depth, "} else {")
					gen(depth+1, inLoop)
				}
				line(depth, "}")
			case k == 6 && depth < 3:
				line(depth, "for c {")
				gen(depth+1, true)
				line(depth, "}")
			case k == 7 && depth < 3:
				line(depth, "for range xs {")
				gen(depth+1, true)
				line(depth, "}")
			case k == 8 && depth < 3:
				line(depth, "switch {")
				line(depth, "case c:")
				gen(depth+1, inLoop)
				line(depth, "default:")
				gen(depth+1, inLoop)
				line(depth, "}")
			case k == 9 && inLoop:
				line(depth, "if c {")
				line(depth+1, "%s", []string{"break", "continue"}[rng.Intn(2)])
				line(depth, "}")
			case k == 10:
				line(depth, "if c {")
				line(depth+1, "return")
				line(depth, "}")
			case k == 11:
				line(depth, "defer mu%d.Unlock()", rng.Intn(6))
			default:
				line(depth, "m[%d] = %d", rng.Intn(100), rng.Intn(100))
			}
		}
	}
	for i := range n {
		fmt.Fprintf(&sb, "\nfunc gen%d() {\n", i)
		for j := range 6 {
			if rng.Intn(2) == 0 {
				line(0, "mu%d.%s()", j, []string{"Lock", "RLock"}[rng.Intn(2)])
			}
		}
		// Start with a loop, so that every function has one that begins
		// with locks held.
		line(0, "for range xs {")
		gen(1, true)
		line(0, "}")
		gen(0, false)
		sb.WriteString("}\n")
	}
	return sb.String()
}

// TestLoopEntryConverges proves what loopEntry's comment claims: the locks
// held at the top of a loop are found in at most two passes (one that
// drops locks, one that confirms), however loops, branches and locks nest.
// It also checks the guards of loops that drop locks, so that a walk that
// stopped before the fixpoint would fail.
func TestLoopEntryConverges(t *testing.T) {
	dir := t.TempDir()
	src := "package main\n\nimport \"sync\"\n\n" +
		"var (\n\tmu0, mu1, mu2, mu3, mu4, mu5 sync.RWMutex\n\tm, only, other, after = map[int]int{}, map[int]int{}, map[int]int{}, map[int]int{}\n\txs []int\n\tc bool\n)\n\n" +
		"func main() {}\n" + loopFixed + genLoops(rand.New(rand.NewSource(1)), 120)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module loops\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	fset, pkgs, err := loadPackages(dir, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := newBuilder(fset)
	b.walkPackages(pkgs)
	ix := b.finish()
	if p := ix.Problems(); len(p) > 0 {
		t.Fatalf("Problems() = %q", p)
	}
	if b.loopPasses != 2 {
		t.Errorf("the most passes a loop took = %d, want 2 (1 would mean no loop of the corpus drops a lock)", b.loopPasses)
	}

	ms := markers(t, dir)
	for _, c := range []struct {
		marker, guard string
	}{
		{"drops-top", "mu0"},   // only mu0 survives every path round the loop
		{"drops-after", "mu0"}, // after the loop: what held at its top
		{"keeps-mid", "mu0"},   // mu1 is released at this line on every iteration
		{"keeps-after", "mu1"}, // both held at the top; mu1 is the innermost
	} {
		w := writeAt(t, ix, ms, c.marker)
		if w.Guard != c.guard {
			t.Errorf("%s: guard %q, want %q", c.marker, w.Guard, c.guard)
		}
	}
}
