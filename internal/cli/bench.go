package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lockscope/lockscope/internal/capture"
	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/pipeline"
)

// benchSide is one package whose benchmarks run: this one, or the base
// checkout's (--base-dir).
type benchSide struct {
	name  string // for progress: "" or "base"
	dir   string
	bin   string
	pipe  *pipeline.Pipeline
	out   io.Writer // the program's output, read for crashes and races
	work  *contention.Work
	total time.Duration
}

// runBenchmarks runs the package's benchmarks --count times, each run in a
// process of its own with profiles of its own: the runs are the samples
// that a comparison tests for noise (go test -count would write one
// profile for all of them). The benchmarks' iterations are the work that
// per-op figures divide by.
//
// With --base-dir, the base checkout's benchmarks run too, alternating
// with these (this, base, base, this, ...): a machine that slows down or
// speeds up during the job then weighs on both sides alike, where runs of
// the base before the change would take the drift for a regression.
func (a *analyzer) runBenchmarks(ctx context.Context) error {
	cfg := a.cfg
	dir, tmp, err := a.testPackage("lockscope-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	out := a.pipe.NewOutput(contention.Source{Path: dir})
	cur := &benchSide{dir: dir, pipe: a.pipe, out: out}
	sides := []*benchSide{cur}
	if cfg.cmp.baseDir != "" {
		bdir, err := packageDir(cfg.cmp.baseDir)
		if err != nil {
			return err
		}
		bp := pipeline.New()
		defer bp.Close()
		if !cfg.noIndex {
			// The base's map writes, for their comparison.
			bp.StartIndex(bdir, pipeline.IndexOptions{BuildFlags: a.userBuildFlags(), Tests: true}, nil)
		}
		sides = append(sides, &benchSide{name: "base", dir: bdir, pipe: bp, out: io.Discard})
	}
	for i, s := range sides {
		s.bin = filepath.Join(tmp, strconv.Itoa(i)+".test")
		a.progress("building the tests of %s", displayPath(s.dir))
		args := append([]string{"test", "-c", "-o", s.bin}, a.userBuildFlags()...)
		if err := a.goBuild(ctx, s.dir, append(args, ".")); err != nil {
			return err
		}
		if _, err := os.Stat(s.bin); err != nil {
			return fail(ExitInput, "%s has no tests to run", displayPath(s.dir))
		}
		s.work = &contention.Work{Runs: max(cfg.cmp.count, 1)}
	}
	a.useGoVersionOf(cur.bin, dir)
	if len(sides) == 2 {
		sides[1].pipe.SetGoVersion(pipeline.GoVersionOf(sides[1].bin))
	}
	count := max(cfg.cmp.count, 1)
	for run := 1; run <= count; run++ {
		order := sides
		if run%2 == 0 && len(sides) == 2 {
			order = []*benchSide{sides[1], sides[0]}
		}
		for _, s := range order {
			if err := a.benchRun(ctx, s, tmp, run, count); err != nil {
				return err
			}
		}
	}
	a.progress("%d run(s) in %s, %d benchmark ops", count, cur.total.Round(10*time.Millisecond), cur.work.Ops)
	a.work = cur.work
	a.workDuration = cur.total
	a.output(out)
	if len(sides) == 2 {
		b := sides[1]
		info := contention.Capture{Program: b.dir, Commit: pipeline.GitCommit(b.dir), Work: b.work, DurationNs: b.total.Nanoseconds(),
			Settings: map[string]string{"mode": "bench", "bench": cfg.bench, "count": strconv.Itoa(count), "interleaved": "true"}}
		b.pipe.WaitIndex(ctx)
		var buf bytes.Buffer
		if err := b.pipe.Save(&buf, info, b.pipe.Build()); err != nil {
			return &exitErr{code: ExitInternal, err: err}
		}
		c, err := pipeline.ReadCapture(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			return &exitErr{code: ExitInternal, err: err}
		}
		c.Path = b.dir
		a.baseCapture = c
	}
	return nil
}

// benchRun runs side s's benchmarks once and adds its profiles to the
// side's pipeline.
func (a *analyzer) benchRun(ctx context.Context, s *benchSide, tmp string, run, count int) error {
	cfg := a.cfg
	rdir := filepath.Join(tmp, s.name+"run"+strconv.Itoa(run))
	if err := os.Mkdir(rdir, 0o700); err != nil {
		return &exitErr{code: ExitInternal, err: err}
	}
	// A trace of every run would be large and adds nothing the gate
	// reads: the first run's is enough for the chains.
	trace := cfg.traceSeconds > 0 && run == 1
	targs := capture.TestFlags(rdir, cfg.mutexFraction, cfg.blockRate, trace, true)
	runRE := cfg.run
	if runRE == "" {
		runRE = "^$" // benchmarks only, as `go test -bench` users expect with -run ^$
	}
	targs = append(targs, "-test.run="+runRE, "-test.bench="+cfg.bench)
	targs = append(targs, cfg.progArgs...)
	bl := &benchLines{run: run}
	cmd := exec.CommandContext(ctx, s.bin, targs...)
	cmd.Dir = s.dir
	cmd.Stdout = io.MultiWriter(a.stderr, s.out, bl)
	cmd.Stderr = io.MultiWriter(a.stderr, s.out)
	what := "the benchmarks"
	if s.name != "" {
		what = "the " + s.name + "'s benchmarks"
	}
	a.progress("running %s (run %d of %d)", what, run, count)
	start := time.Now()
	waitErr := cmd.Run()
	elapsed := time.Since(start)
	s.total += elapsed
	bl.flush()
	if waitErr != nil {
		var ee *exec.ExitError
		if ctx.Err() != nil || !errors.As(waitErr, &ee) {
			return fail(ExitInput, "running %s: %v", what, waitErr)
		}
		// A failing benchmark makes every comparison after it
		// meaningless: stop here rather than gate on half the runs.
		return fail(ExitInput, "%s failed in run %d (%s)", what, run, exitStatus(waitErr))
	}
	if len(bl.results) == 0 {
		return fail(ExitInput, "--bench %q matched no benchmark in %s", cfg.bench, displayPath(s.dir))
	}
	for _, b := range bl.results {
		s.work.Ops += b.N
	}
	s.work.Benchmarks = append(s.work.Benchmarks, bl.results...)
	src := contention.Source{Path: s.dir, Origin: contention.OriginTest, DurationNs: elapsed.Nanoseconds()}
	for _, f := range []struct{ kind, name string }{
		{contention.KindMutex, capture.TestMutexFile},
		{contention.KindBlock, capture.TestBlockFile},
	} {
		data, err := os.ReadFile(filepath.Join(rdir, f.name))
		if err != nil {
			return fail(ExitInput, "%s wrote no %s profile in run %d", what, f.kind, run)
		}
		part, err := s.pipe.Profile(context.Background(), f.kind, data, src)
		if err != nil {
			return fail(ExitNoAnalysis, "run %d: %v", run, err)
		}
		s.pipe.Add(part)
		if s.pipe == a.pipe {
			a.analysed++
		}
	}
	if trace {
		if file, err := os.Open(filepath.Join(rdir, capture.TestTraceFile)); err == nil {
			if s.pipe == a.pipe {
				st, _ := file.Stat()
				a.addTrace(context.Background(), file, st.Size(), src)
			} else if part, err := s.pipe.Trace(context.Background(), file, src); err == nil {
				s.pipe.Add(part)
			}
			file.Close()
		}
	}
	return nil
}

// benchLine is a result line of a benchmark: its name (with the -P
// suffix), iterations and ns/op, then any other metrics.
var benchLine = regexp.MustCompile(`^(Benchmark\S*)\s+(\d+)\s+(\d+(?:\.\d+)?) ns/op`)

// benchLines collects the benchmark results of one run from its stdout.
type benchLines struct {
	mu      sync.Mutex
	run     int
	partial []byte
	results []contention.Benchmark
}

func (b *benchLines) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.partial = append(b.partial, p...)
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			break
		}
		b.line(string(b.partial[:i]))
		b.partial = b.partial[i+1:]
	}
	return len(p), nil
}

func (b *benchLines) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.partial) > 0 {
		b.line(string(b.partial))
		b.partial = nil
	}
}

func (b *benchLines) line(s string) {
	m := benchLine.FindStringSubmatch(strings.TrimRight(s, "\r"))
	if m == nil {
		return
	}
	n, err := strconv.ParseInt(m[2], 10, 64)
	if err != nil {
		return
	}
	ns, _ := strconv.ParseFloat(m[3], 64)
	b.results = append(b.results, contention.Benchmark{Name: m[1], Run: b.run, N: n, NsPerOp: ns})
}
