package compare

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/report"
	"github.com/lockscope/lockscope/internal/testutil"
)

// The first lines found for the shards program's lock lines give the
// same offsets before and after the fix, which moves them 22 lines down.
func TestStartsFollowTheFunction(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "shards")
	before := filepath.Join(dir, "store.go")
	after := filepath.Join(dir, "fix", "store.go.txt")
	b, a := testutil.MarkerLine(t, before, "stats-lock"), testutil.MarkerLine(t, after, "stats-lock")
	bu, au := testutil.MarkerLine(t, before, "stats-unlock"), testutil.MarkerLine(t, after, "stats-unlock")
	rep := func(file string, lines ...int) *contention.Report {
		r := contention.Empty()
		for _, l := range lines {
			r.Hotspots = append(r.Hotspots, contention.Hotspot{Kind: contention.KindBlock, File: file, Line: l, Function: "main.(*Stats).Tick"})
		}
		return r
	}
	sb := StartsOf(rep(before, b, bu), os.ReadFile)
	sa := StartsOf(rep(after, a, au), os.ReadFile)
	if a == b || sb.Start(before, b) == 0 {
		t.Fatalf("lines %d and %d, start %d: the fixture no longer moves the lock", b, a, sb.Start(before, b))
	}
	if b-sb.Start(before, b) != a-sa.Start(after, a) {
		t.Errorf("Tick's Lock: offset %d before the fix, %d after", b-sb.Start(before, b), a-sa.Start(after, a))
	}
	// Hold's Unlock is in another function, whose start is its own.
	if sb.Start(before, bu) == sb.Start(before, b) || bu-sb.Start(before, bu) != au-sa.Start(after, au) {
		t.Errorf("Hold's Unlock: starts %d/%d, offsets %d/%d", sb.Start(before, bu), sa.Start(after, au),
			bu-sb.Start(before, bu), au-sa.Start(after, au))
	}
	// A closure's lines count from the func literal.
	main := filepath.Join(dir, "main.go")
	src, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(src), "\n")
	var lit, inside int
	for i, l := range lines {
		if strings.Contains(l, "go func() {") && lit == 0 {
			lit = i + 1
		}
		if strings.Contains(l, "s.Add(keys[") {
			inside = i + 1
		}
	}
	sm := StartsOf(rep(main, inside), os.ReadFile)
	if sm.Start(main, inside) != lit {
		t.Errorf("main.go:%d is in the func literal at line %d; start %d", inside, lit, sm.Start(main, inside))
	}
	if got := StartsOf(rep("/nonexistent/x.go", 3), os.ReadFile).Start("/nonexistent/x.go", 3); got != 0 {
		t.Errorf("an unreadable file has start %d, want 0 (match by line)", got)
	}
}

// recorded analyses a recorded profile of testdata/profiles into a side.
func recorded(t *testing.T, names ...string) *Side {
	t.Helper()
	b := report.NewBuilder()
	totals := map[string]int64{}
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(testutil.ModuleRoot(t), "testdata", "profiles", n))
		if err != nil {
			t.Fatal(err)
		}
		p, err := b.AnalyzeProfile(context.Background(), "", data, contention.Source{Path: n, DurationNs: 2e9})
		if err != nil {
			t.Fatal(err)
		}
		b.Add(p)
	}
	r := b.Build()
	return &Side{Report: r, Starts: StartsOf(r, os.ReadFile), Totals: totals}
}

// A capture compared with itself: every entry is matched, none changed,
// nothing gone.
func TestCompareWithItself(t *testing.T) {
	base := recorded(t, "ledger.mutex.pb.gz", "ledger.block.pb.gz")
	cur := recorded(t, "ledger.mutex.pb.gz", "ledger.block.pb.gz")
	Compare(base, cur, Options{})
	c := cur.Report.Comparison
	if c.Unit != contention.UnitSecond || c.Units != 2 {
		t.Errorf("unit %q over %g, want per second over 2 s", c.Unit, c.Units)
	}
	if len(c.Gone.Hotspots) != 0 {
		t.Errorf("%d hotspots gone comparing a capture with itself", len(c.Gone.Hotspots))
	}
	for _, h := range cur.Report.Hotspots {
		if h.Base == nil || h.Base.Status != contention.ChangeSame || h.Base.BaseDelayNs != h.DelayNs || h.Base.BaseLine != h.Line {
			t.Errorf("%s %s:%d: %+v, want same with its own value", h.Kind, filepath.Base(h.File), h.Line, h.Base)
		}
	}
}

// Two different programs: everything of one is gone, everything of the
// other new, with their values.
func TestCompareDifferentPrograms(t *testing.T) {
	base := recorded(t, "ledger.mutex.pb.gz")
	cur := recorded(t, "rwcache.mutex.pb.gz")
	Compare(base, cur, Options{})
	c := cur.Report.Comparison
	if len(c.Gone.Hotspots) != len(base.Report.Hotspots) || len(c.Gone.Hotspots) == 0 {
		t.Errorf("%d hotspots gone, want all %d of the base", len(c.Gone.Hotspots), len(base.Report.Hotspots))
	}
	for _, h := range c.Gone.Hotspots {
		if h.Base.Status != contention.ChangeGone || h.Base.BasePerUnit != float64(h.DelayNs)/2 || *h.Base.Change != -1 {
			t.Errorf("gone %s:%d: %+v", filepath.Base(h.File), h.Line, *h.Base)
		}
	}
	for _, h := range cur.Report.Hotspots {
		if h.Base.Status != contention.ChangeNew || h.Base.Change != nil {
			t.Errorf("%s:%d: %+v, want new", filepath.Base(h.File), h.Line, *h.Base)
		}
	}
}

// Per op when both sides report their work; the change is computed on
// the normalised values, so twice the wait for twice the ops is "same".
func TestCompareNormalisesByWork(t *testing.T) {
	base := recorded(t, "ledger.mutex.pb.gz")
	cur := recorded(t, "ledger.mutex.pb.gz", "ledger.mutex.pb.gz") // twice the wait
	base.Info.Work = &contention.Work{Ops: 1000, Runs: 1}
	cur.Info.Work = &contention.Work{Ops: 2000, Runs: 1}
	Compare(base, cur, Options{})
	if cur.Report.Comparison.Unit != contention.UnitOp {
		t.Fatalf("unit %q, want op", cur.Report.Comparison.Unit)
	}
	for _, h := range cur.Report.Hotspots {
		if h.Base.Status != contention.ChangeSame || math.Abs(*h.Base.Change) > 1e-9 {
			t.Errorf("%s:%d: %+v: twice the wait over twice the ops is no change", filepath.Base(h.File), h.Line, *h.Base)
		}
	}
	cur.Info.Work = nil
	base.Report.Comparison = nil
	cur2 := recorded(t, "ledger.mutex.pb.gz", "ledger.mutex.pb.gz")
	Compare(base, cur2, Options{})
	if cur2.Report.Comparison.Unit != contention.UnitSecond || !strings.Contains(cur2.Report.Comparison.UnitNote, "only one capture reports its work") {
		t.Errorf("one side with work: unit %q (%s), want per second, saying why", cur2.Report.Comparison.Unit, cur2.Report.Comparison.UnitNote)
	}
	for _, h := range cur2.Report.Hotspots {
		if h.Base.Status != contention.ChangeWorse {
			t.Errorf("%s:%d: twice the wait per second is worse, got %s", filepath.Base(h.File), h.Line, h.Base.Status)
		}
	}
}

func TestParseRule(t *testing.T) {
	for _, tc := range []struct {
		in          string
		bound, a, f float64
		share       float64
		err         string
	}{
		{in: "wait+20%", bound: 0.2, a: 0.05, share: DefaultFloorShare},
		{in: "wait+5.5%,alpha=0.01", bound: 0.055, a: 0.01, share: DefaultFloorShare},
		{in: "wait+20%,min=2us", bound: 0.2, a: 0.05, f: 2000},
		{in: "wait>20%", err: "want wait+N%"},
		{in: "wait+20%,alpha=2", err: "alpha must be"},
		{in: "wait+20%,min=x", err: "min must be"},
		{in: "wait+20%,p=1", err: "unknown option"},
	} {
		r, err := ParseRule(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || math.Abs(r.Bound-tc.bound) > 1e-12 || r.Alpha != tc.a || r.Floor != tc.f || r.FloorShare != tc.share {
			t.Errorf("%q: %+v, %v", tc.in, r, err)
		}
	}
}

// runs makes a side of repeated runs with one lock line whose wait per op
// in each run is given.
func runs(perOp ...float64) *Side {
	s := &Side{Report: contention.Empty()}
	for _, v := range perOp {
		r := contention.Empty()
		r.Hotspots = []contention.Hotspot{{Kind: contention.KindBlock, File: "/p/x.go", Line: 10, Function: "main.f", Lock: true, DelayNs: int64(v * 1000)}}
		s.Runs = append(s.Runs, r)
		s.RunUnits = append(s.RunUnits, 1000)
	}
	return s
}

// The gate's statistics: a rise past the bound that every run shows
// fails; the same rise in medians with runs that overlap is noise; a rise
// under the bound passes whatever its p-value.
func TestGateStatistics(t *testing.T) {
	rule, _ := ParseRule("wait+20%")
	clear := Gate(runs(100, 101, 99, 100, 102), runs(150, 151, 149, 152, 150), rule)
	if clear.Passed || len(clear.Failures) != 1 || clear.Failures[0].P >= 0.05 {
		t.Errorf("a clear 50%% rise: %+v, want one failure", clear)
	}
	if f := clear.Failures[0]; f.BasePerUnit != 100 || f.PerUnit != 150 {
		t.Errorf("failure %+v: want the medians 100 and 150", f)
	}
	noisy := Gate(runs(100, 40, 160, 90, 200), runs(130, 60, 180, 30, 150), rule)
	if !noisy.Passed || len(noisy.Noise) != 1 {
		t.Errorf("a 30%% rise in the medians of overlapping runs: %+v, want passed, as noise", noisy)
	}
	small := Gate(runs(100, 101, 99, 100, 102), runs(110, 111, 109, 110, 112), rule)
	if !small.Passed || len(small.Judged) != 1 || small.Judged[0].P >= 0.05 {
		t.Errorf("a significant 10%% rise under a 20%% bound: %+v, want passed and judged", small)
	}
	few := Gate(runs(100, 101), runs(150, 151), rule)
	if !few.Passed {
		t.Errorf("two runs a side cannot show significance at 0.05 (U test): %+v", few)
	}
}

// An edit above a hotspot moves it, and it still matches its base: the
// shards fix moves the Stats lock down 22 lines. The coarse Lock's old
// line number, which holds other code after the edit, matches nothing.
func TestCompareMatchesByOffset(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "shards")
	before := filepath.Join(dir, "store.go")
	after := filepath.Join(dir, "fix", "store.go.txt")
	side := func(file string, hs ...contention.Hotspot) *Side {
		r := contention.Empty()
		for _, h := range hs {
			h.File, h.Kind, h.Lock, h.DelayNs = file, contention.KindBlock, true, 1e9
			r.Hotspots = append(r.Hotspots, h)
		}
		return &Side{Report: r, Starts: StartsOf(r, os.ReadFile)}
	}
	stats := "main.(*Stats).Tick"
	add := "main.(*Store).Add"
	coarse := testutil.MarkerLine(t, before, "coarse-lock")
	base := side(before,
		contention.Hotspot{Line: testutil.MarkerLine(t, before, "stats-lock"), Function: stats},
		contention.Hotspot{Line: coarse, Function: add})
	cur := side(after,
		contention.Hotspot{Line: testutil.MarkerLine(t, after, "stats-lock"), Function: stats},
		contention.Hotspot{Line: testutil.MarkerLine(t, after, "shard-lock"), Function: add})
	Compare(base, cur, Options{})
	for _, h := range cur.Report.Hotspots {
		switch h.Function {
		case stats:
			if h.Base.Status != contention.ChangeSame || h.Base.BaseLine != base.Report.Hotspots[0].Line {
				t.Errorf("the moved Stats lock: %+v, want matched to line %d", *h.Base, base.Report.Hotspots[0].Line)
			}
		case add:
			if h.Base.Status != contention.ChangeNew {
				t.Errorf("the shard lock: %+v, want new", *h.Base)
			}
		}
	}
	if g := cur.Report.Comparison.Gone.Hotspots; len(g) != 1 || g[0].Line != coarse {
		t.Errorf("gone: %+v, want the coarse Lock only", g)
	}
}

// A Lock that an edit moved onto the offset where the base had a channel
// wait is new, and the channel wait gone: not one line that got worse
// (seen in a debug session of the shards fix).
func TestCompareLockNeverMatchesAChannelWait(t *testing.T) {
	side := func(lock bool, delay int64) *Side {
		r := contention.Empty()
		r.Hotspots = []contention.Hotspot{{Kind: contention.KindBlock, File: "/p/x.go", Line: 23, Function: "main.(*Store).Add", Lock: lock, DelayNs: delay}}
		r.Sources = []contention.Source{{Kind: contention.KindBlock, DurationNs: 1e9}}
		return &Side{Report: r}
	}
	base, cur := side(false, 4e4), side(true, 7e7)
	Compare(base, cur, Options{})
	if h := cur.Report.Hotspots[0]; h.Base == nil || h.Base.Status != contention.ChangeNew {
		t.Errorf("the Lock on the channel wait's offset: %+v, want new", h.Base)
	}
	if g := cur.Report.Comparison.Gone.Hotspots; len(g) != 1 || g[0].Lock {
		t.Errorf("gone: %+v, want the channel wait", g)
	}
}

// A line new in the new capture is measured against the base's whole
// lock wait of its kind: a tenth of it passes a 20% bound (a lock split
// into shards leaves a little wait on the new line), half of it fails.
func TestGateNewLines(t *testing.T) {
	rule, _ := ParseRule("wait+20%")
	withNew := func(newPerOp float64) *Side {
		s := runs(100, 101, 99, 100, 102)
		for _, r := range s.Runs {
			r.Hotspots = append(r.Hotspots, contention.Hotspot{Kind: contention.KindBlock, File: "/p/x.go", Line: 30, Function: "main.g", Lock: true, DelayNs: int64(newPerOp * 1000)})
		}
		return s
	}
	if g := Gate(runs(100, 101, 99, 100, 102), withNew(10), rule); !g.Passed {
		t.Errorf("a new line with a tenth of the base's wait: %+v, want passed", g.Failures)
	}
	g := Gate(runs(100, 101, 99, 100, 102), withNew(50), rule)
	if g.Passed || len(g.Failures) != 1 || !g.Failures[0].New || math.Abs(g.Failures[0].Change-0.5) > 0.02 {
		t.Errorf("a new line with half the base's wait: %+v, want one failure, new, change 0.5", g.Failures)
	}
}

// A chain, one trace window's sample, is called worse only past twice
// its base; a hotspot past DefaultThreshold.
func TestChainThreshold(t *testing.T) {
	chain := func(wait int64) *Side {
		r := contention.Empty()
		r.Chains = []contention.Chain{{WaitNs: wait, Lock: true, Links: []contention.Link{{File: "/p/x.go", Line: 5, Function: "main.f", Role: "waits"}}}}
		r.Sources = []contention.Source{{Kind: contention.KindMutex, DurationNs: 1e9}}
		return &Side{Report: r}
	}
	for _, tc := range []struct {
		wait int64
		want string
	}{{1800, contention.ChangeSame}, {2500, contention.ChangeWorse}, {600, contention.ChangeSame}, {400, contention.ChangeBetter}} {
		cur := chain(tc.wait)
		Compare(chain(1000), cur, Options{})
		if got := cur.Report.Chains[0].Base.Status; got != tc.want {
			t.Errorf("chain 1000 → %d: %s, want %s", tc.wait, got, tc.want)
		}
	}
}

// With too few runs the U test can never reach alpha: the gate says so
// rather than pass in silence.
func TestGateWarnsOfTooFewRuns(t *testing.T) {
	rule, _ := ParseRule("wait+20%")
	g := Gate(runs(100, 101, 99), runs(300, 301, 299), rule)
	if !g.Passed || len(g.Warnings) != 1 || !strings.Contains(g.Warnings[0], "cannot fail") {
		t.Errorf("3 runs a side: passed %v, warnings %q; want a pass that says it cannot fail", g.Passed, g.Warnings)
	}
	if g := Gate(runs(100, 101, 99, 100, 102), runs(300, 301, 299, 302, 300), rule); g.Passed || len(g.Warnings) != 0 {
		t.Errorf("5 runs a side: passed %v, warnings %q; want a failure without warnings", g.Passed, g.Warnings)
	}
	if p := minP(4, 4); math.Abs(p-2.0/70) > 1e-12 {
		t.Errorf("minP(4, 4) = %g, want 2/70", p)
	}
}
