package tracechain

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	rtrace "runtime/trace"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/exp/trace"

	"github.com/lockscope/lockscope/internal/testutil"
)

// envAnalyze, when set to a trace path, turns the test binary into a plain
// analyser run (see TestMain), so that the benchmark can read the peak RSS
// of Analyze alone from the child's rusage.
const envAnalyze = "LOCKSCOPE_TRACECHAIN_ANALYZE"

// envStream makes that child read the trace as a stream (pipeline.go),
// not as a file (parallel.go).
const envStream = "LOCKSCOPE_TRACECHAIN_STREAM"

// envBenchMB sets the size of the benchmark's trace, in MB (default 200).
const envBenchMB = "LOCKSCOPE_BENCH_TRACE_MB"

// envReadLoop does the same for the bare read loop, the RSS floor.
const envReadLoop = "LOCKSCOPE_TRACECHAIN_READLOOP"

func TestMain(m *testing.M) {
	if path := os.Getenv(envAnalyze); path != "" {
		os.Exit(analyzeChild(path))
	}
	if path := os.Getenv(envReadLoop); path != "" {
		start := time.Now()
		if _, _, err := readLoop(path); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(writeChildResult(childResult{Seconds: time.Since(start).Seconds(), HWMKB: vmHWM()}))
	}
	if path := os.Getenv(envParallelReadLoop); path != "" {
		os.Exit(parallelReadLoopChild(path))
	}
	os.Exit(m.Run())
}

type childResult struct {
	Seconds float64 `json:"seconds"`
	// HWMKB is the child's own peak RSS (VmHWM). The rusage Maxrss that
	// wait4 returns is no good here: os/exec starts the child with
	// CLONE_VM, so until exec it shares the parent's pages, and the
	// kernel carries that high-water mark over exec.
	HWMKB   int64 `json:"hwmKB"`
	Waits   int64 `json:"waits"`
	TotalNs int64 `json:"totalNs"`
	Chains  int   `json:"chains"`
}

func analyzeChild(path string) int {
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer f.Close()
	var r io.Reader = f
	if os.Getenv(envStream) != "" {
		// A stream, not a file: Analyze cannot read it at any offset.
		r = struct{ io.Reader }{f}
	}
	start := time.Now()
	res, err := Analyze(context.Background(), r, Options{Name: path})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return writeChildResult(childResult{Seconds: time.Since(start).Seconds(), HWMKB: vmHWM(), Waits: res.Waits, TotalNs: res.TotalSyncWaitNs, Chains: len(res.Chains)})
}

// writeChildResult prints a child's result for childRSS and returns the
// child's exit code.
func writeChildResult(cr childResult) int {
	if err := json.NewEncoder(os.Stdout).Encode(cr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// BenchmarkAnalyze measures Analyze on a large real trace against its
// peers, in one run: the read loop (every event, its StateTransition and
// its stack walked: the practical limit of any analysis over x/exp/trace),
// and the built `go tool trace -pprof=sync`. It also measures the peak RSS
// of Analyze in a child process. The trace (LOCKSCOPE_BENCH_TRACE_MB, default
// 200) is recorded once from a contended workload and cached in the user
// cache directory.
func BenchmarkAnalyze(b *testing.B) {
	path := benchTrace(b)
	dir := filepath.Dir(path)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("trace %s: %.1f MB", path, float64(fi.Size())/(1<<20))

	rounds := benchRounds()
	// Analyze and the read loop alternate, so that load from other
	// processes on the machine hits both alike; medians of wall and CPU
	// time (user+sys of this process: robust to a busy machine) are
	// compared.
	var aWall, aCPU, rWall, rCPU []float64
	var res Result
	var events, frames int64
	for b.Loop() {
		for i := 0; i < rounds; i++ {
			w, c := measure(func() {
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				res, err = Analyze(context.Background(), f, Options{Name: path})
				f.Close()
				if err != nil {
					b.Fatal(err)
				}
			})
			aWall, aCPU = append(aWall, w), append(aCPU, c)
			w, c = measure(func() {
				var err error
				if events, frames, err = readLoop(path); err != nil {
					b.Fatal(err)
				}
			})
			rWall, rCPU = append(rWall, w), append(rCPU, c)
		}
	}
	b.StopTimer()
	checkInvariants(b, res, 6)
	b.Logf("Analyze: %d generations, %d events, %d waits, %d chains, %.2f s of sync waits",
		res.Generations, res.Events, res.Waits, len(res.Chains), float64(res.TotalSyncWaitNs)/1e9)
	b.Logf("read loop: %d events, %d frames walked", events, frames)
	analyzeS, readS := median(aWall), median(rWall)
	analyzeCPU, readCPU := median(aCPU), median(rCPU)
	b.Logf("medians of %d rounds: Analyze %.2f s wall, %.2f s CPU; read loop %.2f s wall, %.2f s CPU", len(aWall), analyzeS, analyzeCPU, readS, readCPU)

	rss, childS, err := childRSS(envAnalyze, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("Analyze in a child process: %.2f s, peak RSS %.0f MB", childS, rss)
	readRSS, _, err := childRSS(envReadLoop, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("read loop in a child process: peak RSS %.0f MB (the reader's own floor: it holds a whole decoded generation)", readRSS)
	b.ReportMetric(readRSS, "readloop-rss-MB")
	// The reader's heap is what it is; a soft memory limit (set by the
	// program that embeds the analyser, not by this package) trades a
	// little GC time for a lower peak.
	limRSS, limS, err := childRSS(envAnalyze, path, "GOMEMLIMIT=150MiB")
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("Analyze in a child process with GOMEMLIMIT=150MiB: %.2f s, peak RSS %.0f MB", limS, limRSS)
	b.ReportMetric(limRSS, "analyze-rss-memlimit-MB")

	b.ReportMetric(analyzeS, "analyze-s")
	b.ReportMetric(readS, "readloop-s")
	b.ReportMetric(analyzeS/readS, "x-readloop")
	b.ReportMetric(analyzeCPU/readCPU, "x-readloop-cpu")
	b.ReportMetric(rss, "analyze-rss-MB")

	// go tool trace keeps every event in memory (about 50 bytes of RSS per
	// byte of trace measured here); run it only when the machine has room.
	need := uint64(fi.Size()) * 60
	if avail := memAvailable(); avail < need {
		b.Logf("go tool trace -pprof=sync not run: it needs about %d MB, %d MB available", need>>20, avail>>20)
		return
	}
	tool, err := buildTraceTool(dir)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	cmd := exec.Command(tool, "-pprof=sync", path)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s -pprof=sync: %v\n%s", tool, err, stderr.String())
	}
	toolS := time.Since(start).Seconds()
	toolCPU := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	// Maxrss is at least this process's RSS at the spawn (see
	// childResult); go tool trace's own peak is far above that.
	toolRSS := childMaxRSSMB(cmd.ProcessState)
	b.Logf("go tool trace -pprof=sync: %.2f s wall, %.2f s CPU, peak RSS %.0f MB", toolS, toolCPU, toolRSS)
	b.Logf("ratios: Analyze/read loop %.2fx wall, %.2fx CPU (target <= 1.2); Analyze/go tool trace %.2fx wall, %.2fx CPU (target <= 0.35); RSS %.0f MB vs %.0f MB (target <= 150 MB)",
		analyzeS/readS, analyzeCPU/readCPU, analyzeS/toolS, analyzeCPU/toolCPU, rss, toolRSS)
	// The same oracle as TestMatchesGoToolTrace, on the big trace.
	wantDelay, wantCount, wantTotal := syncProfileBySite(b, stdout.Bytes())
	compareWithGoToolTrace(b, res, wantDelay, wantCount, wantTotal)
	if !b.Failed() {
		b.Logf("per-line blocked time and counts equal go tool trace's on all %d lines (%d ns in total)", len(wantDelay), wantTotal)
	}
	b.ReportMetric(toolS, "gotooltrace-s")
	b.ReportMetric(analyzeS/toolS, "x-gotooltrace")
	b.ReportMetric(analyzeCPU/toolCPU, "x-gotooltrace-cpu")
	b.ReportMetric(toolRSS, "gotooltrace-rss-MB")
}

// measure returns the wall time and the CPU time (user+sys of the whole
// process, GC included) that f takes.
func measure(f func()) (wall, cpu float64) {
	runtime.GC()
	c0 := processCPU()
	t0 := time.Now()
	f()
	return time.Since(t0).Seconds(), processCPU() - c0
}

// benchRounds is the number of alternating rounds a benchmark runs
// (LOCKSCOPE_BENCH_ROUNDS, default 3).
func benchRounds() int {
	if s := os.Getenv("LOCKSCOPE_BENCH_ROUNDS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 3
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func benchCacheDir(b *testing.B) string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "lockscope", "tracechain-bench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	return dir
}

// readLoop is the practical limit: read every event, take its
// StateTransition when it has one, and walk its stack.
func readLoop(path string) (events, frames int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	r, err := trace.NewReader(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return 0, 0, err
	}
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			return events, frames, nil
		}
		if err != nil {
			return events, frames, err
		}
		events++
		if ev.Kind() == trace.EventStateTransition {
			st := ev.StateTransition()
			for range st.Stack.Frames() {
				frames++
			}
		}
		for range ev.Stack().Frames() {
			frames++
		}
	}
}

// childRSS runs Analyze in a child (this test binary, see TestMain) and
// returns its peak RSS in MB and its own timing.
func childRSS(mode, path string, env ...string) (float64, float64, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), mode+"="+path), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Errorf("analyser child: %v\n%s", err, stderr.String())
	}
	var cr childResult
	if err := json.Unmarshal(out, &cr); err != nil {
		return 0, 0, fmt.Errorf("analyser child output %q: %v", out, err)
	}
	if cr.HWMKB <= 0 {
		return 0, 0, fmt.Errorf("analyser child: no VmHWM in /proc/self/status")
	}
	return float64(cr.HWMKB) / 1024, cr.Seconds, nil
}

// vmHWM returns this process's peak RSS in kB (0 when unknown).
func vmHWM() int64 {
	kb, _ := testutil.PeakRSSKB()
	return kb
}

func buildTraceTool(dir string) (string, error) {
	tool := filepath.Join(dir, "trace-"+runtime.Version())
	if _, err := os.Stat(tool); err == nil {
		return tool, nil
	}
	gocmd := "go" // the go command on PATH, as the test runner found it
	out, err := exec.Command(gocmd, "build", "-o", tool, "cmd/trace").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build cmd/trace: %v\n%s", err, out)
	}
	return tool, nil
}

func memAvailable() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemAvailable:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// recordContendedTrace traces this process while goroutines fight over
// mutexes, an RWMutex and channels (a handoff chain, a queue, readers and
// writers, ping-pong pairs), until the trace file reaches size bytes.
func recordContendedTrace(path string, size int64) error {
	return traceSelf(path, contendedWorkload, func(f *os.File) {
		for {
			time.Sleep(50 * time.Millisecond)
			if fi, err := f.Stat(); err != nil || fi.Size() >= size {
				return
			}
		}
	})
}

// traceSelf traces this process into path (written whole or not at all)
// while workload runs, until wait returns.
func traceSelf(path string, workload func(context.Context, *sync.WaitGroup), wait func(*os.File)) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := rtrace.Start(w); err != nil {
		f.Close()
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	workload(ctx, &wg)
	wait(f)
	cancel()
	wg.Wait()
	rtrace.Stop()
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// loopUntil runs f over and over on a goroutine of its own until ctx ends.
func loopUntil(ctx context.Context, wg *sync.WaitGroup, f func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			f()
		}
	}()
}

// sink keeps spin's work from being optimised away; atomic, because the
// workload's goroutines share it (the tests record it under -race).
var sink atomic.Int64

func spin(n int) {
	s := 0
	for i := 0; i < n; i++ {
		s += i * i
	}
	sink.Add(int64(s & 1))
}

func contendedWorkload(ctx context.Context, wg *sync.WaitGroup) {
	var vault, ledger, audit, queue sync.Mutex
	var rw sync.RWMutex
	loop := func(f func()) { loopUntil(ctx, wg, f) }
	// A handoff chain, as in testdata/handoff.
	loop(func() { audit.Lock(); spin(20000); audit.Unlock() })
	loop(func() { ledger.Lock(); audit.Lock(); sink.Add(1); audit.Unlock(); ledger.Unlock() })
	loop(func() { vault.Lock(); ledger.Lock(); spin(100); ledger.Unlock(); vault.Unlock() })
	loop(func() { vault.Lock(); spin(100); vault.Unlock() })
	// A queue on one lock, as in testdata/ledger.
	for i := 0; i < 6; i++ {
		loop(func() { queue.Lock(); spin(200); queue.Unlock() })
	}
	// Readers and writers, as in testdata/rwcache.
	for i := 0; i < 4; i++ {
		loop(func() { rw.RLock(); spin(50); rw.RUnlock() })
	}
	loop(func() { rw.Lock(); spin(500); rw.Unlock() })
	// Channel ping-pong: many short waits.
	for i := 0; i < 4; i++ {
		ping, pong := make(chan int), make(chan int)
		loop(func() {
			select {
			case ping <- 1:
			case <-ctx.Done():
				return
			}
			select {
			case <-pong:
			case <-ctx.Done():
			}
		})
		loop(func() {
			select {
			case v := <-ping:
				select {
				case pong <- v:
				case <-ctx.Done():
				}
			case <-ctx.Done():
			}
		})
	}
}
