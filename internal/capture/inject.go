// Package capture brings lock profiles and execution traces out of a Go
// program: from an agent injected into the program's build, from `go test`
// profiling flags, from a live net/http/pprof endpoint, or from files.
//
// The agent ([Prepare]) is a Go file that lockscope adds to the program's
// main package (or to the package under test) with `go build -overlay`, so
// the user's tree is never touched. The agent stays inert unless lockscope
// sets LOCKSCOPE_AGENT_DIR in the program's environment. When set, its init
// turns on mutex and block profiling and starts a few goroutines, labelled
// lockscope=agent, that take commands from a named pipe (FIFO) in that
// private 0700 folder and answer with files in it ([Agent]). It opens no
// port and links no network package: a port would show in the user's
// editor (code-server forwards it) and net/http alone added about 5 MB to a
// small program. The agent writes its goroutine ids into the folder, so
// that the debug session can leave them out of the client's list of
// threads. When the program ends (main returns or os.Exit) an exit hook
// writes the final profiles into the same folder, and a periodic snapshot
// covers deaths that run no hooks (fatal errors, signals).
//
// This package runs no analysis: it returns bytes, and internal/report turns
// them into a contention.Report.
package capture

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
)

//go:embed agent.go.txt
var agentTemplate string

// The flight recorder's part of the agent, one file for each side of Go
// 1.25 (build constraints pick one): runtime/trace has a FlightRecorder
// from Go 1.25 on, and the agent must build with Go 1.24 too.
var (
	//go:embed agentflight.go.txt
	agentFlightTemplate string
	//go:embed agentnoflight.go.txt
	agentNoFlightTemplate string
)

// AgentFileName is the name the agent file takes inside the user's package
// directory (only in the overlay: no such file is ever written there). The
// analysis drops frames from it.
const AgentFileName = contention.AgentFileName

// agentTestFileName is used when the agent joins a package made of _test.go
// files only: the go command counts a file as a test file by its name.
const agentTestFileName = "zz_lockscope_agent_test.go"

// Environment variables read by the agent.
const (
	EnvDir           = "LOCKSCOPE_AGENT_DIR"
	EnvMutexFraction = "LOCKSCOPE_AGENT_MUTEX_FRACTION"
	EnvBlockRate     = "LOCKSCOPE_AGENT_BLOCK_RATE"
	EnvSnapshotMs    = "LOCKSCOPE_AGENT_SNAPSHOT_MS"
	EnvFlightMs      = "LOCKSCOPE_AGENT_FLIGHT_MS"
	EnvFlightMaxRate = "LOCKSCOPE_AGENT_FLIGHT_MAX_RATE"
	// EnvLifeline tells the agent that lockscope holds its pipe's write end
	// for the whole session (PrepareOptions.Lifeline).
	EnvLifeline = "LOCKSCOPE_AGENT_LIFELINE"
)

// Default sampling rates, chosen by measurement: BenchmarkAgentOverhead runs
// a ledger-like workload (eight goroutines on one mutex, about a million
// contended deposits a second) built with and without the agent, in
// alternating runs. At both rates 1 (every event recorded) the agent cost
// 0.963x-1.003x the plain deposits per CPU second (five runs of 7 rounds,
// medians; the pipe agent that replaced the HTTP one: 0.994x, the median of
// five runs of 11 paired rounds), within the 5% budget: the profiles record
// only on the slow, already-blocking paths. Wall-clock throughput on this shared 2-core
// machine (load average 9-12 at the time) swung from 0.6x to 1.9x between
// runs with the same binaries, so it is reported but not used.
//
// The flight recorder (DefaultFlight, DefaultFlightMaxRate) was measured by
// BenchmarkFlightCurve on the same kind of machine, 2026-12-01, load
// average 8-17 (pairs of runs still varied by ±10-20%, so each figure is
// the median of 7 or 9 paired rounds). Its cost follows how often the
// program blocks, since the tracer records every block and unblock with
// its stack; the window's length (1 to 10 s) made no difference that the
// noise did not hide. At about 650,000-800,000 blocks a second (eight
// goroutines, a lock held about a microsecond) it cost 0.78x-0.93x per
// CPU second, with 10, 100 or 1,000 goroutines (the most with 1,000); at
// 50,000-75,000 a second (a lock held about 10 µs) and at 6,000 (100 µs)
// no cost was measurable (1.04x and 0.95x, within the noise). So a debug
// session runs it with a 2 s window, two complete generations, which is
// all a stop needs, and stops it for good above 100,000 blocks a second.
// In 15 paired rounds (load average 11-24): at 500,000-770,000 blocks a
// second the agent alone cost 0.967x, with the recorder always on 0.925x
// and with the session's default 0.949x (the recorder's first second
// included in runs of 2.4 s); at 40,000-54,000 blocks a second 0.998x,
// 0.989x and 1.004x.
const (
	DefaultMutexFraction = 1
	DefaultBlockRate     = 1
	// DefaultSnapshot is how often the agent saves its profiles to the
	// rendezvous dir as a fallback for deaths that run no exit hooks.
	DefaultSnapshot = time.Second
	// DefaultFlight is the flight recorder's window in a debug session
	// (PrepareOptions.Flight; the launch attribute flightRecorder), chosen
	// from BenchmarkFlightCurve: see above.
	DefaultFlight = 2 * time.Second
	// DefaultFlightMaxRate is the blocking rate (blocks a second) above
	// which the flight recorder stops in a debug session that did not set
	// its window: from BenchmarkFlightCurve, see above.
	DefaultFlightMaxRate = 100_000
)

// Modes of [PrepareOptions].
const (
	ModeDebug = "debug"
	ModeTest  = "test"
)

// PrepareOptions says where to inject the agent and how it samples.
type PrepareOptions struct {
	// Program is the package to build: a directory, a .go file in it, or an
	// import path (resolved with go list in WorkDir).
	Program string
	// Mode is "debug" (Program is a main package) or "test" (the agent joins
	// the package under test). Empty means debug.
	Mode string
	// WorkDir is where go list runs to resolve an import path; empty means
	// the current directory.
	WorkDir string
	// MutexFraction and BlockRate go to runtime.SetMutexProfileFraction and
	// runtime.SetBlockProfileRate; 0 picks the defaults.
	MutexFraction, BlockRate int
	// Snapshot is the period of the fallback profile snapshots; 0 picks
	// DefaultSnapshot and a negative value turns them off.
	Snapshot time.Duration
	// Flight, when positive, runs the runtime's flight recorder with a
	// window this long, so that the last moments of the program can be
	// traced (Agent.LastTrace, trace.out at exit, and ReadFlightWindow at a
	// stop). Go 1.25 and later only; the agent builds without it on Go
	// 1.24. The recorder's reader goroutine (runtime/trace's) is listed
	// with the agent's own (AgentGoroutines).
	Flight time.Duration
	// FlightMaxRate, when positive, stops the flight recorder for good once
	// the program blocks more often than this many times a second, where
	// recording it would cost more than lockscope's budget
	// (DefaultFlightMaxRate; see Injection.FlightOff).
	FlightMaxRate int
	// UserBuildFlags are the build flags the user asked for. Their
	// -ldflags and -overlay are merged with the agent's.
	UserBuildFlags []string
	// TempDir is where the agent's folder is made; empty means
	// os.TempDir(). The session passes its own folder, which names its
	// owner, so that a folder left by a killed session can be swept.
	TempDir string
	// Lifeline makes the program die with this process. lockscope holds
	// the write end of the agent's pipe open until Close; the agent reads
	// the end of the stream when every writer is gone, which, unless
	// Release told it to stand down first, means lockscope was killed
	// without ending its program (SIGKILL), and then it ends the program
	// as an orphaned debuggee should. A parent-death signal cannot do
	// this: it fires when Delve's ptrace thread exits, on a detach too.
	// The debug session sets it; analyze waits for its own child.
	Lifeline bool
	// GoVersion is the Go version that builds the program (`go env
	// GOVERSION` where it builds). One older than MinGoVersion makes
	// Prepare return an *OldGoError and prepare nothing; "" is not
	// checked (see CheckGoVersion).
	GoVersion string
}

// Injection is one prepared agent. Close removes its temp dir.
type Injection struct {
	// BuildFlags replace the user's build flags: they hold the merged
	// -overlay and -ldflags and every other user flag unchanged.
	BuildFlags []string
	// Env must be added to the program's environment.
	Env map[string]string
	// Dir is the temp dir: overlay, agent source and rendezvous files.
	Dir string
	// PackageDir is the folder of the package the agent joined.
	PackageDir string

	rendezvous string
	lifeline   *os.File // the pipe's write end lockscope holds; nil without Lifeline
	pkgName    string   // the package the agent joined, as its files name it
	flight     time.Duration
}

// Prepare writes the agent and its overlay into a new temp dir and returns
// the build flags and environment that inject it.
func Prepare(opts PrepareOptions) (*Injection, error) {
	mode := opts.Mode
	if mode == "" {
		mode = ModeDebug
	}
	if mode != ModeDebug && mode != ModeTest {
		return nil, fmt.Errorf("capture: unknown mode %q (want debug or test)", mode)
	}
	if err := CheckGoVersion(opts.GoVersion); err != nil {
		return nil, err
	}
	pkgDir, err := resolvePackageDir(opts.Program, opts.WorkDir)
	if err != nil {
		return nil, err
	}
	pkgName, testOnly, err := packageName(pkgDir, mode)
	if err != nil {
		return nil, err
	}
	files := agentFiles(testOnly)
	for _, f := range files {
		target := filepath.Join(pkgDir, f.name)
		if _, err := os.Lstat(target); err == nil {
			return nil, fmt.Errorf("capture: %s already exists; lockscope needs that name for its agent", target)
		}
	}

	// MkdirTemp makes the folder 0700: its permissions are what keeps other
	// users away from the agent's pipe and files.
	dir, err := os.MkdirTemp(opts.TempDir, "lockscope-agent-")
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	inj := &Injection{
		Dir:        dir,
		PackageDir: pkgDir,
		rendezvous: filepath.Join(dir, "rendezvous"),
		pkgName:    pkgName,
		flight:     max(opts.Flight, 0),
	}
	fail := func(err error) (*Injection, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := os.Mkdir(inj.rendezvous, 0o700); err != nil {
		return fail(fmt.Errorf("capture: %w", err))
	}
	if err := makeFIFO(inj.fifo()); err != nil {
		return fail(fmt.Errorf("capture: %w", err))
	}
	sources := map[string]string{} // target in the package -> the file written here
	for _, f := range files {
		src := strings.Replace(f.template, "\npackage lockscopeagent\n", "\npackage "+pkgName+"\n", 1)
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			return fail(fmt.Errorf("capture: %w", err))
		}
		sources[filepath.Join(pkgDir, f.name)] = path
	}

	flags, userOverlay, err := MergeBuildFlags(opts.UserBuildFlags, "")
	if err != nil {
		return fail(err)
	}
	replace := map[string]string{}
	if userOverlay != "" {
		// The user has an overlay of their own: keep its entries in ours,
		// since go build takes one -overlay only.
		data, err := os.ReadFile(userOverlay)
		if err != nil {
			return fail(fmt.Errorf("capture: reading the user's -overlay: %w", err))
		}
		var uo struct{ Replace map[string]string }
		if err := json.Unmarshal(data, &uo); err != nil {
			return fail(fmt.Errorf("capture: the user's -overlay %s: %w", userOverlay, err))
		}
		for k, v := range uo.Replace {
			replace[k] = v
		}
	}
	for target, path := range sources {
		replace[target] = path
	}
	ov, _ := json.MarshalIndent(map[string]any{"Replace": replace}, "", "\t")
	overlayPath := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayPath, ov, 0o600); err != nil {
		return fail(fmt.Errorf("capture: %w", err))
	}
	inj.BuildFlags, _, _ = MergeBuildFlags(flags, overlayPath)

	mf, br := opts.MutexFraction, opts.BlockRate
	if mf <= 0 {
		mf = DefaultMutexFraction
	}
	if br <= 0 {
		br = DefaultBlockRate
	}
	snap := opts.Snapshot
	if snap == 0 {
		snap = DefaultSnapshot
	}
	inj.Env = map[string]string{
		EnvDir:           inj.rendezvous,
		EnvMutexFraction: strconv.Itoa(mf),
		EnvBlockRate:     strconv.Itoa(br),
		EnvSnapshotMs:    strconv.FormatInt(max(snap.Milliseconds(), 0), 10),
		EnvFlightMs:      strconv.FormatInt(max(opts.Flight.Milliseconds(), 0), 10),
		EnvFlightMaxRate: strconv.Itoa(max(opts.FlightMaxRate, 0)),
	}
	if opts.Lifeline {
		// Opened before the program exists, so the agent never starts
		// without a writer, and close-on-exec, so that the debuggee Delve
		// forks does not hold it too and keep the stream open for ever.
		if inj.lifeline, err = holdWriteEnd(inj.fifo()); err != nil {
			return fail(fmt.Errorf("capture: %w", err))
		}
		inj.Env[EnvLifeline] = "1"
	}
	return inj, nil
}

// agentFile is one file of the agent: its name in the user's package and
// its template.
type agentFile struct{ name, template string }

// agentFiles are the agent's files. In a package made of _test.go files
// only, their names end in _test.go: the go command counts a file as a
// test file by its name.
func agentFiles(testOnly bool) []agentFile {
	name := func(base string) string {
		if testOnly {
			return strings.TrimSuffix(base, ".go") + "_test.go"
		}
		return base
	}
	return []agentFile{
		{name(AgentFileName), agentTemplate},
		{name(strings.TrimSuffix(AgentFileName, ".go") + "_flight.go"), agentFlightTemplate},
		{name(strings.TrimSuffix(AgentFileName, ".go") + "_noflight.go"), agentNoFlightTemplate},
	}
}

// Environ returns base with the agent's variables set (replacing any
// earlier values), ready for exec.Cmd.Env.
func (inj *Injection) Environ(base []string) []string {
	out := make([]string, 0, len(base)+len(inj.Env))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, ours := inj.Env[k]; !ours {
			out = append(out, kv)
		}
	}
	for k, v := range inj.Env {
		out = append(out, k+"="+v)
	}
	return out
}

// Close removes the temp dir, then lets go of the lifeline. The program
// built with the injection keeps running if it still is; stopping it is
// the caller's job. The agent takes the end of its pipe's stream for
// lockscope's death only while its folder is still there: a killed
// lockscope cannot remove it, and Close removes it first.
func (inj *Injection) Close() error {
	if inj == nil || inj.Dir == "" {
		return nil
	}
	err := os.RemoveAll(inj.Dir)
	inj.dropLifeline()
	return err
}

// Release tells the agent to stand down before lockscope lets its program
// go on without it (a disconnect that leaves the program running): from
// then on its program's fate is its own, even if lockscope is killed
// before Close. The command waits in the pipe while the program is
// stopped, and comes before the end of the stream. An agent that has not
// opened its pipe yet (the program has not reached its init) is not told:
// it finds its folder gone, as Close leaves it. Release fails when the
// pipe is full.
func (inj *Injection) Release() error {
	if inj == nil || inj.lifeline == nil || !hasReader(inj.fifo()) {
		return nil
	}
	// The deadline is 0: the agent obeys detach whenever it reads it, as
	// a program stopped at a breakpoint reads it only once Delve lets go.
	if err := writeCommand(inj.fifo(), strconv.FormatInt(commandSeq.Add(1), 10)+" 0 detach\n"); err != nil {
		return fmt.Errorf("capture: releasing the agent: %w", err)
	}
	return nil
}

func (inj *Injection) dropLifeline() {
	if inj.lifeline != nil {
		inj.lifeline.Close()
		inj.lifeline = nil
	}
}

// PackageName is the name of the package the agent joined ("main" for a
// program): a debugger names the agent's globals with it.
func (inj *Injection) PackageName() string { return inj.pkgName }

// Flight is the flight recorder's window the agent was asked to run; 0
// when it runs none.
func (inj *Injection) Flight() time.Duration { return inj.flight }

// FlightOff tells whether the agent stopped its flight recorder because
// the program blocked more often than PrepareOptions.FlightMaxRate, and
// if so when, and at what rate (blocks a second).
func (inj *Injection) FlightOff() (at time.Time, rate int64, off bool) {
	data, err := os.ReadFile(filepath.Join(inj.rendezvous, "flight-off.json"))
	if err != nil {
		return time.Time{}, 0, false
	}
	var f struct {
		UnixMs          int64 `json:"unixMs"`
		BlocksPerSecond int64 `json:"blocksPerSecond"`
	}
	if json.Unmarshal(data, &f) != nil {
		return time.Time{}, 0, false
	}
	return time.UnixMilli(f.UnixMs), f.BlocksPerSecond, true
}

// RendezvousDir is the agent's folder: its command pipe, its answers and
// its final files.
func (inj *Injection) RendezvousDir() string { return inj.rendezvous }

// fifo is the agent's command pipe.
func (inj *Injection) fifo() string { return filepath.Join(inj.rendezvous, "cmd") }

// AgentGoroutines returns the ids of the running agent's own goroutines, as
// it wrote them at start; none before it has started.
func (inj *Injection) AgentGoroutines() (map[int64]bool, error) {
	data, err := os.ReadFile(filepath.Join(inj.rendezvous, "goroutines"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	ids := map[int64]bool{}
	for _, f := range strings.Fields(string(data)) {
		if id, err := strconv.ParseInt(f, 10, 64); err == nil {
			ids[id] = true
		}
	}
	return ids, nil
}

// Final returns what the agent saved in the rendezvous dir: "mutex" and
// "block" (uncompressed pprof protos, from the last snapshot or from the
// exit hook) and "goroutines" (every goroutine's stack, as
// [Agent.Goroutines] gives it, at exit or when the agent stepped aside for
// a program whose goroutines were all blocked: see [Injection.Blocked]),
// whichever exist. Exited reports whether the exit hook ran (so the
// profiles cover the whole run). The traces it saved are streamed instead:
// see [Injection.OpenFinalTrace].
func (inj *Injection) Final() (files map[string][]byte, exited bool, err error) {
	files = map[string][]byte{}
	for key, name := range map[string]string{
		"mutex":      "mutex.pb",
		"block":      "block.pb",
		"goroutines": "goroutines.txt",
	} {
		data, err := os.ReadFile(filepath.Join(inj.rendezvous, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("capture: %w", err)
		}
		files[key] = data
	}
	_, err = os.Stat(filepath.Join(inj.rendezvous, "exit.json"))
	return files, err == nil, nil
}

// Final traces, by the key OpenFinalTrace takes.
const (
	FinalFlight = "trace"        // the flight recorder's window, written at exit
	FinalWindow = "trace-window" // a trace window cut short by the program's exit
)

// OpenFinalTrace opens a trace the agent saved (FinalFlight or
// FinalWindow) for streaming: the trace analysis holds one generation,
// not the file. It returns nil and no error when the agent saved none.
func (inj *Injection) OpenFinalTrace(key string) (io.ReadCloser, error) {
	name := map[string]string{FinalFlight: "trace.out", FinalWindow: "trace-window.out"}[key]
	if name == "" {
		return nil, fmt.Errorf("capture: no final trace %q", key)
	}
	f, err := os.Open(filepath.Join(inj.rendezvous, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	return f, nil
}

// resolvePackageDir turns a directory, a .go file or an import path into the
// package's directory.
func resolvePackageDir(program, workDir string) (string, error) {
	if program == "" {
		program = "."
	}
	p := program
	if !filepath.IsAbs(p) && workDir != "" {
		p = filepath.Join(workDir, p)
	}
	if st, err := os.Stat(p); err == nil {
		if !st.IsDir() {
			if !strings.HasSuffix(p, ".go") {
				return "", fmt.Errorf("capture: %s is neither a package directory nor a .go file", program)
			}
			p = filepath.Dir(p)
		}
		return filepath.Abs(p)
	}
	cmd := exec.Command("go", "list", "-find", "-f", "{{.Dir}}", program)
	cmd.Dir = workDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("capture: cannot find package %s: %s", program, strings.TrimSpace(stderr.String()))
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("capture: package %s has no directory", program)
	}
	return dir, nil
}

// packageName reads the package clause of the dir's .go files. In test mode
// the agent joins the non-test package, or the test package when the dir
// has only _test.go files (testOnly).
func packageName(dir, mode string) (name string, testOnly bool, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", false, fmt.Errorf("capture: %w", err)
	}
	var plain, tests []string
	fset := token.NewFileSet()
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.PackageClauseOnly)
		if err != nil {
			return "", false, fmt.Errorf("capture: %w", err)
		}
		pkg := f.Name.Name
		if pkg == "documentation" {
			continue
		}
		if strings.HasSuffix(n, "_test.go") {
			// External test packages (x_test) are not where the agent
			// goes unless nothing else is there.
			tests = append(tests, pkg)
		} else {
			plain = append(plain, pkg)
		}
	}
	if len(plain) > 0 {
		name = plain[0]
		for _, p := range plain {
			// A build-tagged file may name another package; main wins,
			// since that is what a debug build links.
			if p == "main" {
				name = "main"
			}
		}
		if mode == ModeDebug && name != "main" {
			return "", false, fmt.Errorf("capture: %s is package %s, not a main package; use test mode for it", dir, name)
		}
		return name, false, nil
	}
	if mode == ModeTest && len(tests) > 0 {
		name = tests[0]
		for _, p := range tests {
			if !strings.HasSuffix(p, "_test") {
				name = p
			}
		}
		return name, true, nil
	}
	return "", false, fmt.Errorf("capture: no Go files in %s", dir)
}

// Connect waits for the agent to start and returns a client for it. An
// agent file left by an earlier run of the program is not taken for a live
// agent: the pipe must have a reader, which only a running agent is (Reset
// makes a new pipe for each run). Connect fails when ctx ends first, for
// example because the program exited before its init ran.
func (inj *Injection) Connect(ctx context.Context) (*Agent, error) {
	for {
		if data, err := os.ReadFile(filepath.Join(inj.rendezvous, "agent.json")); err == nil {
			var a struct {
				Pid int `json:"pid"`
			}
			if err := json.Unmarshal(data, &a); err != nil {
				return nil, fmt.Errorf("capture: agent file: %w", err)
			}
			if hasReader(inj.fifo()) {
				return &Agent{Addr: inj.fifo(), Pid: a.Pid, dir: inj.rendezvous}, nil
			}
		}
		if msg, err := os.ReadFile(filepath.Join(inj.rendezvous, "agent.err")); err == nil {
			return nil, fmt.Errorf("capture: the agent could not open its command pipe: %s", msg)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("capture: waiting for the agent: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Reset empties the rendezvous dir and makes a new command pipe, so that
// Connect and Final see only what the next run of the program writes, and
// a command meant for the old run never reaches the new one. The session
// calls it before it runs the program again with the same injection.
func (inj *Injection) Reset() error {
	ents, err := os.ReadDir(inj.rendezvous)
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(inj.rendezvous, e.Name())); err != nil {
			return fmt.Errorf("capture: %w", err)
		}
	}
	if err := makeFIFO(inj.fifo()); err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	if inj.lifeline != nil {
		// The old program is gone; the next one watches the new pipe.
		inj.dropLifeline()
		lf, err := holdWriteEnd(inj.fifo())
		if err != nil {
			return fmt.Errorf("capture: %w", err)
		}
		inj.lifeline = lf
	}
	return nil
}
