package cli

import (
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
)

// runBenchmarks runs the package's benchmarks --count times, each run in a
// process of its own with profiles of its own: the runs are the samples
// that a comparison tests for noise (go test -count would write one
// profile for all of them). The benchmarks' iterations are the work that
// per-op figures divide by.
func (a *analyzer) runBenchmarks(ctx context.Context) error {
	cfg := a.cfg
	dir, err := packageDir(cfg.target)
	if err != nil {
		return err
	}
	a.startIndex(dir, true)
	tmp, err := os.MkdirTemp("", "lockscope-bench-")
	if err != nil {
		return &exitErr{code: ExitInternal, err: err}
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "pkg.test")
	a.progress("building the tests of %s", displayPath(dir))
	args := append([]string{"test", "-c", "-o", bin}, a.userBuildFlags()...)
	if err := a.goBuild(ctx, dir, append(args, ".")); err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fail(ExitInput, "%s has no tests to run", displayPath(dir))
	}
	a.useGoVersionOf(bin, dir)
	count := max(cfg.cmp.count, 1)
	work := &contention.Work{Runs: count}
	var total time.Duration
	out := a.pipe.NewOutput(contention.Source{Path: dir})
	for run := 1; run <= count; run++ {
		rdir := filepath.Join(tmp, strconv.Itoa(run))
		if err := os.Mkdir(rdir, 0o700); err != nil {
			return &exitErr{code: ExitInternal, err: err}
		}
		// A trace of every run would be large and adds nothing the gate
		// reads: the first run's is enough for the chains.
		trace := cfg.traceSeconds > 0 && run == 1
		targs := capture.TestFlags(rdir, cfg.mutexFraction, cfg.blockRate, trace, true)
		run1 := cfg.run
		if run1 == "" {
			run1 = "^$" // benchmarks only, as `go test -bench` users expect with -run ^$
		}
		targs = append(targs, "-test.run="+run1, "-test.bench="+cfg.bench)
		targs = append(targs, cfg.progArgs...)
		bl := &benchLines{run: run}
		cmd := exec.CommandContext(ctx, bin, targs...)
		cmd.Dir = dir
		cmd.Stdout = io.MultiWriter(a.stderr, out, bl)
		cmd.Stderr = io.MultiWriter(a.stderr, out)
		a.progress("running the benchmarks (run %d of %d)", run, count)
		start := time.Now()
		waitErr := cmd.Run()
		elapsed := time.Since(start)
		total += elapsed
		bl.flush()
		if waitErr != nil {
			var ee *exec.ExitError
			if ctx.Err() != nil || !errors.As(waitErr, &ee) {
				return fail(ExitInput, "running the benchmarks: %v", waitErr)
			}
			// A failing benchmark makes every comparison after it
			// meaningless: stop here rather than gate on half the runs.
			return fail(ExitInput, "the benchmarks failed in run %d (%s)", run, exitStatus(waitErr))
		}
		if len(bl.results) == 0 {
			return fail(ExitInput, "--bench %q matched no benchmark in %s", cfg.bench, displayPath(dir))
		}
		for _, b := range bl.results {
			work.Ops += b.N
		}
		work.Benchmarks = append(work.Benchmarks, bl.results...)
		src := contention.Source{Path: dir, Origin: contention.OriginTest, DurationNs: elapsed.Nanoseconds()}
		for _, f := range []struct{ kind, name string }{
			{contention.KindMutex, capture.TestMutexFile},
			{contention.KindBlock, capture.TestBlockFile},
		} {
			data, err := os.ReadFile(filepath.Join(rdir, f.name))
			if err != nil {
				return fail(ExitInput, "the benchmarks wrote no %s profile in run %d", f.kind, run)
			}
			part, err := a.pipe.Profile(context.Background(), f.kind, data, src)
			if err != nil {
				return fail(ExitNoAnalysis, "run %d: %v", run, err)
			}
			a.pipe.Add(part)
			a.analysed++
		}
		if trace {
			if file, err := os.Open(filepath.Join(rdir, capture.TestTraceFile)); err == nil {
				st, _ := file.Stat()
				a.addTrace(context.Background(), file, st.Size(), src)
				file.Close()
			}
		}
	}
	a.progress("%d run(s) in %s, %d benchmark ops", count, total.Round(10*time.Millisecond), work.Ops)
	a.work = work
	a.workDuration = total
	a.output(out)
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
		i := strings.IndexByte(string(b.partial), '\n')
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
