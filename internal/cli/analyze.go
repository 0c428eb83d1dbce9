package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lockscope/lockscope/internal/capture"
	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/pipeline"
	"github.com/lockscope/lockscope/internal/report"
)

// Exit codes of `lockscope analyze`.
const (
	ExitOK         = 0 // a report was printed, whatever it found (a crash included)
	ExitInternal   = 1 // lockscope itself failed
	ExitUsage      = 2 // bad flags or arguments, or a program run with a Go too old for the agent
	ExitBuild      = 3 // the program (or its tests) did not build; the compiler's message is on stderr
	ExitInput      = 4 // an input could not be read: a file, a URL, a program that would not start
	ExitNoAnalysis = 5 // the inputs were read but none could be analysed (all profiles and traces bad)
	// ExitGate (6, compare.go): --fail-on found a lock line hotter than the bound allows.
)

const analyzeUsage = `Usage: lockscope analyze [flags] [PACKAGE|DIR] [-- program args]

Builds the program in PACKAGE or DIR (default "."; it may be in another
module), runs it with lockscope's capture agent for its whole life (or for
--duration), and prints where its lock wait time goes: the holder side (mutex
profile, the Unlock lines), the waiter side (block profile, the Lock lines),
blocking chains from an execution trace, and the map writes under contended
locks. The program's own output goes to stderr, so --json output stays clean.
The user's source tree is never written to. Ctrl-C (like --duration) stops
the program, takes its live profiles and prints the report.

Other inputs instead of a run:
  --mutex FILE / --block FILE / --trace FILE   analyse existing files
  --load FILE                                  a profile or trace, its kind detected
  --pprof-url URL --seconds N                  capture from a live net/http/pprof
  --test [--run RE] [--bench RE]               run go test with profiling flags
  --load CAPTURE.zip                           a capture saved with --save
With these, PACKAGE|DIR (when given) is only indexed for map writes.

Saved captures and comparisons:
  --save FILE                      also save this capture (a zip)
  --base FILE                      compare with a saved capture, line by line
  --base-dir DIR                   with --test --bench: run the base checkout's
                                   benchmarks too, alternating with these
  --test --bench RE --count N --base-dir DIR --fail-on 'wait+20%'
                                   a CI gate: N runs each side, a U test as
                                   benchstat does, exit 6 on a significant rise
  lockscope diff OLD NEW           compare two saved captures

Exit codes:
  0  the report was printed (also when the program crashed: see "crash")
  1  lockscope failed internally
  2  usage error (also: a program run with a Go older than 1.24, which
     lockscope's agent needs; --test, --pprof-url and files need no agent)
  3  the build failed (the compiler's message is passed through)
  4  an input could not be read (file, URL, program start)
  5  no input could be analysed
  6  --fail-on: a lock line's wait per op grew past the bound, beyond the
     noise of the --count runs (the offending lines are printed with both values)

Flags:
`

// analyzeConfig holds the parsed flags.
type analyzeConfig struct {
	target        string
	targetGiven   bool
	progArgs      []string
	json          bool
	top           int
	duration      time.Duration
	traceSeconds  float64
	mutexFile     string
	blockFile     string
	traceFile     string
	loadFiles     []string // --load: profiles or traces, kind detected
	pprofURL      string
	seconds       float64
	allowHosts    []string
	test          bool
	run, bench    string
	race          bool
	buildFlags    string
	mutexFraction int
	blockRate     int
	noIndex       bool
	stuckAfter    time.Duration // --stuck-after: a lock wait this long is reported stuck
	graph         string        // --graph: also write the waits-for graph (.svg, .dot)
	cmp           compareConfig // --save, --base, --count, --fail-on (compare.go)
}

// exitErr carries an exit code with the message for stderr.
type exitErr struct {
	code int
	err  error
}

func (e *exitErr) Error() string { return e.err.Error() }
func (e *exitErr) Unwrap() error { return e.err }

func fail(code int, format string, args ...any) error {
	return &exitErr{code: code, err: fmt.Errorf(format, args...)}
}

// syncWriter serialises writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// Analyze runs `lockscope analyze` with args (the words after "analyze")
// and returns the process exit code. The report goes to stdout; progress,
// the program's own output and errors go to stderr.
func Analyze(args []string, stdout, stderr io.Writer) int {
	cfg, code := parseAnalyze(args, stdout, stderr)
	if code >= 0 {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The program's stdout and stderr are copied by two goroutines, and
	// progress comes from a third: one lock keeps stderr whole.
	stderr = &syncWriter{w: stderr}
	a := &analyzer{cfg: cfg, stderr: stderr, pipe: pipeline.New()}
	a.pipe.SetStuckThreshold(cfg.stuckAfter)
	r, err := a.run(ctx)
	if err != nil {
		var ee *exitErr
		if errors.As(err, &ee) {
			fmt.Fprintf(stderr, "lockscope analyze: %v\n", ee.err)
			return ee.code
		}
		fmt.Fprintf(stderr, "lockscope analyze: %v\n", err)
		return ExitInternal
	}
	// Save and compare before printing: the comparison is part of the
	// report (--json), and the gate's verdict is the exit code.
	exit, err := a.afterRun(context.Background(), r)
	if err != nil {
		fmt.Fprintf(stderr, "lockscope analyze: %v\n", err)
		return exit
	}
	if cfg.json {
		err = writeJSON(stdout, r)
	} else {
		cwd, _ := os.Getwd()
		err = writeText(stdout, r, cwd, cfg.top)
		if err == nil {
			err = writeComparison(stdout, r, cwd, cfg.top)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "lockscope analyze: writing the report: %v\n", err)
		return ExitInternal
	}
	if cfg.graph != "" {
		if err := writeGraph(cfg.graph, r); err != nil {
			fmt.Fprintf(stderr, "lockscope analyze: writing the graph: %v\n", err)
			return ExitInternal
		}
		fmt.Fprintf(stderr, "lockscope: wrote the waits-for graph to %s\n", cfg.graph)
	}
	if exit == ExitGate {
		fmt.Fprintf(stderr, "lockscope analyze: --fail-on %s: %d lock line(s) got hotter beyond the noise\n", cfg.cmp.failOn, len(r.Comparison.Gate.Failures))
	}
	return exit
}

// parseAnalyze parses the flags; code is -1 when the run should go on.
// Help asked for (-h) goes to stdout with status 0, as go and git do; the
// usage after a wrong flag goes to stderr with ExitUsage.
func parseAnalyze(args []string, stdout, stderr io.Writer) (*analyzeConfig, int) {
	cfg := &analyzeConfig{}
	fs := flag.NewFlagSet("lockscope analyze", flag.ContinueOnError)
	// The flag package prints its error, then the usage, to one writer; it
	// is known only after Parse whether that was help or a mistake.
	var usage bytes.Buffer
	fs.SetOutput(&usage)
	fs.Usage = func() {
		fmt.Fprint(&usage, analyzeUsage)
		fs.PrintDefaults()
	}
	fs.BoolVar(&cfg.json, "json", false, "print the report as JSON (the same model as the lockscope/report DAP event)")
	fs.IntVar(&cfg.top, "top", 5, "hotspots shown per section in the text report")
	fs.DurationVar(&cfg.duration, "duration", 0, "stop the program after this long (0: let it run to its end)")
	fs.Float64Var(&cfg.traceSeconds, "trace-seconds", 1, "record an execution trace window this long for blocking chains (0: none; with --test the whole run is traced)")
	fs.StringVar(&cfg.mutexFile, "mutex", "", "analyse this mutex profile `file` instead of running a program")
	fs.StringVar(&cfg.blockFile, "block", "", "analyse this block profile `file`")
	fs.StringVar(&cfg.traceFile, "trace", "", "analyse this execution trace `file`")
	fs.Var((*stringList)(&cfg.loadFiles), "load", "analyse this profile or trace `file`, its kind detected as lockscope/load does (repeatable)")
	fs.StringVar(&cfg.pprofURL, "pprof-url", "", "capture from a live net/http/pprof server (base URL or /debug/pprof/)")
	fs.Float64Var(&cfg.seconds, "seconds", 5, "with --pprof-url: the capture window in seconds")
	fs.Var((*stringList)(&cfg.allowHosts), "allow-host", "with --pprof-url: also allow this non-loopback `host` (repeatable)")
	fs.BoolVar(&cfg.test, "test", false, "run the package's tests with profiling flags instead of the program")
	fs.StringVar(&cfg.run, "run", "", "with --test: run only tests matching `regexp`")
	fs.StringVar(&cfg.bench, "bench", "", "with --test: run benchmarks matching `regexp`")
	fs.BoolVar(&cfg.race, "race", false, "build with -race and map its reports")
	fs.StringVar(&cfg.buildFlags, "build-flags", "", "extra go build `flags`, e.g. \"-tags=x\"")
	fs.IntVar(&cfg.mutexFraction, "mutex-fraction", 0, "runtime.SetMutexProfileFraction for the run (0: the default, 1)")
	fs.IntVar(&cfg.blockRate, "block-rate", 0, "runtime.SetBlockProfileRate for the run (0: the default, 1)")
	fs.BoolVar(&cfg.noIndex, "no-index", false, "skip the source index of map writes")
	fs.DurationVar(&cfg.stuckAfter, "stuck-after", 0, "report a goroutine that waits this long for a lock as stuck, with the goroutine that holds it (0: 2s)")
	graphFlag(fs, &cfg.graph)
	compareFlags(fs, &cfg.cmp)

	// Everything after "--" belongs to the program. Before it, flags may
	// come before or after the package.
	if i := indexOf(args, "--"); i >= 0 {
		cfg.progArgs = args[i+1:]
		args = args[:i]
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				_, _ = usage.WriteTo(stdout)
				return nil, ExitOK
			}
			_, _ = usage.WriteTo(stderr)
			return nil, ExitUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	switch len(positional) {
	case 0:
		cfg.target = "."
	case 1:
		cfg.target, cfg.targetGiven = positional[0], true
	default:
		fmt.Fprintf(stderr, "lockscope analyze: one package or directory at most, got %q (program arguments go after --)\n", positional)
		return nil, ExitUsage
	}
	files := cfg.mutexFile != "" || cfg.blockFile != "" || cfg.traceFile != "" || len(cfg.loadFiles) > 0
	var bad string
	switch {
	case cfg.test && (files || cfg.pprofURL != ""):
		bad = "--test cannot be combined with --mutex, --block, --trace or --pprof-url"
	case (cfg.run != "" || cfg.bench != "") && !cfg.test:
		bad = "--run and --bench need --test"
	case (files || cfg.pprofURL != "") && len(cfg.progArgs) > 0:
		bad = "program arguments after -- need a program run"
	case (files || cfg.pprofURL != "") && cfg.race:
		bad = "--race needs a program run or --test"
	case cfg.pprofURL != "" && !(cfg.seconds > 0 && cfg.seconds <= 3600):
		bad = "--seconds must be in (0, 3600]"
	case cfg.pprofURL != "" && capture.CheckURL(cfg.pprofURL, cfg.allowHosts) != nil:
		bad = "--pprof-url: " + strings.TrimPrefix(capture.CheckURL(cfg.pprofURL, cfg.allowHosts).Error(), "capture: ")
	case cfg.traceSeconds < 0 || cfg.traceSeconds > capture.MaxTraceSeconds:
		bad = fmt.Sprintf("--trace-seconds must be in [0, %d]", capture.MaxTraceSeconds)
	case cfg.duration < 0:
		bad = "--duration must not be negative"
	case cfg.stuckAfter < 0:
		bad = "--stuck-after must not be negative"
	case cfg.top <= 0:
		bad = "--top must be positive"
	default:
		bad = cfg.cmp.check(cfg)
	}
	if bad != "" {
		fmt.Fprintf(stderr, "lockscope analyze: %s\n", bad)
		return nil, ExitUsage
	}
	return cfg, -1
}

func indexOf(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}

// analyzer runs one analyze invocation: it decides what to run and
// capture, and internal/pipeline turns what it captured into the report.
type analyzer struct {
	cfg    *analyzeConfig
	stderr io.Writer
	pipe   *pipeline.Pipeline
	// work is what the benchmarks reported (runBenchmarks), over
	// workDuration of runs; nil for other inputs.
	work         *contention.Work
	workDuration time.Duration
	// baseCapture is the base run alongside (--base-dir), in memory.
	baseCapture *pipeline.Capture
	// analysed counts inputs that fed the report; failed collects the
	// errors of those that could not.
	analysed int
	failed   []error
}

func (a *analyzer) progress(format string, args ...any) {
	fmt.Fprintf(a.stderr, "lockscope: "+format+"\n", args...)
}

func (a *analyzer) run(ctx context.Context) (*contention.Report, error) {
	cfg := a.cfg
	var err error
	switch {
	case cfg.mutexFile != "" || cfg.blockFile != "" || cfg.traceFile != "" || len(cfg.loadFiles) > 0 || cfg.pprofURL != "":
		if cfg.targetGiven {
			if dir, derr := packageDir(cfg.target); derr != nil {
				a.failed = append(a.failed, derr)
			} else {
				a.startIndex(dir, false)
				a.pipe.SetGoVersion(pipeline.GoVersionIn(dir))
			}
		}
		err = a.external(ctx)
	case cfg.test && cfg.bench != "" && cfg.cmp.wantsRuns():
		err = a.runBenchmarks(ctx)
	case cfg.test:
		err = a.runTests(ctx)
	default:
		err = a.runProgram(ctx)
	}
	if err != nil {
		return nil, err
	}
	a.pipe.WaitIndex(ctx)
	if a.analysed == 0 && len(a.failed) > 0 {
		return nil, &exitErr{code: ExitNoAnalysis, err: errors.Join(a.failed...)}
	}
	for _, e := range a.failed {
		a.pipe.Note("%v", e)
	}
	// A dependency that holds a hot lock has its map writes indexed too.
	// The program has ended: the go command may run now.
	if mods, err := a.pipe.IndexLibraries(ctx); err != nil {
		a.pipe.Note("the map writes of the libraries that hold a hot lock were not indexed: %v", err)
	} else if len(mods) > 0 {
		a.progress("indexed the map writes of %s, which holds a hot lock", strings.Join(mods, ", "))
	}
	return a.pipe.Build(), nil
}

// startIndex indexes the package in dir, with the build's flags, in the
// background while the program builds and runs.
func (a *analyzer) startIndex(dir string, tests bool) {
	if a.cfg.noIndex {
		return
	}
	a.pipe.StartIndex(dir, pipeline.IndexOptions{BuildFlags: a.userBuildFlags(), Tests: tests}, nil)
}

// packageDir finds the directory of a package given as a directory, a .go
// file or an import path.
func packageDir(target string) (string, error) {
	if st, err := os.Stat(target); err == nil {
		if !st.IsDir() {
			target = filepath.Dir(target)
		}
		return filepath.Abs(target)
	}
	out, err := exec.Command("go", "list", "-find", "-f", "{{.Dir}}", target).Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		return "", fail(ExitInput, "%s: no such directory or package", target)
	}
	return strings.TrimSpace(string(out)), nil
}

// add adds an analysed input to the report, or records why it could not
// be analysed.
func (a *analyzer) add(part *report.Part, err error) {
	if err != nil {
		a.failed = append(a.failed, err)
		return
	}
	a.pipe.Add(part)
	a.analysed++
}

// addTrace analyses a trace and says how long it took: a trace of hundreds
// of MB takes seconds, and the user should see where they went.
func (a *analyzer) addTrace(ctx context.Context, r io.Reader, size int64, src contention.Source) {
	start := time.Now()
	a.add(a.pipe.Trace(ctx, r, src))
	a.progress("read a %.1f MB trace in %s", float64(size)/1e6, time.Since(start).Round(time.Millisecond))
}

// external analyses files and a live pprof endpoint.
func (a *analyzer) external(ctx context.Context) error {
	cfg := a.cfg
	inputs := []struct{ kind, path string }{
		{contention.KindMutex, cfg.mutexFile},
		{contention.KindBlock, cfg.blockFile},
		{contention.KindTrace, cfg.traceFile},
	}
	for _, p := range cfg.loadFiles {
		inputs = append(inputs, struct{ kind, path string }{"", p})
	}
	for _, f := range inputs {
		if f.path == "" {
			continue
		}
		if f.kind == "" && pipeline.IsCaptureFile(f.path) {
			if err := a.loadCapture(ctx, absPath(f.path)); err != nil {
				return err
			}
			continue
		}
		start := time.Now()
		part, err := a.pipe.LoadFile(ctx, absPath(f.path), f.kind)
		var ie *pipeline.InputError
		if errors.As(err, &ie) {
			return &exitErr{code: ExitInput, err: err}
		}
		if err == nil && part.Kind() == contention.KindTrace {
			a.progress("read the trace %s in %s", displayPath(absPath(f.path)), time.Since(start).Round(time.Millisecond))
		}
		a.add(part, err)
	}
	if cfg.pprofURL == "" {
		return nil
	}
	if _, err := capture.PprofURL(cfg.pprofURL, contention.KindMutex); err != nil {
		return &exitErr{code: ExitUsage, err: err}
	}
	a.progress("capturing %gs from %s", cfg.seconds, cfg.pprofURL)
	type got struct {
		part *report.Part
		err  error
	}
	kinds := []string{contention.KindMutex, contention.KindBlock}
	if cfg.traceSeconds > 0 {
		kinds = append(kinds, contention.KindTrace)
	}
	// The kinds are captured at once: each takes the whole window.
	results := make([]got, len(kinds))
	var wg sync.WaitGroup
	for i, k := range kinds {
		o := pipeline.URLOptions{Base: cfg.pprofURL, Seconds: cfg.seconds, AllowHosts: cfg.allowHosts}
		if k == contention.KindTrace {
			o.Seconds = min(cfg.traceSeconds, cfg.seconds)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			part, err := a.pipe.FetchURL(ctx, k, o)
			results[i] = got{part, err}
		}()
	}
	wg.Wait()
	var errs []error
	for _, r := range results {
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		a.add(r.part, nil)
	}
	if len(errs) == len(results) {
		// Nothing came back: the URL itself is wrong or refused.
		return &exitErr{code: ExitInput, err: errors.Join(errs...)}
	}
	a.failed = append(a.failed, errs...)
	return nil
}

func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}
