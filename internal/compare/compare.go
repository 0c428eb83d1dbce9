// Package compare compares two lockscope reports, a base capture and a
// new one, entry by entry: hotspots, blocking chains and map writes. It is
// how "did the fix work?" gets an answer on the lines themselves
// (`lockscope analyze --base`, `lockscope diff`), and how a CI gate
// decides that a lock got hotter ([Gate]).
//
// Entries match by kind, by function and by the line's offset from the
// first line of its function ([Starts]), so an edit above a hotspot does
// not break the match. Values are normalised by the work each side
// reports (benchmark iterations) or, failing that, by wall time, so a
// longer run is not a worse one.
//
// The package knows nothing of files and processes: the captures come in
// as reports with their [Starts] and their work.
package compare

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/lockscope/lockscope/internal/contention"
)

// DefaultThreshold is the relative change under which an entry of a
// single run is "same": lock wait varies by more than that from run to
// run of the same code (see Gate for the statistics over repeated runs).
const DefaultThreshold = 0.25

// ChainThreshold is the same for chains, which come from a single trace
// window: a chain is better or worse only when its wait per unit more
// than doubled or fell by more than half.
const ChainThreshold = 1.0

// Side is one capture of a comparison.
type Side struct {
	Report *contention.Report
	Info   contention.Capture
	Starts Starts
	// Totals are the whole profiles' wait by kind (every sample, as pprof
	// counts them), when the raw profiles are at hand.
	Totals map[string]int64
	// Runs are the reports of each run, for a capture of repeated runs
	// (the gate's samples), with RunUnits the ops (or seconds) of each.
	Runs     []*contention.Report
	RunUnits []float64
}

// Options tune a comparison.
type Options struct {
	// Threshold is the relative change under which an entry is "same"
	// (DefaultThreshold when 0).
	Threshold float64
	// Alpha is the significance level for sides with repeated runs
	// (benchstat's 0.05 when 0).
	Alpha float64
}

// units returns the unit of the comparison and each side's amount of it.
func units(base, cur *Side) (unit string, b, c float64, note string) {
	bw, cw := base.Info.Work, cur.Info.Work
	if bw != nil && cw != nil && bw.Ops > 0 && cw.Ops > 0 {
		note = fmt.Sprintf("per benchmark op (%d ops in %d run(s) against %d in %d)", cw.Ops, cw.Runs, bw.Ops, bw.Runs)
		if n := benchmarks(bw, cw); n > 1 {
			note += fmt.Sprintf("; the ops of %d benchmarks are summed: give --bench one benchmark for a per-op figure of its own", n)
		}
		// go test's ramp-up runs (b.N = 1, 100, ...) are in the profiles
		// but not in the ops it prints; -test.benchtime=Nx leaves one.
		note += "; the profiles also hold go test's ramp-up runs, which -test.benchtime=Nx reduces to one op"
		return contention.UnitOp, float64(bw.Ops), float64(cw.Ops), note
	}
	bs, cs := seconds(base), seconds(cur)
	if bs > 0 && cs > 0 {
		why := "neither capture reports its work"
		if bw != nil || cw != nil {
			why = "only one capture reports its work (benchmark ops)"
		}
		return contention.UnitSecond, bs, cs, fmt.Sprintf("per second of capture (%.3g s against %.3g s): %s", cs, bs, why)
	}
	return "capture", 1, 1, "per capture, not normalised: the length of a capture is not known"
}

// benchmarks counts the distinct benchmarks of both sides.
func benchmarks(ws ...*contention.Work) int {
	names := map[string]bool{}
	for _, w := range ws {
		for _, b := range w.Benchmarks {
			names[b.Name] = true
		}
	}
	return len(names)
}

// seconds is how long a side's profiles cover.
func seconds(s *Side) float64 {
	if s.Info.DurationNs > 0 {
		return float64(s.Info.DurationNs) / 1e9
	}
	var ns int64
	for _, src := range s.Report.Sources {
		if src.Kind == contention.KindMutex || src.Kind == contention.KindBlock {
			ns = max(ns, src.DurationNs)
		}
	}
	return float64(ns) / 1e9
}

// offsetKey names a line by its function and its offset in the function
// (or its absolute line when the function's first line is not known).
func offsetKey(st Starts, file string, line int, fn string) string {
	if s := st.Start(file, line); s > 0 {
		return fn + "+" + strconv.Itoa(line-s)
	}
	return fn + "@" + strconv.Itoa(line)
}

// hotspotKey matches a hotspot with its base. A lock wait and a channel or
// WaitGroup wait are never the same line, even at the same offset in the
// same function: when an edit moves a Lock onto the offset where the base
// had a channel wait, the two are new and gone, not one line got worse.
func hotspotKey(st Starts, h *contention.Hotspot) string {
	side := "wait"
	if h.Lock {
		side = "lock"
	}
	return h.Kind + "|" + side + "|" + offsetKey(st, h.File, h.Line, h.Function)
}

func chainKey(st Starts, c *contention.Chain) string {
	var parts []string
	for _, l := range c.Links {
		parts = append(parts, offsetKey(st, l.File, l.Line, l.Function)+"/"+l.Role)
	}
	return strings.Join(parts, " > ")
}

func mapWriteKey(st Starts, m *contention.MapWrite) string {
	return offsetKey(st, m.File, m.Line, m.Function) + "|" + m.Map + "|" + m.Op
}

// Compare adds to cur.Report its comparison with base: each hotspot,
// chain and map write gets its Base change, and the report gets a
// Comparison with the unit, the totals and the base's entries that are
// gone. cur.Report is changed in place; base is not.
func Compare(base, cur *Side, o Options) {
	if o.Threshold <= 0 {
		o.Threshold = DefaultThreshold
	}
	if o.Alpha <= 0 {
		o.Alpha = 0.05
	}
	unit, bu, cu, note := units(base, cur)
	cmp := &contention.Comparison{Base: base.Info, Unit: unit, UnitNote: note, BaseUnits: bu, Units: cu, Threshold: o.Threshold}
	r := cur.Report
	judge := func(c *contention.Change, key string) {
		c.BasePerUnit = float64(c.BaseDelayNs) / bu
		status(c, o, base, cur, key)
	}

	// Hotspots.
	bh := map[string]*contention.Hotspot{}
	for i := range base.Report.Hotspots {
		h := &base.Report.Hotspots[i]
		k := hotspotKey(base.Starts, h)
		if prev, ok := bh[k]; ok {
			// Two lines of one offset (two files of one function name):
			// summed, as a merged hotspot would be.
			m := *prev
			m.DelayNs += h.DelayNs
			m.Count += h.Count
			h = &m
		}
		bh[k] = h
	}
	seen := map[string]bool{}
	for i := range r.Hotspots {
		h := &r.Hotspots[i]
		k := hotspotKey(cur.Starts, h)
		seen[k] = true
		c := &contention.Change{PerUnit: float64(h.DelayNs) / cu}
		if b, ok := bh[k]; ok {
			c.BaseDelayNs, c.BaseCount, c.BaseFile, c.BaseLine = b.DelayNs, b.Count, b.File, b.Line
		}
		judge(c, "h:"+k)
		if _, ok := bh[k]; !ok {
			c.Status = contention.ChangeNew
		}
		h.Base = c
	}
	for k, b := range bh {
		if seen[k] {
			continue
		}
		g := *b
		g.Stacks = nil
		g.Base = gone(b.DelayNs, b.Count, bu, b.File, b.Line)
		cmp.Gone.Hotspots = append(cmp.Gone.Hotspots, g)
	}
	contention.SortHotspots(cmp.Gone.Hotspots)

	// Chains.
	bc := map[string]*contention.Chain{}
	for i := range base.Report.Chains {
		c := &base.Report.Chains[i]
		bc[chainKey(base.Starts, c)] = c
	}
	seen = map[string]bool{}
	for i := range r.Chains {
		ch := &r.Chains[i]
		k := chainKey(cur.Starts, ch)
		seen[k] = true
		c := &contention.Change{PerUnit: float64(ch.WaitNs) / cu}
		b, ok := bc[k]
		if ok {
			c.BaseDelayNs, c.BaseCount = b.WaitNs, b.Count
			if len(b.Links) > 0 {
				c.BaseFile, c.BaseLine = b.Links[0].File, b.Links[0].Line
			}
		}
		// A chain comes from one trace window, a single sample whatever
		// the runs: the same code gave chains twice as heavy from one
		// window to the next (shards benchmark, 2026-12-01), so only a
		// change beyond that is called better or worse.
		co := o
		co.Threshold = max(o.Threshold, ChainThreshold)
		c.BasePerUnit = float64(c.BaseDelayNs) / bu
		status(c, co, base, cur, "c:"+k)
		if !ok {
			c.Status = contention.ChangeNew
		}
		ch.Base = c
	}
	for k, b := range bc {
		if seen[k] {
			continue
		}
		g := *b
		var f string
		var l int
		if len(b.Links) > 0 {
			f, l = b.Links[0].File, b.Links[0].Line
		}
		g.Base = gone(b.WaitNs, b.Count, bu, f, l)
		cmp.Gone.Chains = append(cmp.Gone.Chains, g)
	}
	sort.SliceStable(cmp.Gone.Chains, func(i, j int) bool { return cmp.Gone.Chains[i].WaitNs > cmp.Gone.Chains[j].WaitNs })

	// Map writes: their wait is the wait for the lock that guards them.
	// A side made without the source index has no map writes to compare:
	// calling every write of the other "new" or "gone" would say nothing
	// true.
	if indexed(base.Report) && indexed(r) {
		compareMapWrites(base, cur, cmp, judge, bu, cu)
	}
	if cmp.Gone.Hotspots == nil {
		cmp.Gone.Hotspots = []contention.Hotspot{}
	}
	if cmp.Gone.Chains == nil {
		cmp.Gone.Chains = []contention.Chain{}
	}
	if cmp.Gone.MapWrites == nil {
		cmp.Gone.MapWrites = []contention.MapWrite{}
	}

	// Totals, per profile kind.
	for _, kind := range []string{contention.KindMutex, contention.KindBlock} {
		t := contention.Total{Kind: kind, BaseDelayNs: base.Totals[kind], DelayNs: cur.Totals[kind]}
		t.LockBaseDelayNs = lockTotal(base.Report, kind)
		t.LockDelayNs = lockTotal(cur.Report, kind)
		t.BasePerUnit, t.PerUnit = float64(t.BaseDelayNs)/bu, float64(t.DelayNs)/cu
		cmp.Totals = append(cmp.Totals, t)
	}
	r.Comparison = cmp
}

// compareMapWrites gives each map write of cur its base and change, and
// lists the base's contended writes that are gone.
func compareMapWrites(base, cur *Side, cmp *contention.Comparison, judge func(*contention.Change, string), bu, cu float64) {
	r := cur.Report
	bm := map[string]*contention.MapWrite{}
	for i := range base.Report.MapWrites {
		m := &base.Report.MapWrites[i]
		bm[mapWriteKey(base.Starts, m)] = m
	}
	seen := map[string]bool{}
	for i := range r.MapWrites {
		m := &r.MapWrites[i]
		k := mapWriteKey(cur.Starts, m)
		seen[k] = true
		c := &contention.Change{PerUnit: float64(m.WaitNs) / cu}
		b, ok := bm[k]
		if ok {
			c.BaseDelayNs, c.BaseFile, c.BaseLine = b.WaitNs, b.File, b.Line
		}
		judge(c, "m:"+k)
		if !ok {
			c.Status = contention.ChangeNew
		}
		m.Base = c
	}
	for k, b := range bm {
		if seen[k] || !(b.Contended || b.WaitNs > 0) {
			continue // a write that was never contended did not go anywhere
		}
		g := *b
		g.Base = gone(b.WaitNs, 0, bu, b.File, b.Line)
		cmp.Gone.MapWrites = append(cmp.Gone.MapWrites, g)
	}
	sort.SliceStable(cmp.Gone.MapWrites, func(i, j int) bool { return cmp.Gone.MapWrites[i].WaitNs > cmp.Gone.MapWrites[j].WaitNs })
}

// indexed reports whether the report had the source index, so that its
// map writes are known.
func indexed(r *contention.Report) bool {
	for _, s := range r.Sources {
		if s.Kind == contention.KindSource {
			return true
		}
	}
	return len(r.MapWrites) > 0
}

func lockTotal(r *contention.Report, kind string) int64 {
	var n int64
	for _, h := range r.Hotspots {
		if h.Kind == kind && h.Lock {
			n += h.DelayNs
		}
	}
	return n
}

func gone(delay, count int64, bu float64, file string, line int) *contention.Change {
	ch := -1.0
	return &contention.Change{Status: contention.ChangeGone, BaseDelayNs: delay, BaseCount: count,
		BasePerUnit: float64(delay) / bu, Change: &ch, BaseFile: file, BaseLine: line}
}

// status sets c's change and status. With repeated runs on both sides, a
// change the runs' noise explains (Mann-Whitney U, p above alpha) is
// "same", whatever its size.
func status(c *contention.Change, o Options, base, cur *Side, key string) {
	if c.BasePerUnit == 0 {
		if c.PerUnit == 0 {
			c.Status = contention.ChangeSame
		} else {
			c.Status = contention.ChangeNew
		}
		return
	}
	ch := c.PerUnit/c.BasePerUnit - 1
	c.Change = &ch
	switch {
	case ch > o.Threshold:
		c.Status = contention.ChangeWorse
	case ch < -o.Threshold/(1+o.Threshold):
		// Symmetric in ratio: +25% and -20% (1/1.25) are the same step.
		c.Status = contention.ChangeBetter
	default:
		c.Status = contention.ChangeSame
	}
	if len(base.Runs) >= 2 && len(cur.Runs) >= 2 && strings.HasPrefix(key, "h:") {
		k := strings.TrimPrefix(key, "h:")
		bv, cv := runValues(base, k), runValues(cur, k)
		p := uTest(bv, cv)
		c.P = &p
		if p > o.Alpha {
			c.Status = contention.ChangeSame
		}
	}
}

// runValues are a hotspot's wait per unit in each run of a side.
func runValues(s *Side, key string) []float64 {
	out := make([]float64, len(s.Runs))
	for i, r := range s.Runs {
		u := 1.0
		if i < len(s.RunUnits) && s.RunUnits[i] > 0 {
			u = s.RunUnits[i]
		}
		for j := range r.Hotspots {
			h := &r.Hotspots[j]
			if hotspotKey(s.Starts, h) == key {
				out[i] += float64(h.DelayNs) / u
			}
		}
	}
	return out
}

// Ratio formats a change for a person: "-92%", "+25%", "new", "gone".
func Ratio(c *contention.Change) string {
	switch {
	case c == nil:
		return ""
	case c.Status == contention.ChangeNew:
		return "new"
	case c.Status == contention.ChangeGone:
		return "gone"
	case c.Change == nil:
		return ""
	case math.IsInf(*c.Change, 1):
		return "new"
	}
	return fmt.Sprintf("%+.0f%%", *c.Change*100)
}
