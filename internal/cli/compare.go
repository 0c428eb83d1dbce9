package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lockscope/lockscope/internal/compare"
	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/pipeline"
)

// ExitGate is the exit code of `lockscope analyze --fail-on` when a lock
// line got hotter past the bound, beyond the noise.
const ExitGate = 6

// compareConfig holds the flags of saved captures and comparisons.
type compareConfig struct {
	save    string // --save FILE
	base    string // --base FILE
	baseDir string // --base-dir DIR: the base's package, run interleaved
	count   int    // --count N
	failOn  string // --fail-on RULE
	rule    compare.Rule
}

func compareFlags(fs *flag.FlagSet, c *compareConfig) {
	fs.StringVar(&c.save, "save", "", "also save the capture (report, raw profiles, trace summary, program, Go version, commit, settings) to `file`, a zip that --load, --base and lockscope diff read")
	fs.StringVar(&c.base, "base", "", "compare with the saved capture `file`: each hotspot, chain and map write gains its base value and change")
	fs.StringVar(&c.baseDir, "base-dir", "", "with --test --bench: also run the benchmarks of the same package in `dir` (a checkout of the base, e.g. a git worktree), alternating runs with this one so that the machine's drift weighs on both sides, and compare with them as --base does")
	fs.IntVar(&c.count, "count", 1, "with --test --bench: run the benchmarks N times, each run its own process and profiles (the samples --fail-on tests)")
	fs.StringVar(&c.failOn, "fail-on", "", "with --base or --base-dir: exit 6 when a lock line's wait per op grows past the bound beyond the noise; `rule` is wait+N% [,alpha=0.05] [,min=DUR]")
}

// wantsRuns reports whether benchmarks run as the comparisons need them
// (runBenchmarks: separate runs, their ops counted) rather than as one go
// test run.
func (c *compareConfig) wantsRuns() bool {
	return c.count > 1 || c.save != "" || c.base != "" || c.baseDir != ""
}

// check validates the flags against the rest; it returns "" when fine.
func (c *compareConfig) check(cfg *analyzeConfig) string {
	switch {
	case c.count < 1 || c.count > 100:
		return "--count must be in [1, 100]"
	case c.count > 1 && !(cfg.test && cfg.bench != ""):
		return "--count needs --test --bench"
	case c.baseDir != "" && c.base != "":
		return "--base and --base-dir are two ways to name the base: give one"
	case c.baseDir != "" && !(cfg.test && cfg.bench != ""):
		return "--base-dir needs --test --bench"
	case c.failOn != "" && c.base == "" && c.baseDir == "":
		return "--fail-on needs --base or --base-dir"
	}
	if c.failOn != "" {
		r, err := compare.ParseRule(c.failOn)
		if err != nil {
			return err.Error()
		}
		c.rule = r
	}
	return ""
}

// captureInfo describes this run for a saved capture.
func (a *analyzer) captureInfo(r *contention.Report) contention.Capture {
	cfg := a.cfg
	info := contention.Capture{GoVersion: a.pipe.GoVersion(), Work: a.work, DurationNs: a.workDuration.Nanoseconds(), Settings: map[string]string{}}
	set := func(k, v string) {
		if v != "" && v != "0" {
			info.Settings[k] = v
		}
	}
	switch {
	case cfg.test && cfg.bench != "":
		set("mode", "bench")
	case cfg.test:
		set("mode", "test")
	case cfg.pprofURL != "":
		set("mode", "url")
	case cfg.mutexFile != "" || cfg.blockFile != "" || cfg.traceFile != "" || len(cfg.loadFiles) > 0:
		set("mode", "files")
	default:
		set("mode", "run")
	}
	set("bench", cfg.bench)
	set("run", cfg.run)
	set("count", fmt.Sprint(cfg.cmp.count))
	set("duration", durString(cfg.duration))
	set("traceSeconds", fmt.Sprint(cfg.traceSeconds))
	set("mutexProfileFraction", fmt.Sprint(cfg.mutexFraction))
	set("blockProfileRate", fmt.Sprint(cfg.blockRate))
	set("buildFlags", cfg.buildFlags)
	set("race", map[bool]string{true: "true"}[cfg.race])
	set("pprofURL", cfg.pprofURL)
	set("seconds", map[bool]string{true: fmt.Sprint(cfg.seconds)}[cfg.pprofURL != ""])
	set("args", strings.Join(cfg.progArgs, " "))
	if dir, err := packageDir(cfg.target); err == nil && (cfg.targetGiven || info.Settings["mode"] == "run" || cfg.test) {
		info.Program = dir
		info.Commit = pipeline.GitCommit(dir)
	} else {
		var in []string
		for _, s := range r.Sources {
			if s.Path != "" {
				in = append(in, s.Path)
			} else if s.URL != "" {
				in = append(in, s.URL)
			}
		}
		info.Program = strings.Join(dedup(in), ", ")
	}
	return info
}

func durString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// afterRun saves the capture and compares it with the base, as the flags
// ask. It returns ExitGate when the gate failed, else ExitOK.
func (a *analyzer) afterRun(ctx context.Context, r *contention.Report) (int, error) {
	c := &a.cfg.cmp
	if c.save == "" && c.base == "" && a.baseCapture == nil {
		return ExitOK, nil
	}
	info := a.captureInfo(r)
	if c.save != "" {
		var buf bytes.Buffer
		if err := a.pipe.Save(&buf, info, r); err != nil {
			return ExitInternal, fmt.Errorf("saving the capture: %w", err)
		}
		if err := writeFileAtomic(c.save, buf.Bytes()); err != nil {
			return ExitInternal, err
		}
		a.progress("saved the capture to %s", displayPath(absPath(c.save)))
	}
	base := a.baseCapture // --base-dir: run alongside
	if base == nil {
		if c.base == "" {
			return ExitOK, nil
		}
		var err error
		if base, err = pipeline.OpenCapture(absPath(c.base)); err != nil {
			return ExitInput, err
		}
	}
	var rule *compare.Rule
	if c.failOn != "" {
		rule = &c.rule
	}
	// This run goes through the same reader as the base: what is compared
	// is what a later --load would see.
	cmp, err := a.pipe.CompareWith(ctx, base, info, r, rule)
	var ie *pipeline.InputError
	if errors.As(err, &ie) {
		return ExitInput, err
	} else if err != nil {
		return ExitInternal, err
	}
	*r = *cmp
	if g := r.Comparison.Gate; g != nil && !g.Passed {
		return ExitGate, nil
	}
	return ExitOK, nil
}

func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(absPath(path)), ".lockscope-capture-*")
	if err != nil {
		return fmt.Errorf("saving the capture: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("saving the capture to %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("saving the capture to %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("saving the capture: %w", err)
	}
	return nil
}

// perUnit formats a wait per unit: "1.2µs/op", "35ms/s".
func perUnit(ns float64, unit string) string {
	d := dur(int64(math.Round(ns)))
	switch unit {
	case contention.UnitOp:
		return d + "/op"
	case contention.UnitSecond:
		return d + "/s"
	}
	return d
}

// writeComparison prints the comparison and the gate's verdict after the
// report: what changed on each line, worst first.
func writeComparison(w io.Writer, r *contention.Report, cwd string, top int) error {
	cmp := r.Comparison
	if cmp == nil {
		return nil
	}
	t := &textWriter{w: w, cwd: cwd, names: newFuncNamer()}
	b := cmp.Base
	desc := []string{}
	if b.Commit != "" {
		desc = append(desc, "commit "+b.Commit[:min(12, len(b.Commit))])
	}
	if !b.Time.IsZero() {
		desc = append(desc, b.Time.Local().Format("2006-01-02 15:04"))
	}
	if b.GoVersion != "" {
		desc = append(desc, b.GoVersion)
	}
	t.f("\nCompared with the base capture (%s)\n", strings.Join(desc, ", "))
	t.f("  unit: %s\n", cmp.UnitNote)
	for _, tot := range cmp.Totals {
		if tot.BaseDelayNs == 0 && tot.DelayNs == 0 {
			continue
		}
		t.f("  %s profile total: %s → %s (lock lines: %s → %s)\n", tot.Kind, perUnit(tot.BasePerUnit, cmp.Unit), perUnit(tot.PerUnit, cmp.Unit),
			perUnit(float64(tot.LockBaseDelayNs)/cmp.BaseUnits, cmp.Unit), perUnit(float64(tot.LockDelayNs)/cmp.Units, cmp.Unit))
	}
	type row struct {
		mark, what string
		h          contention.Hotspot
	}
	var rows []row
	for _, h := range r.Hotspots {
		if h.Base == nil || !h.Lock || (h.Kind != contention.KindMutex && h.Kind != contention.KindBlock) {
			continue
		}
		rows = append(rows, row{mark(h.Base.Status), h.Base.Status, h})
	}
	for _, h := range cmp.Gone.Hotspots {
		if h.Lock && (h.Kind == contention.KindMutex || h.Kind == contention.KindBlock) {
			rows = append(rows, row{mark(contention.ChangeGone), contention.ChangeGone, h})
		}
	}
	t.f("  lock lines (%s):\n", map[bool]string{true: "none", false: "holder side: mutex; waiter side: block"}[len(rows) == 0])
	for i, rw := range rows {
		if i == 2*top {
			t.f("    ... %d more (--json for all)\n", len(rows)-i)
			break
		}
		h, c := rw.h, rw.h.Base
		file, line := h.File, h.Line
		moved := ""
		if rw.what != contention.ChangeGone && c.BaseFile != "" && c.BaseLine != h.Line {
			moved = fmt.Sprintf(" (was line %d)", c.BaseLine)
		}
		if rw.what == contention.ChangeGone {
			file, line = c.BaseFile, c.BaseLine
		}
		val := fmt.Sprintf("%s → %s", perUnit(c.BasePerUnit, cmp.Unit), perUnit(c.PerUnit, cmp.Unit))
		switch rw.what {
		case contention.ChangeNew:
			val = "new: " + perUnit(c.PerUnit, cmp.Unit)
		case contention.ChangeGone:
			val = "was " + perUnit(c.BasePerUnit, cmp.Unit)
		}
		p := ""
		if c.P != nil {
			p = fmt.Sprintf(", p=%.3f", *c.P)
		}
		ratio := compare.Ratio(c)
		if ratio == rw.what {
			ratio = "" // said already
		}
		t.f("    %s %-6s %5s  %-26s %s  %s  %s%s%s\n", rw.mark, rw.what, h.Kind, val, t.place(file, line), t.fn(h.Function, file),
			ratio, p, moved)
	}
	var chainRows []string
	for _, ch := range r.Chains {
		if ch.Base != nil && ch.Lock && len(ch.Links) > 0 {
			chainRows = append(chainRows, fmt.Sprintf("    %s %-6s %s → %s  from %s", mark(ch.Base.Status), ch.Base.Status,
				perUnit(ch.Base.BasePerUnit, cmp.Unit), perUnit(ch.Base.PerUnit, cmp.Unit), t.place(ch.Links[0].File, ch.Links[0].Line)))
		}
	}
	for _, ch := range cmp.Gone.Chains {
		if ch.Lock && len(ch.Links) > 0 {
			chainRows = append(chainRows, fmt.Sprintf("    %s gone   %s → 0  from %s", mark(contention.ChangeGone),
				perUnit(ch.Base.BasePerUnit, cmp.Unit), t.place(ch.Links[0].File, ch.Links[0].Line)))
		}
	}
	t.section("  lock chains:", chainRows, top, "")
	var mw []string
	for _, m := range r.MapWrites {
		if m.Base != nil && (m.Contended || m.Base.BaseDelayNs > 0) {
			mw = append(mw, fmt.Sprintf("    %s %-6s %s → %s  %s  %s", mark(m.Base.Status), m.Base.Status, perUnit(m.Base.BasePerUnit, cmp.Unit),
				perUnit(m.Base.PerUnit, cmp.Unit), t.place(m.File, m.Line), m.Map))
		}
	}
	for _, m := range cmp.Gone.MapWrites {
		mw = append(mw, fmt.Sprintf("    %s gone   %s → 0  %s  %s", mark(contention.ChangeGone), perUnit(m.Base.BasePerUnit, cmp.Unit), t.place(m.Base.BaseFile, m.Base.BaseLine), m.Map))
	}
	t.section("  contended map writes:", mw, top, "")
	if g := cmp.Gate; g != nil {
		verdict := "PASSED"
		if !g.Passed {
			verdict = "FAILED"
		}
		t.f("\nGate %s: %s (%d run(s) against %d; alpha %.2g; lines under %s are not judged)\n", g.Rule, verdict, g.Runs, g.BaseRuns, g.Alpha, perUnit(g.FloorPerUnit, cmp.Unit))
		for _, w := range g.Warnings {
			t.f("  warning: %s\n", w)
		}
		for _, l := range g.Failures {
			t.f("  %s\n", gateLine(t, l, cmp.Unit))
		}
		if len(g.Noise) > 0 {
			t.f("  past the bound but within the noise (not failed):\n")
			for _, l := range g.Noise {
				t.f("    %s\n", gateLine(t, l, cmp.Unit))
			}
		}
		// The lines that passed, with the noise they showed: a CI log
		// says what the gate saw, not only that it passed.
		same := func(l contention.GateLine) func(contention.GateLine) bool {
			return func(f contention.GateLine) bool { return f.Kind == l.Kind && f.File == l.File && f.Line == l.Line }
		}
		var passed []string
		for _, l := range g.Judged {
			if !slices.ContainsFunc(g.Failures, same(l)) && !slices.ContainsFunc(g.Noise, same(l)) {
				passed = append(passed, "    "+gateLine(t, l, cmp.Unit))
			}
		}
		t.section("  judged and passed:", passed, top, " (--json: comparison.gate.judged)")
	}
	return t.err
}

// section prints a titled list, at most top rows of it; nothing when it
// is empty.
func (t *textWriter) section(title string, rows []string, top int, more string) {
	if len(rows) == 0 {
		return
	}
	t.f("%s\n", title)
	for i, s := range rows {
		if i == top {
			t.f("    ... %d more%s\n", len(rows)-i, more)
			return
		}
		t.f("%s\n", s)
	}
}

func gateLine(t *textWriter, l contention.GateLine, unit string) string {
	change := fmt.Sprintf("%+.0f%%", l.Change*100)
	switch {
	case l.New && l.Change == math.MaxFloat64:
		change = "new; nothing waited in the base"
	case l.New:
		change = fmt.Sprintf("new, %.0f%% of the base's lock wait", l.Change*100)
	}
	return fmt.Sprintf("%s  %s  %s: %s → %s (%s, p=%.3f; noise ±%.0f%% base, ±%.0f%% now)", t.place(l.File, l.Line), t.fn(l.Function, l.File), l.Kind,
		perUnit(l.BasePerUnit, unit), perUnit(l.PerUnit, unit), change, l.P, l.BaseSpread*100, l.Spread*100)
}

func mark(status string) string {
	switch status {
	case contention.ChangeBetter, contention.ChangeGone:
		return "▼"
	case contention.ChangeWorse, contention.ChangeNew:
		return "▲"
	}
	return "="
}

// loadCapture adds a saved capture (--load FILE.zip): its profiles
// analysed anew by this lockscope, and its trace summaries.
func (a *analyzer) loadCapture(ctx context.Context, path string) error {
	c, err := pipeline.OpenCapture(path)
	if err != nil {
		return &exitErr{code: ExitInput, err: err}
	}
	n, err := a.pipe.AddCapture(ctx, c)
	if err != nil {
		a.failed = append(a.failed, err)
		return nil
	}
	a.analysed += n
	if a.work == nil && c.Info.Work != nil {
		a.work = c.Info.Work
		a.workDuration = time.Duration(c.Info.DurationNs)
	}
	if len(c.Report.MapWrites) > 0 && !a.cfg.targetGiven {
		a.pipe.Note("%s: the capture's map writes come from the source index: give the package (lockscope analyze --load %s DIR) to see them", filepath.Base(path), filepath.Base(path))
	}
	a.progress("loaded the capture %s (lockscope %s, %s)", displayPath(path), c.Info.Lockscope, c.Info.Time.Local().Format("2006-01-02 15:04"))
	return nil
}
