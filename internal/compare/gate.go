package compare

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/perf/benchmath"

	"github.com/lockscope/lockscope/internal/contention"
)

// Rule is a parsed --fail-on rule: fail when a lock line's wait per unit
// grows by more than Bound (0.2: 20%), beyond the noise (p below Alpha),
// and the line's wait is at least Floor per unit.
type Rule struct {
	Text  string
	Bound float64
	Alpha float64
	// Floor is the smallest wait per unit, in ns, that the gate looks at;
	// FloorShare, when Floor is not given, sets it to that share of the
	// base's whole lock wait per unit of the line's kind.
	Floor      float64
	FloorShare float64
}

var ruleRx = regexp.MustCompile(`^wait\+(\d+(?:\.\d+)?)%$`)

// DefaultFloorShare is the share of the base's lock wait under which a
// line is not judged: the same 1% under which the report calls no lock
// contended (mapwrites.Join). Smaller lines come and go between runs of
// the same code.
const DefaultFloorShare = 0.01

// ParseRule parses "wait+N%" with optional ",alpha=A" and ",min=DUR"
// (a Go duration: the floor per unit, e.g. min=500ns).
func ParseRule(s string) (Rule, error) {
	parts := strings.Split(s, ",")
	m := ruleRx.FindStringSubmatch(strings.TrimSpace(parts[0]))
	if m == nil {
		return Rule{}, fmt.Errorf("--fail-on %q: want wait+N%% (for example wait+20%%), then optionally ,alpha=0.05 and ,min=1us", s)
	}
	pct, _ := strconv.ParseFloat(m[1], 64)
	r := Rule{Text: s, Bound: pct / 100, Alpha: 0.05, FloorShare: DefaultFloorShare}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		switch {
		case ok && k == "alpha":
			a, err := strconv.ParseFloat(v, 64)
			if err != nil || a <= 0 || a >= 1 {
				return Rule{}, fmt.Errorf("--fail-on %q: alpha must be in (0, 1)", s)
			}
			r.Alpha = a
		case ok && k == "min":
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return Rule{}, fmt.Errorf("--fail-on %q: min must be a duration such as 1us", s)
			}
			r.Floor, r.FloorShare = float64(d.Nanoseconds()), 0
		default:
			return Rule{}, fmt.Errorf("--fail-on %q: unknown option %q (alpha=, min=)", s, p)
		}
	}
	return r, nil
}

// uTest is the p-value of a Mann-Whitney U test between two samples, as
// benchstat computes it (benchmath.AssumeNothing). Identical samples have
// no difference to find: p is 1.
func uTest(a, b []float64) float64 {
	th := &benchmath.Thresholds{CompareAlpha: 0.05}
	c := benchmath.AssumeNothing.Compare(benchmath.NewSample(a, th), benchmath.NewSample(b, th))
	if math.IsNaN(c.P) {
		return 1
	}
	return c.P
}

// minP is the smallest two-sided p-value of a Mann-Whitney U test with
// samples of n1 and n2 (all of one above all of the other).
func minP(n1, n2 int) float64 {
	if n1 == 0 || n2 == 0 {
		return 1
	}
	// 2 / C(n1+n2, n1)
	c := 1.0
	for i := 1; i <= n1; i++ {
		c = c * float64(n2+i) / float64(i)
	}
	return 2 / c
}

// median of a sample (benchmath's center under AssumeNothing).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := benchmath.AssumeNothing.Summary(benchmath.NewSample(v, &benchmath.DefaultThresholds), 0.95)
	return s.Center
}

// spread is the largest relative distance of a value from the median:
// the ± benchstat prints.
func spread(v []float64) float64 {
	m := median(v)
	if m == 0 {
		return 0
	}
	var d float64
	for _, x := range v {
		d = max(d, math.Abs(x-m)/m)
	}
	return d
}

// Gate judges every lock line of the two sides by the rule, over their
// repeated runs (base.Runs, cur.Runs). A line fails when its median wait
// per unit grew past the bound, the change is significant at the rule's
// alpha, and the line is above the floor; a line past the bound that the
// noise explains is listed in Noise. Lines are matched as Compare does. A
// line new in cur is past the bound when its wait is more than the bound
// times the base's whole lock wait of its kind (Change is then that
// ratio).
func Gate(base, cur *Side, rule Rule) *contention.Gate {
	g := &contention.Gate{Rule: rule.Text, Alpha: rule.Alpha, BaseRuns: len(base.Runs), Runs: len(cur.Runs),
		Failures: []contention.GateLine{}, Noise: []contention.GateLine{}, Judged: []contention.GateLine{}}
	type line struct {
		kind, file, fn string
		line           int
		isNew          bool
	}
	lines := map[string]*line{}
	var keys []string
	collect := func(s *Side, isCur bool) {
		for _, r := range s.Runs {
			for i := range r.Hotspots {
				h := &r.Hotspots[i]
				if !h.Lock || (h.Kind != contention.KindMutex && h.Kind != contention.KindBlock) {
					continue
				}
				k := hotspotKey(s.Starts, h)
				if l, ok := lines[k]; ok {
					if isCur {
						l.file, l.line = h.File, h.Line // name it where it is now
					}
					continue
				}
				lines[k] = &line{kind: h.Kind, file: h.File, fn: h.Function, line: h.Line, isNew: isCur}
				keys = append(keys, k)
			}
		}
	}
	collect(base, false)
	collect(cur, true)
	// The floor, per kind, from the base's whole lock wait per unit.
	floor, total := map[string]float64{}, map[string]float64{}
	for _, kind := range []string{contention.KindMutex, contention.KindBlock} {
		var tot []float64
		for i, r := range base.Runs {
			u := unitAt(base, i)
			var n float64
			for _, h := range r.Hotspots {
				if h.Lock && h.Kind == kind {
					n += float64(h.DelayNs)
				}
			}
			tot = append(tot, n/u)
		}
		total[kind] = median(tot)
		floor[kind] = rule.Floor
		if rule.FloorShare > 0 {
			floor[kind] = rule.FloorShare * total[kind]
		}
	}
	g.FloorPerUnit = slices.Max([]float64{floor[contention.KindMutex], floor[contention.KindBlock]})
	for _, k := range keys {
		l := lines[k]
		bv, cv := runValues(base, k), runValues(cur, k)
		bm, cm := median(bv), median(cv)
		gl := contention.GateLine{Kind: l.kind, File: l.file, Line: l.line, Function: l.fn,
			BasePerUnit: bm, PerUnit: cm, BaseSpread: spread(bv), Spread: spread(cv), New: bm == 0}
		switch {
		case bm > 0:
			gl.Change = cm/bm - 1
		case total[l.kind] > 0:
			// A new line has no base of its own: it is measured against
			// the base's whole lock wait of its side. A fix that moves a
			// little of the wait to a new line (a lock split into shards)
			// passes; a new lock that adds a fifth of the wait there was
			// does not.
			gl.Change = cm / total[l.kind]
		case cm > 0:
			gl.Change = math.MaxFloat64 // nothing waited before: more than any bound
		}
		if max(cm, bm) < floor[l.kind] {
			continue
		}
		gl.P = uTest(bv, cv)
		g.Judged = append(g.Judged, gl)
		if gl.Change <= rule.Bound || cm < floor[l.kind] {
			continue
		}
		if gl.P < rule.Alpha {
			g.Failures = append(g.Failures, gl)
		} else {
			g.Noise = append(g.Noise, gl)
		}
	}
	order := func(ls []contention.GateLine) {
		sort.SliceStable(ls, func(i, j int) bool { return ls[i].PerUnit-ls[i].BasePerUnit > ls[j].PerUnit-ls[j].BasePerUnit })
	}
	order(g.Failures)
	order(g.Noise)
	order(g.Judged)
	g.Passed = len(g.Failures) == 0
	// The smallest p-value a U test can reach grows as the samples
	// shrink: below it, no change is significant, however large.
	if n := min(len(base.Runs), len(cur.Runs)); minP(len(base.Runs), len(cur.Runs)) >= rule.Alpha {
		g.Warnings = append(g.Warnings, fmt.Sprintf("with %d and %d runs no change can be significant at alpha %g: the gate cannot fail; use --count 5 or more on both sides", len(base.Runs), len(cur.Runs), rule.Alpha))
	} else if n < 5 {
		g.Warnings = append(g.Warnings, fmt.Sprintf("only %d run(s) on one side: small changes will pass as noise; --count 10 tells them apart better", n))
	}
	return g
}

func unitAt(s *Side, i int) float64 {
	if i < len(s.RunUnits) && s.RunUnits[i] > 0 {
		return s.RunUnits[i]
	}
	return 1
}
