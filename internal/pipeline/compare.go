// Comparisons with a saved capture: a capture made into one side of
// internal/compare's comparison, for `lockscope analyze --base`,
// `lockscope diff` and lockscope/compare alike.

package pipeline

import (
	"bytes"
	"context"
	"fmt"

	"github.com/lockscope/lockscope/internal/compare"
	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/profiles"
)

// SideOf turns a saved capture into one side of a comparison: its report
// as saved, the totals of its raw profiles (every sample, as pprof counts
// them), and one report per run (each run's profiles analysed on their
// own) for the statistics.
func SideOf(ctx context.Context, c *Capture) (*compare.Side, error) {
	name := c.Path
	if name == "" {
		name = "the capture"
	}
	s := &compare.Side{Report: c.Report, Info: c.Info, Starts: c.Starts, Totals: map[string]int64{}}
	byKind := map[string][]SavedProfile{}
	for _, p := range c.Profiles {
		res, err := profiles.AnalyzeBytes(ctx, p.Data, name, p.Kind)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		s.Totals[p.Kind] += res.TotalDelayNs
		byKind[p.Kind] = append(byKind[p.Kind], p)
	}
	runs := 1
	if c.Info.Work != nil && c.Info.Work.Runs > 1 {
		runs = c.Info.Work.Runs
	}
	for i := 0; i < runs; i++ {
		p := New()
		for _, kind := range []string{contention.KindMutex, contention.KindBlock} {
			ps := byKind[kind]
			if len(ps) != runs {
				if len(ps) > 0 && runs > 1 {
					return nil, fmt.Errorf("%s: %d %s profiles for %d runs", name, len(ps), kind, runs)
				}
				// One run of several profiles (files loaded together):
				// they are the run.
				for _, sp := range ps {
					part, err := p.Profile(ctx, kind, sp.Data, sp.Source)
					if err != nil {
						return nil, fmt.Errorf("%s: %w", name, err)
					}
					p.Add(part)
				}
				continue
			}
			part, err := p.Profile(ctx, kind, ps[i].Data, ps[i].Source)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			p.Add(part)
		}
		s.Runs = append(s.Runs, p.Build())
		u := 1.0
		if w := c.Info.Work; w != nil {
			var ops int64
			for _, b := range w.Benchmarks {
				if b.Run == i+1 || runs == 1 {
					ops += b.N
				}
			}
			u = float64(ops)
		} else if d := runSeconds(s.Runs[i]); d > 0 {
			u = d
		}
		s.RunUnits = append(s.RunUnits, u)
	}
	return s, nil
}

func runSeconds(r *contention.Report) float64 {
	var ns int64
	for _, src := range r.Sources {
		if src.Kind == contention.KindMutex || src.Kind == contention.KindBlock {
			ns = max(ns, src.DurationNs)
		}
	}
	return float64(ns) / 1e9
}

// CompareWith compares r, the report as it stands, with the saved capture
// base: r is saved with info and read back first, so that both sides go
// through the same reader. It returns a copy of r with each entry's base
// and change and the Comparison; r itself is not changed. With a rule,
// the gate's verdict is in Comparison.Gate.
func (p *Pipeline) CompareWith(ctx context.Context, base *Capture, info contention.Capture, r *contention.Report, rule *compare.Rule) (*contention.Report, error) {
	var buf bytes.Buffer
	if err := p.Save(&buf, info, r); err != nil {
		return nil, fmt.Errorf("saving this capture: %w", err)
	}
	cur, err := ReadCapture(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		return nil, fmt.Errorf("reading back this capture: %w", err)
	}
	return CompareCaptures(ctx, base, cur, rule)
}

// CompareCaptures compares two saved captures and returns cur's report
// with each entry's base and change, and the Comparison (with the gate's
// verdict when rule is not nil).
func CompareCaptures(ctx context.Context, base, cur *Capture, rule *compare.Rule) (*contention.Report, error) {
	bs, err := SideOf(ctx, base)
	if err != nil {
		return nil, &InputError{err}
	}
	cs, err := SideOf(ctx, cur)
	if err != nil {
		return nil, err
	}
	compare.Compare(bs, cs, compare.Options{})
	if rule != nil {
		cs.Report.Comparison.Gate = compare.Gate(bs, cs, *rule)
	}
	return cs.Report, nil
}
