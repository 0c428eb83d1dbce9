package tracechain

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/exp/trace"
)

// envParallelReadLoop, when set to a trace path, makes the test binary run
// parallelReadLoop alone (see TestMain), for its peak RSS.
const envParallelReadLoop = "LOCKSCOPE_TRACECHAIN_PARREADLOOP"

// pipeBuf is the size of the pieces a generation goes through its pipe in.
const pipeBuf = 1 << 20

// genSpan is what one generation's reader saw: its events and the times
// of its first and last (after the opening Sync, before the closing one).
type genSpan struct {
	events, frames int64
	first, last    trace.Time
}

// parallelReadLoop is readLoop (every event, its StateTransition, every
// stack frame) over the generations of a Go 1.26 trace, each generation
// read by its own trace.Reader on one of workers goroutines. The input is
// read once, as a stream: each generation's bytes go through a pipe to
// its reader, which holds them, so at most workers generations are decoded
// at once. It is the ceiling of any analysis that decodes generations in
// parallel: the work of the read loop, and nothing else, spread over cores.
func parallelReadLoop(r io.Reader, workers int) ([]genSpan, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	hdr := make([]byte, headerLen)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, err
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		spans []genSpan
		ferr  error
	)
	slots := make(chan struct{}, workers)
	for k := 0; ; k++ {
		if k > 0 {
			if _, err := br.Peek(1); err == io.EOF {
				break
			} else if err != nil {
				return nil, err
			}
		}
		slots <- struct{}{}
		pr, pw := io.Pipe()
		mu.Lock()
		spans = append(spans, genSpan{})
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			s, err := readGeneration(io.MultiReader(bytes.NewReader(hdr), bufio.NewReaderSize(pr, pipeBuf)))
			// Drain what the reader left, so that the splitter is never
			// stuck on a reader that failed.
			io.Copy(io.Discard, pr)
			mu.Lock()
			spans[k] = s
			if err != nil && ferr == nil {
				ferr = fmt.Errorf("generation %d: %w", k+1, err)
			}
			mu.Unlock()
		}()
		// Through the pipe in large pieces: each piece is a hand-over
		// between two goroutines, and on a busy machine each costs a wait
		// for a thread to be scheduled.
		bw := bufio.NewWriterSize(pw, pipeBuf)
		_, err := io.Copy(bw, &genReader{br: br})
		if ferr := bw.Flush(); err == nil {
			err = ferr
		}
		pw.CloseWithError(err)
	}
	wg.Wait()
	return spans, ferr
}

// readGeneration is readLoop's work on the one generation r holds.
func readGeneration(r io.Reader) (genSpan, error) {
	var s genSpan
	tr, err := trace.NewReader(r)
	if err != nil {
		return s, err
	}
	for {
		ev, err := tr.ReadEvent()
		if err == io.EOF {
			return s, nil
		}
		if err != nil {
			return s, err
		}
		s.events++
		if ev.Kind() == trace.EventSync {
			continue
		}
		if s.first == 0 {
			s.first = ev.Time()
		}
		s.last = ev.Time()
		if ev.Kind() == trace.EventStateTransition {
			for range ev.StateTransition().Stack.Frames() {
				s.frames++
			}
		}
		for range ev.Stack().Frames() {
			s.frames++
		}
	}
}

func parallelReadLoopChild(path string) int {
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer f.Close()
	start := time.Now()
	if _, err := parallelReadLoop(f, runtime.GOMAXPROCS(0)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return writeChildResult(childResult{Seconds: time.Since(start).Seconds(), HWMKB: vmHWM()})
}

// BenchmarkAnalyzeCores measures, in one run, the analysis at each
// GOMAXPROCS of LOCKSCOPE_BENCH_PROCS (default 1 and every core; the
// benchmark sets it itself, since -cpu does not apply to a benchmark that
// runs once) against its peers: the single-threaded read loop (the peer
// of BenchmarkAnalyze), the analysis read alone (the sequential path),
// the reader on a goroutine of its own (pipelined: what Analyze does with
// a stream on more than one core), the ceiling of decoding generations in
// parallel (parallelReadLoop: the read loop's work over GOMAXPROCS
// readers, one generation each, no analysis), and one analyser per
// generation over GOMAXPROCS workers, merged (parallel.go: what Analyze
// does with a file on more than one core; at GOMAXPROCS=1, one worker).
// The five alternate in each round, and medians are compared; the three
// analyses must give the same result. It reports the peak RSS of Analyze
// on the file and of the parallel read loop in child processes with the
// memory limit that `lockscope analyze` sets (135 MiB), and how far each
// generation's first event is timed before the previous generation's
// last (what the merge corrects).
func BenchmarkAnalyzeCores(b *testing.B) {
	path := benchTrace(b)
	list := fmt.Sprintf("1,%d", runtime.NumCPU())
	if s := os.Getenv("LOCKSCOPE_BENCH_PROCS"); s != "" {
		list = s
	}
	for _, f := range strings.Split(list, ",") {
		procs, err := strconv.Atoi(f)
		if err != nil || procs <= 0 {
			b.Fatalf("LOCKSCOPE_BENCH_PROCS=%q: want GOMAXPROCS values, comma-separated", list)
		}
		b.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			benchmarkAnalyzeCores(b, path, procs)
		})
	}
}

func benchmarkAnalyzeCores(b *testing.B, path string, procs int) {
	rounds := benchRounds()
	names := []string{"read loop", "sequential Analyze", "pipelined Analyze", "parallel read loop", "per-generation Analyze"}
	wall := make([][]float64, len(names))
	cpu := make([][]float64, len(names))
	var spans []genSpan
	var events int64
	var serial, piped, pergen Result
	analyzeFile := func(pipelined bool) Result {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		res, err := analyze(context.Background(), f, Options{Name: path}, pipelined)
		if err != nil {
			b.Fatal(err)
		}
		return res
	}
	runs := []func(){
		func() {
			var err error
			if events, _, err = readLoop(path); err != nil {
				b.Fatal(err)
			}
		},
		func() { serial = analyzeFile(false) },
		func() { piped = analyzeFile(true) },
		func() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			if spans, err = parallelReadLoop(f, procs); err != nil {
				b.Fatal(err)
			}
		},
		func() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				b.Fatal(err)
			}
			res, ok, err := analyzeParallel(context.Background(), f, 0, fi.Size(), Options{Name: path}, procs, nil)
			if err != nil || !ok {
				b.Fatalf("the per-generation analysis: %v, handed back %v", err, !ok)
			}
			pergen = res
		},
	}
	for b.Loop() {
		for i := 0; i < rounds; i++ {
			for j, run := range runs {
				w, c := measure(run)
				wall[j], cpu[j] = append(wall[j], w), append(cpu[j], c)
			}
		}
	}
	b.StopTimer()
	if !reflect.DeepEqual(serial, piped) {
		b.Errorf("sequential and pipelined Analyze differ:\n%s\n%s", summary(serial), summary(piped))
	}
	if !reflect.DeepEqual(serial, pergen) {
		b.Errorf("sequential and per-generation Analyze differ: %s", resultDiff(serial, pergen))
	}
	var pevents int64
	for _, s := range spans {
		pevents += s.events
	}
	// Each reader hands out a Sync at both ends of its generation; one
	// reader over the whole trace shares them at the boundaries.
	if want := events + int64(len(spans)) - 1; pevents != want {
		b.Errorf("parallel read loop: %d events; the read loop's %d and %d boundary Syncs make %d", pevents, events, len(spans)-1, want)
	}
	var most time.Duration
	overlaps := 0
	for k := 1; k < len(spans); k++ {
		if d := time.Duration(spans[k-1].last - spans[k].first); d >= 0 {
			overlaps++
			most = max(most, d)
		}
	}
	b.Logf("%d generations; %d of %d begin at or before the previous one's last event, by up to %v", len(spans), overlaps, len(spans)-1, most)
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.Logf("load average at the end: %s", strings.TrimSpace(string(load)))
	}
	r := median(wall[0])
	for j, n := range names {
		m := median(wall[j])
		b.Logf("GOMAXPROCS=%d, median of %d: %-18s %6.2f s wall, %6.2f s CPU, %.2fx the read loop's wall time", procs, len(wall[j]), n, m, median(cpu[j]), m/r)
	}
	b.ReportMetric(r, "readloop-s")
	b.ReportMetric(median(wall[1])/r, "sequential-x-readloop")
	b.ReportMetric(median(wall[2])/r, "pipelined-x-readloop")
	b.ReportMetric(median(wall[3])/r, "parallelreadloop-x-readloop")
	b.ReportMetric(median(wall[4])/r, "pergen-x-readloop")
	env := []string{"GOMEMLIMIT=135MiB", fmt.Sprintf("GOMAXPROCS=%d", procs)}
	rss, fileS, err := childRSS(envAnalyze, path, env...)
	if err != nil {
		b.Fatal(err)
	}
	srss, streamS, err := childRSS(envAnalyze, path, append(env, envStream+"=1")...)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("in a child process, GOMAXPROCS=%d, GOMEMLIMIT=135MiB: Analyze of the file %.2f s, peak RSS %.0f MB; of the file as a stream %.2f s, %.0f MB", procs, fileS, rss, streamS, srss)
	prss, _, err := childRSS(envParallelReadLoop, path, env...)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("in a child process, GOMAXPROCS=%d, GOMEMLIMIT=135MiB: Analyze (per generation from 2 cores) peak RSS %.0f MB, parallel read loop %.0f MB", procs, rss, prss)
	b.ReportMetric(rss, "analyze-rss-MB")
	b.ReportMetric(prss, "parallelreadloop-rss-MB")
}

// benchTrace returns the path of the benchmark's large trace
// (LOCKSCOPE_BENCH_TRACE_MB, default 200), recording it the first time.
func benchTrace(b *testing.B) string {
	mb := 200
	if s := os.Getenv(envBenchMB); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q: want a size in MB", envBenchMB, s)
		}
		mb = n
	}
	path := filepath.Join(benchCacheDir(b), fmt.Sprintf("contended-%dMB-%s.trace", mb, runtime.Version()))
	if _, err := os.Stat(path); err != nil {
		start := time.Now()
		if err := recordContendedTrace(path, int64(mb)<<20); err != nil {
			b.Fatal(err)
		}
		b.Logf("recorded %s in %v", path, time.Since(start).Round(time.Millisecond))
	}
	return path
}
