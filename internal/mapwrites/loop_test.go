package mapwrites

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// loopHeader declares what the loops below lock and write.
const loopHeader = `package main

import "sync"

var (
	mu0, mu1, mu2, mu3, mu4, mu5 sync.RWMutex

	m, only, other, after         = map[int]int{}, map[int]int{}, map[int]int{}, map[int]int{}
	cont, brk, lab, sw, sel       = map[int]int{}, map[int]int{}, map[int]int{}, map[int]int{}, map[int]int{}
	xs                            []int
	c                             bool
	ch                            chan int
)

func main() {}
`

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

func continueUnlocked(keys []int) {
	mu0.Lock()
	for _, k := range keys {
		cont[k] = 1 // lockscope:continue-top
		if c {
			mu0.Unlock()
			continue
		}
	}
	mu0.Unlock()
}

func breakUnlocked(keys []int) {
	mu0.Lock()
	for range keys {
		if c {
			mu0.Unlock()
			break
		}
	}
	brk[0] = 1 // lockscope:break-after
}

func continueOuter(keys []int) {
	mu0.Lock()
outer:
	for range keys {
		for range keys {
			lab[0] = 1 // lockscope:continue-outer
			if c {
				mu0.Unlock()
				continue outer
			}
		}
	}
}

func switchBreak(k int) {
	mu0.Lock()
	switch {
	case c:
		mu0.Unlock()
		break
	default:
	}
	sw[k] = 1 // lockscope:switch-break
}

func selectBreak(k int) {
	mu0.Lock()
	select {
	case <-ch:
		mu0.Unlock()
		break
	default:
	}
	sel[k] = 1 // lockscope:select-break
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

// TestLoopConverges proves what loop's comment claims: the locks
// held at the top of a loop are found in at most two passes (one that
// drops locks, one that confirms), however loops, branches and locks nest.
// It also checks the guards of loops that drop locks, so that a walk that
// stopped before the fixpoint would fail.
func TestLoopConverges(t *testing.T) {
	dir := t.TempDir()
	src := loopHeader + loopFixed + genLoops(rand.New(rand.NewSource(1)), 120)
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
		{"keeps-after", "mu1"}, // both held at the top, continue included; mu1 is the innermost
		// A break or continue takes its state where it goes, so the
		// Unlock before it unguards what comes next there.
		{"continue-top", ""},
		{"break-after", ""},
		{"continue-outer", ""},
		{"switch-break", ""},
		{"select-break", ""},
	} {
		w := writeAt(t, ix, ms, c.marker)
		if w.Guard != c.guard || w.Unguarded != (c.guard == "") {
			t.Errorf("%s: guard %q unguarded %v, want guard %q", c.marker, w.Guard, w.Unguarded, c.guard)
		}
	}
}
