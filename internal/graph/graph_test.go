package graph

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the goldens in testdata/ from the fixtures")

// fixtures are the recorded reports in extension/test/fixtures that both
// this package and extension/src/logic/graph.ts turn into graphs; the
// goldens testdata/NAME.graph.json are what both must produce.
var fixtures = []string{"handoff", "handoff-trace", "ledger", "ledger-trimpath", "rwcache", "testwait", "inversion", "crashmap", "deadlock"}

// repoRoot is the checkout.
func repoRoot(t testing.TB) string {
	t.Helper()
	return testutil.ModuleRoot(t)
}

// fixtureLines reads the fixtures' source lines: their paths start with
// /workspace for the checkout (scripts/gen-fixtures.sh writes them so), or
// with the module path for -trimpath profiles. graph.test.ts maps them the
// same way.
func fixtureLines(t testing.TB) Lines {
	root := repoRoot(t)
	return FileLines(func(p string) string {
		for _, prefix := range []string{"/workspace/", "github.com/lockscope/lockscope/"} {
			if rest, ok := strings.CutPrefix(p, prefix); ok {
				return filepath.Join(root, filepath.FromSlash(rest))
			}
		}
		return p
	})
}

func loadFixture(t testing.TB, name string) *contention.Report {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "extension", "test", "fixtures", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var r contention.Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &r
}

// TestGoldens holds the graph of each fixture to its golden, which the
// extension's unit test (extension/test/unit/graph.test.ts) holds its own
// graph to as well: the two implementations agree node for node.
func TestGoldens(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			g := Build(loadFixture(t, name), fixtureLines(t))
			got, err := json.MarshalIndent(g, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", name+".graph.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run: go test ./internal/graph -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s: the graph differs from %s (after regenerating the fixtures, run: go test ./internal/graph -update)\ngot:\n%s", name, golden, got)
			}
		})
	}
}

// marker returns the line of `// lockscope:NAME` in a checkout file, so
// that tests name lines by marker and never by number.
func marker(t testing.TB, rel, name string) int {
	t.Helper()
	return testutil.MarkerLine(t, rel, name)
}

// lineOf returns the line of the only line of a checkout file that holds text.
func lineOf(t testing.TB, rel, text string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for i, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, text) {
			if found != 0 {
				t.Fatalf("%s: two lines hold %q", rel, text)
			}
			found = i + 1
		}
	}
	if found == 0 {
		t.Fatalf("%s: no line holds %q", rel, text)
	}
	return found
}

func (g *Graph) node(id string) *Node {
	for i := range g.Nodes {
		if g.Nodes[i].ID == id {
			return &g.Nodes[i]
		}
	}
	return nil
}

func (g *Graph) edge(from, to string) *Edge {
	for i := range g.Edges {
		if g.Edges[i].From == from && g.Edges[i].To == to {
			return &g.Edges[i]
		}
	}
	return nil
}

// Invariants that hold for every report: edges join nodes of the graph; the
// trace's edges carry exactly the wait of the lock chains (each wait is
// counted once, by its first hop); no edge joins two waiting lines of one
// named lock (that is a queue); cycle edges join different locks.
func TestInvariants(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			r := loadFixture(t, name)
			g := Build(r, fixtureLines(t))
			var traceNs, chainNs, queueNs int64
			for _, e := range g.Edges {
				from, to := g.node(e.From), g.node(e.To)
				if from == nil || to == nil {
					t.Fatalf("edge %s -> %s joins a missing node", e.From, e.To)
				}
				if from.Role != RoleWaits {
					t.Errorf("edge %s -> %s leaves a line where nobody waited (%s)", e.From, e.To, from.Role)
				}
				if from.Role == RoleWaits && to.Role == RoleWaits && from.Lock != "" && from.Lock == to.Lock {
					t.Errorf("edge %s -> %s joins two waits of %s: a queue, not an edge", e.From, e.To, from.Lock)
				}
				if e.Cycle && (from.Lock == to.Lock || !from.Cycle || !to.Cycle) {
					t.Errorf("cycle edge %s -> %s: locks %q, %q, marks %v, %v", e.From, e.To, from.Lock, to.Lock, from.Cycle, to.Cycle)
				}
				if e.Source == SourceTrace {
					traceNs += e.WaitNs
				}
			}
			for _, n := range g.Nodes {
				queueNs += n.QueueNs
			}
			for _, c := range r.Chains {
				if p, _ := primOf(c.Links[0].Primitive); contention.IsLockPrimitive(p) && len(c.Links) > 1 && c.Links[1].File != "" {
					chainNs += c.WaitNs
				}
			}
			if traceNs+queueNs != chainNs {
				t.Errorf("trace edges %d ns + queues %d ns, want the lock chains' %d ns", traceNs, queueNs, chainNs)
			}
		})
	}
}

// The inversion program takes accountsMu and ordersMu in both orders (in
// phases, so that it never deadlocks): the graph marks the one cycle, on
// the four Lock lines of the two orders, and nothing else.
func TestInversionCycle(t *testing.T) {
	const src = "internal/graph/testdata/inversion/main.go"
	g := Build(loadFixture(t, "inversion"), fixtureLines(t))
	id := func(m string) string { return siteID("/workspace/"+src, marker(t, src, m)) }
	if len(g.Cycles) != 1 {
		t.Fatalf("cycles %+v, want one", g.Cycles)
	}
	c := g.Cycles[0]
	if strings.Join(c.Locks, ",") != "accountsMu,ordersMu" {
		t.Errorf("cycle locks %v, want accountsMu and ordersMu", c.Locks)
	}
	want := []string{id("ab-first"), id("ab-second"), id("ba-first"), id("ba-second")}
	if strings.Join(c.Nodes, " ") != strings.Join(want, " ") {
		t.Errorf("cycle nodes %v, want %v", c.Nodes, want)
	}
	for _, e := range [][2]string{{"ab-first", "ab-second"}, {"ba-first", "ba-second"}} {
		if ed := g.edge(id(e[0]), id(e[1])); ed == nil || !ed.Cycle || ed.WaitNs <= 0 {
			t.Errorf("edge %s -> %s: %+v, want a cycle edge with wait time", e[0], e[1], ed)
		}
	}
	marked := 0
	for _, e := range g.Edges {
		if e.Cycle {
			marked++
		}
	}
	if marked != 2 {
		t.Errorf("%d cycle edges, want 2", marked)
	}
	for _, n := range g.Nodes {
		if n.Cycle != (n.ID == want[0] || n.ID == want[1] || n.ID == want[2] || n.ID == want[3]) {
			t.Errorf("node %s (%s %s): cycle %v", n.ID, n.Lock, n.Method, n.Cycle)
		}
	}
	// The audits release the locks the second Lock lines wait for.
	if e := g.edge(id("ab-second"), id("audit-orders-unlock")); e == nil || e.Cycle {
		t.Errorf("ab-second -> audit-orders-unlock: %+v, want a plain edge", e)
	}
}

// The deadlock program's cycle is a ring of its two waiting lines, each
// named by the lock it waits for, with an edge to the other (whose
// goroutine holds that lock) and no time, marked as a deadlock cycle; a
// goroutine that asks again for a lock it holds is a ring of one.
func TestDeadlockRing(t *testing.T) {
	const src = "testdata/stuck/deadlock/main.go"
	r := loadFixture(t, "deadlock")
	id := func(m string) string { return siteID("/workspace/"+src, marker(t, src, m)) }
	waitB, waitA := id("transfer-lock-b"), id("audit-lock-a")
	for _, lines := range []Lines{fixtureLines(t), nil} {
		g := Build(r, lines)
		if len(g.Cycles) != 1 || !g.Cycles[0].Deadlock || strings.Join(g.Cycles[0].Locks, ",") != "a,b" ||
			strings.Join(g.Cycles[0].Nodes, " ") != waitB+" "+waitA {
			t.Fatalf("cycles %+v, want one deadlock of a and b at %s and %s", g.Cycles, waitB, waitA)
		}
		for _, e := range [][2]string{{waitB, waitA}, {waitA, waitB}} {
			if ed := g.edge(e[0], e[1]); ed == nil || !ed.Cycle || ed.Source != SourceDeadlock || ed.WaitNs != 0 {
				t.Errorf("edge %s -> %s: %+v, want a deadlock edge with no time", e[0], e[1], ed)
			}
		}
		for _, n := range g.Nodes {
			if (n.ID == waitB && n.Lock != "b") || (n.ID == waitA && n.Lock != "a") || !n.Cycle || n.Role != RoleWaits {
				t.Errorf("node %+v", n)
			}
		}
	}

	if svg := writeSVG(t, Build(r, fixtureLines(t)), "deadlock"); !strings.Contains(string(svg), "deadlock: a ⇄ b") {
		t.Errorf("the SVG's legend does not name the deadlock:\n%s", svg)
	}

	self := *r
	self.Deadlocks = []contention.Deadlock{{Links: r.Deadlocks[0].Links[:1]}}
	g := Build(&self, nil)
	if len(g.Cycles) != 1 || !g.Cycles[0].Deadlock || len(g.Cycles[0].Nodes) != 1 {
		t.Fatalf("a ring of one: cycles %+v", g.Cycles)
	}
	one := siteID(r.Deadlocks[0].Links[0].WaitsAt.File, r.Deadlocks[0].Links[0].WaitsAt.Line)
	if ed := g.edge(one, one); ed == nil || !ed.Cycle {
		t.Errorf("a ring of one: edge %+v", ed)
	}
}

// The names decide what a queue is: without the source, the RWMutex
// readers (Get's RLock) waiting behind a writer queued at Refresh's Lock
// read as an edge between two lines; with it, both are c.mu, and the wait
// is the reader line's queue.
func TestQueueNeedsNames(t *testing.T) {
	const rel = "testdata/rwcache/main.go"
	r := loadFixture(t, "rwcache")
	get, refresh := siteID("/workspace/"+rel, lineOf(t, rel, "c.mu.RLock()")), siteID("/workspace/"+rel, lineOf(t, rel, "c.mu.Lock()"))
	named := Build(r, fixtureLines(t))
	unnamed := Build(r, nil)
	if n := named.node(get); n == nil || n.Lock != "c.mu" || n.Method != "RLock" {
		t.Fatalf("node %s: %+v, want c.mu RLock (the fixture's lines moved?)", get, n)
	}
	if e := named.edge(get, refresh); e != nil {
		t.Errorf("named: edge %s -> %s %+v, want none (a queue on c.mu)", get, refresh, e)
	}
	if n := named.node(get); n.QueueNs <= 0 || n.QueueCount <= 0 {
		t.Errorf("named: %s queue %d ns × %d, want the reader's wait behind the queued writer", get, n.QueueNs, n.QueueCount)
	}
	if e := unnamed.edge(get, refresh); e == nil || e.WaitNs != named.node(get).QueueNs {
		t.Errorf("unnamed: edge %s -> %s %+v, want one with the named graph's queue time", get, refresh, e)
	}
	// The writer queued behind writers at its own line: a queue either way.
	if n := unnamed.node(refresh); n.QueueNs <= 0 || unnamed.edge(refresh, refresh) != nil {
		t.Errorf("unnamed: %s queue %d ns, self edge %v: want a queue and no self edge", refresh, n.QueueNs, unnamed.edge(refresh, refresh))
	}
}

// Without a trace, each waiter line of a named lock is joined to every
// holder line of that lock, its wait split by the holders' delays.
func TestProfilesOnly(t *testing.T) {
	r := loadFixture(t, "inversion")
	r.Chains = nil
	g := Build(r, fixtureLines(t))
	if len(g.Edges) == 0 {
		t.Fatal("no edges from the profiles")
	}
	out := map[string]int64{}
	for _, e := range g.Edges {
		from, to := g.node(e.From), g.node(e.To)
		if e.Source != SourceProfiles || from.Lock != to.Lock || to.Role != RoleHolds || e.Cycle {
			t.Errorf("edge %s (%s) -> %s (%s %s): source %s cycle %v", e.From, from.Lock, e.To, to.Lock, to.Role, e.Source, e.Cycle)
		}
		out[e.From] += e.WaitNs
	}
	for _, n := range g.Nodes {
		if n.Role != RoleWaits {
			continue
		}
		// Rounding each share loses at most half a nanosecond per holder.
		if d := out[n.ID] - n.WaitNs; d < -4 || d > 4 {
			t.Errorf("%s (%s): edges carry %d ns, want its block delay %d ns", n.ID, n.Lock, out[n.ID], n.WaitNs)
		}
	}
	if len(g.Cycles) != 0 {
		t.Errorf("cycles %+v from profiles alone, want none (they do not say who held what while waiting)", g.Cycles)
	}
}

func TestLockExpr(t *testing.T) {
	for _, c := range []struct{ text, method, want string }{
		{"\tvaultMu.Lock() // lockscope:chain-waiter", "Lock", "vaultMu"},
		{"\tdefer c.mu.RUnlock()", "RUnlock", "c.mu"},
		{"\ts.Lock(); t.mu.Lock()", "Lock", "s"},
		{"\tif !a.b.mu.TryLock() {", "TryLock", "a.b.mu"},
		{"\tx.mu.Unlock(); y.mu.Lock()", "Lock", "y.mu"},
		{"\tx.mu.Unlock(); y.mu.Lock()", "RLock", "x.mu"},
		{"\twg.Wait()", "Wait", ""},
		{"\t// mu.Lock() in a comment", "Lock", ""},
		{"\tmu.Locker()", "Lock", ""},
	} {
		if got := LockExpr(c.text, c.method); got != c.want {
			t.Errorf("LockExpr(%q, %q) = %q, want %q", c.text, c.method, got, c.want)
		}
	}
}
