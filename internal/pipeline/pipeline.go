// Package pipeline is lockscope's one way from inputs to a report. The DAP
// session (internal/session) and `lockscope analyze` (internal/cli) are
// thin drivers over it: they decide when to capture and how to show the
// result, and the [Pipeline] does everything in between, the same way for
// both:
//
//   - index the program's source with the build's own flags (-tags, -race),
//     in the background while the program builds, or read the index from
//     its disk cache when the sources have not changed (indexcache.go);
//   - learn the Go version that built the program, and wire the breakpoint
//     recipes for it;
//   - read profiles and traces from files, from a net/http/pprof URL and
//     from lockscope's injected agent, live or from the files it saved at
//     exit;
//   - read crash and race text from the program's output;
//   - build the report ([Pipeline.Build]).
//
// Every input is analysed first (into a [report.Part], outside any lock and
// under a context that cancels it), and only then added or swapped in
// whole. A cancelled load therefore leaves the report as it was, and a
// live refresh that races an on-demand capture of the same kind cannot
// count a profile twice.
//
// The package knows nothing of DAP.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/lockscope/lockscope/internal/capture"
	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/crashrace"
	"github.com/lockscope/lockscope/internal/mapwrites"
	"github.com/lockscope/lockscope/internal/recipes"
	"github.com/lockscope/lockscope/internal/report"
	"github.com/lockscope/lockscope/internal/usercode"
)

// Pipeline turns inputs into one report. It is safe for concurrent use.
// The only goroutine it starts is the source index's (StartIndex), which
// ends when the index is loaded; [Pipeline.Close] waits for it.
type Pipeline struct {
	b  *report.Builder
	wg sync.WaitGroup

	mu        sync.Mutex
	stuck     stuckState // goroutine dumps for the stuck analysis (stuck.go)
	goVersion string
	index     *indexJob
	code      usercode.Rules // whose code a frame is (usercode.go)

	// kept is what a saved capture needs besides the report (save.go).
	kept keeper
}

// New returns an empty pipeline.
func New() *Pipeline {
	p := &Pipeline{b: report.NewBuilder()}
	p.b.SetSourceReader(os.ReadFile)
	p.b.SetSuggester(p.suggest)
	return p
}

// Close ends the pipeline's background work and waits for it: a source
// index still loading is cancelled rather than finished (whoever needed
// it waited for it with WaitIndex; a debugging session that ends after
// the first stop no longer type-checks a large module to the end first).
func (p *Pipeline) Close() {
	p.mu.Lock()
	j := p.index
	p.mu.Unlock()
	if j != nil {
		j.cancel()
	}
	p.wg.Wait()
}

// Build returns a new report from everything added so far.
func (p *Pipeline) Build() *contention.Report { return p.b.Build() }

// Clear forgets every capture (the source index stays).
func (p *Pipeline) Clear() {
	p.kept.clear(p.b.Clear)
}

// Note adds a sentence for a person to the report.
func (p *Pipeline) Note(format string, args ...any) { p.b.AddNote(format, args...) }

// Add adds an analysed input to the report.
func (p *Pipeline) Add(part *report.Part) {
	p.kept.added(part, false, func() { p.b.Add(part) })
}

// Replace swaps the report's data of the part's kind for the part, in one
// step: a running program's profiles are cumulative, so each fresh one
// replaces the last.
func (p *Pipeline) Replace(part *report.Part) {
	p.kept.added(part, true, func() { p.b.Replace(part) })
}

// ---- the source index ----

// IndexOptions say how the program is built.
type IndexOptions struct {
	// BuildFlags are the build's flags as the go command takes them
	// (-tags, -race, …): a file behind a build tag holds map writes of its
	// own.
	BuildFlags []string
	// Tests also indexes _test.go files (a test binary runs them).
	Tests bool
	// Libraries are dependency modules indexed too (IndexLibraries).
	Libraries []string
	// GoVersion also sets the Go version that builds in dir
	// ([Pipeline.SetGoVersion]), learned with the user's modules (one go
	// command for both, or none when its last answer still holds).
	GoVersion bool
	// HoldTypeCheck stops the index after its go commands, before it
	// parses and type-checks (or, when it was cached, before it joins the
	// report), until [Pipeline.ResumeIndex] (or Close, which ends it).
	// Delve builds the program and then loads its debug information while
	// the index loads: on two cores the index's
	// type-checking (seconds on a large module) made the first stop that
	// much later, and nothing needs the index before the program runs.
	HoldTypeCheck bool
	// Helper, when not nil, makes the command (not started) of an index
	// helper: the load runs in that process, at a low CPU priority,
	// and its go commands are not this process's children (see
	// indexhelper.go; ServeIndexHelper is the helper's main). Then
	// [Pipeline.WaitIndexCommands] waits for no go command of the load:
	// an embedded Delve that reaps this process's children once the
	// debuggee runs cannot reap them. When the helper cannot start, the
	// index loads in this process.
	Helper func() *exec.Cmd
}

// indexJob is the source index loading in the background.
type indexJob struct {
	done chan struct{}
	// listed is closed once the job runs no more child processes: its go
	// commands are done and only parsing and type-checking are left; or,
	// with a helper, once the helper runs (its go commands are its own
	// children, and the helper may be reaped by anyone).
	listed chan struct{}
	dir    string
	opts   IndexOptions // for IndexLibraries (libraries.go)

	// resume is closed to let a held job type-check.
	resume     chan struct{}
	resumeOnce sync.Once
	// cancel ends a job nobody needs any more (replaced, or the
	// pipeline closed).
	cancel context.CancelFunc
}

// resumeTypeCheck lets a held job go on.
func (j *indexJob) resumeTypeCheck() { j.resumeOnce.Do(func() { close(j.resume) }) }

// StartIndex indexes the map writes and lock calls of the package in dir
// and the packages it imports from the same module, in the background.
// The index joins the report when it is loaded; then loaded, when not nil,
// is called (the session sends a fresh report). A second call replaces the
// first (a restart may build with other flags). Before it returns, it
// learns which modules are the user's code ([Pipeline.LearnUserCode]), so
// that every input analysed afterwards is charged by that rule. An index
// cached by an earlier load of unchanged sources is used instead of a load
// (no go command runs, and the index is in at once); a fresh load is
// cached once it is in.
func (p *Pipeline) StartIndex(dir string, o IndexOptions, loaded func()) {
	// First, and at once: every analysis from now on charges by it.
	facts := p.learnGoFacts(dir)
	if o.GoVersion {
		p.SetGoVersion(facts.GoVersion)
	}
	ctx, cancel := context.WithCancel(context.Background())
	j := &indexJob{
		done: make(chan struct{}), listed: make(chan struct{}), dir: dir, opts: o,
		resume: make(chan struct{}), cancel: cancel,
	}
	if !o.HoldTypeCheck {
		j.resumeTypeCheck()
	}
	p.mu.Lock()
	old := p.index
	p.index = j
	p.mu.Unlock()
	if old != nil {
		// Replaced: its result would be dropped anyway.
		old.cancel()
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(j.done)
		defer cancel()
		var listed sync.Once
		markListed := func() { listed.Do(func() { close(j.listed) }) }
		defer markListed()
		// Called once the go commands are done; the load waits for it to
		// return before it parses and type-checks.
		hold := func() {
			markListed()
			select {
			case <-j.resume:
			case <-ctx.Done(): // the load ends at its next step
			}
		}
		defer func() {
			// A bug in the index must not take the debugger down with
			// it: the report says so and goes on without map writes.
			if r := recover(); r != nil {
				p.b.AddNote("map writes were not indexed: internal error: %v", r)
			}
		}()
		// A second F5 on unchanged code reads the index the first one
		// built: no go command runs, and the index is in at once.
		cache, cacheable := newIndexCache(dir, o, facts)
		var before indexState
		if cacheable {
			ix, st, hit := cache.load()
			if hit {
				markListed()
				// Held as a load's type-checking is: the report built on
				// the index, and the session's sending it, would take CPU
				// from Delve's build.
				hold()
				p.indexLoaded(ctx, j, dir, ix, nil, loaded)
				return
			}
			before = st
		}
		start := time.Now()
		mo := mapwrites.Options{BuildFlags: o.BuildFlags, Tests: o.Tests, Modules: o.Libraries, Listed: hold, Context: ctx}
		var ix *mapwrites.Index
		var srcs []mapwrites.SourcePackage
		err := errHelperStart
		if o.Helper != nil {
			ix, srcs, err = loadInHelper(ctx, o.Helper, dir, mo, markListed, hold)
		}
		if errors.Is(err, errHelperStart) {
			ix, srcs, err = mapwrites.LoadProgramSources(dir, mo)
		}
		if !p.indexLoaded(ctx, j, dir, ix, err, loaded) {
			return
		}
		if err == nil && cacheable {
			// After the report has the index: the session is not kept
			// waiting for the hashing and the write.
			cache.store(ix, srcs, before, start)
		}
	}()
}

// indexLoaded puts a loaded index (or the error that stopped it) in the
// report, unless job j was replaced or cancelled (ctx, by Close)
// meanwhile: nobody waits for it then. Then it calls loaded. It reports
// whether j was still current.
func (p *Pipeline) indexLoaded(ctx context.Context, j *indexJob, dir string, ix *mapwrites.Index, err error, loaded func()) bool {
	p.mu.Lock()
	current := p.index == j
	p.mu.Unlock()
	if !current || ctx.Err() != nil {
		return false
	}
	if err != nil {
		p.b.AddNote("map writes were not indexed: %v", err)
	} else {
		p.b.SetIndex(ix, contention.Source{Path: dir, Origin: contention.OriginSource})
	}
	if loaded != nil {
		loaded()
	}
	return true
}

// ResumeIndex lets the source index started with
// IndexOptions.HoldTypeCheck parse and type-check (its go commands may
// still be running: it goes on once they are done). The session calls it
// once Delve has built and loaded the program.
func (p *Pipeline) ResumeIndex() {
	p.mu.Lock()
	j := p.index
	p.mu.Unlock()
	if j != nil {
		j.resumeTypeCheck()
	}
}

// WaitIndexCommands waits until the source index started by StartIndex
// runs no more child processes (its go commands are done; parsing and
// type-checking may go on), or ctx ends. It reports whether they are done
// (or no index was started). The embedded Delve reaps any child once the
// debuggee runs: this is what the debuggee must wait for, not the index.
// With IndexOptions.Helper it returns once the helper runs.
func (p *Pipeline) WaitIndexCommands(ctx context.Context) bool {
	return p.waitIndexJob(ctx, func(j *indexJob) <-chan struct{} { return j.listed })
}

// WaitIndex waits until the source index started by StartIndex is in the
// report, or ctx ends. It reports whether the index is in (or none was
// started).
func (p *Pipeline) WaitIndex(ctx context.Context) bool {
	return p.waitIndexJob(ctx, func(j *indexJob) <-chan struct{} { return j.done })
}

// waitIndexJob waits for one of the current index job's channels, or ctx;
// true when it closed (or no index was started).
func (p *Pipeline) waitIndexJob(ctx context.Context, ch func(*indexJob) <-chan struct{}) bool {
	p.mu.Lock()
	j := p.index
	p.mu.Unlock()
	if j == nil {
		return true
	}
	select {
	case <-ch(j):
		return true
	case <-ctx.Done():
		return false
	}
}

// ---- the Go version and the breakpoint recipes ----

// GoVersionIn asks the go command which Go version builds in dir ("" when
// it cannot tell).
func GoVersionIn(dir string) string {
	cmd := exec.Command("go", "env", "GOVERSION")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// GoVersionOf reads the Go version a binary was built with ("" when the
// binary does not say).
func GoVersionOf(binary string) string {
	gv, _ := recipes.GoVersionOfBinary(binary)
	return gv
}

// SetGoVersion sets the Go version that built the program: the breakpoint
// recipes read the runtime's structures, whose layout depends on it. An
// unknown version gets no breakpoints, and a note says why, rather than
// a guess that Delve would evaluate wrongly.
func (p *Pipeline) SetGoVersion(gv string) {
	p.mu.Lock()
	p.goVersion = gv
	p.mu.Unlock()
	if gv == "" {
		p.b.AddNote("no breakpoints can be suggested: the program's Go version is unknown")
		return
	}
	if _, err := recipes.ParseGoVersion(gv); err != nil {
		p.b.AddNote("no breakpoints can be suggested: %v", err)
	}
}

// GoVersion is the version given to SetGoVersion.
func (p *Pipeline) GoVersion() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.goVersion
}

// suggest is the report builder's breakpoint suggester.
func (p *Pipeline) suggest(writes []contention.MapWrite) ([]contention.Breakpoint, []contention.MapWrite) {
	gv := p.GoVersion()
	if gv == "" {
		return nil, writes
	}
	bps, writes, _ := recipes.Suggest(writes, gv)
	return bps, writes
}

// BreakpointsAt returns the suggested breakpoints of the map write at
// file:line in r: the report's own when it has them, else the recipe for
// that write even though it was not seen contended. reason says why there
// is none.
func (p *Pipeline) BreakpointsAt(r *contention.Report, file string, line int) (bps []contention.Breakpoint, reason string) {
	at := fmt.Sprintf("%s:%d", file, line)
	// Only the clicked write's own breakpoints: for an unguarded map a
	// condition on every writer line made the runtime's crash win more
	// often (internal/recipes measured 3/20 against 18/40 first-run
	// catches), because Delve releases both writers together; crash
	// restarts make up the rest.
	for _, bp := range r.Breakpoints {
		if bp.ForWrite == at || (bp.File == file && bp.Line == line) {
			bps = append(bps, bp)
		}
	}
	if len(bps) > 0 {
		return bps, ""
	}
	var target *contention.MapWrite
	for i := range r.MapWrites {
		if r.MapWrites[i].File == file && r.MapWrites[i].Line == line {
			target = &r.MapWrites[i]
			break
		}
	}
	if target == nil {
		if len(r.MapWrites) == 0 {
			return nil, "the source index is not loaded yet (or the program has no map writes)"
		}
		return nil, fmt.Sprintf("no map write at %s", at)
	}
	bps, err := recipes.ForWrite(*target, r.MapWrites, p.GoVersion(), recipes.Options{})
	if err != nil {
		return nil, err.Error()
	}
	return bps, ""
}

// ---- inputs ----

// InputError is an input that cannot be read at all (a missing file, a
// file of the wrong kind), as opposed to one that was read and failed to
// analyse. The CLI exits with its input status for it.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Profile analyses a mutex or block profile (kind "" tells from the
// stacks).
func (p *Pipeline) Profile(ctx context.Context, kind string, data []byte, src contention.Source) (*report.Part, error) {
	part, err := p.b.AnalyzeProfile(ctx, kind, data, src)
	if err == nil {
		// Kept until the part is added, for a saved capture.
		p.kept.analysed(part, data)
	}
	return part, err
}

// Trace analyses an execution trace read from r.
func (p *Pipeline) Trace(ctx context.Context, r io.Reader, src contention.Source) (*report.Part, error) {
	return p.b.AnalyzeTrace(ctx, r, src)
}

// LoadFile reads and analyses a profile or trace file. kind is
// contention.KindMutex, KindBlock, KindTrace, or "" (or "profile") to tell
// from the file. Traces are streamed: the analysis holds one generation,
// not the file. Errors name the file.
func (p *Pipeline) LoadFile(ctx context.Context, path, kind string) (*report.Part, error) {
	switch kind {
	case "", contention.KindMutex, contention.KindBlock, contention.KindTrace:
	case "profile":
		kind = ""
	default:
		return nil, &InputError{fmt.Errorf("%s: unknown kind %q (want mutex, block or trace)", path, kind)}
	}
	in, err := capture.OpenInput(path)
	if err != nil {
		return nil, &InputError{err}
	}
	defer in.Close()
	isTrace := in.Kind == capture.InputTrace
	switch {
	case kind == contention.KindTrace && !isTrace:
		return nil, &InputError{fmt.Errorf("%s: given as a trace but it is a pprof profile", path)}
	case kind != "" && kind != contention.KindTrace && isTrace:
		return nil, &InputError{fmt.Errorf("%s: given as a %s profile but it is an execution trace", path, kind)}
	}
	src := contention.Source{Path: path, Origin: contention.OriginFile}
	if isTrace {
		return p.Trace(ctx, in, src)
	}
	if in.Size > capture.MaxFileSize {
		return nil, &InputError{fmt.Errorf("%s: larger than %d MiB; refused", path, capture.MaxFileSize>>20)}
	}
	data, err := io.ReadAll(io.LimitReader(in, capture.MaxFileSize+1))
	if err != nil {
		return nil, &InputError{fmt.Errorf("%s: %w", path, err)}
	}
	if len(data) > capture.MaxFileSize {
		return nil, &InputError{fmt.Errorf("%s: larger than %d MiB; refused", path, capture.MaxFileSize>>20)}
	}
	return p.Profile(ctx, kind, data, src)
}

// URLOptions say where and how long to capture from a service that serves
// net/http/pprof.
type URLOptions struct {
	Base       string   // the service's /debug/pprof/ URL
	Seconds    float64  // delta profiles and trace length; 0: cumulative profiles
	AllowHosts []string // hosts besides loopback that may be asked
}

// FetchURL captures one kind (mutex, block or trace) from a net/http/pprof
// endpoint and analyses it.
func (p *Pipeline) FetchURL(ctx context.Context, kind string, o URLOptions) (*report.Part, error) {
	u, err := capture.PprofURL(o.Base, kind)
	if err != nil {
		return nil, &InputError{err}
	}
	covers := o.Seconds
	if kind != contention.KindTrace {
		// net/http/pprof takes whole seconds for a delta profile, and
		// capture.FetchURL rounds up: the profile covers that many.
		covers = math.Ceil(covers)
	}
	src := contention.Source{Origin: contention.OriginURL, URL: u, DurationNs: int64(covers * float64(time.Second))}
	if kind == contention.KindTrace {
		// Streamed: the analysis holds one generation, not the trace.
		body, err := capture.FetchURLStream(ctx, u, o.Seconds, o.AllowHosts)
		if err != nil {
			return nil, err
		}
		defer body.Close()
		return p.Trace(ctx, body, src)
	}
	data, err := capture.FetchURL(ctx, u, o.Seconds, o.AllowHosts)
	if err != nil {
		return nil, err
	}
	return p.Profile(ctx, kind, data, src)
}

// FromAgent captures one kind from lockscope's agent in the running
// program: the cumulative mutex or block profile, or a trace of seconds.
func (p *Pipeline) FromAgent(ctx context.Context, agent *capture.Agent, kind string, seconds float64) (*report.Part, error) {
	src := contention.Source{Origin: contention.OriginAgent, URL: "agent:" + agent.Addr}
	if kind == contention.KindTrace {
		// Streamed, as the agent writes it: the window is analysed while
		// it is recorded, and never held whole.
		tr, err := agent.TraceStream(ctx, seconds)
		if err != nil {
			return nil, err
		}
		defer tr.Close()
		src.DurationNs = int64(seconds * float64(time.Second))
		return p.Trace(ctx, tr, src)
	}
	data, err := agent.Profile(ctx, kind)
	if err != nil {
		return nil, err
	}
	return p.Profile(ctx, kind, data, src)
}

// FinalOptions complete what the agent saved when the program ended.
type FinalOptions struct {
	// Live holds profiles taken from the running program just before
	// lockscope stopped it; they are newer than the agent's last snapshot.
	Live map[string][]byte
	// Window is a trace window taken while the program ran (FromAgent),
	// if any; it wins over a window the agent saved at exit.
	Window *report.Part
	// WindowErr is why a window asked for did not come; the report says
	// it when the agent saved none either.
	WindowErr error
	// DurationNs is the running time the final profiles cover: from when
	// the agent set the profile rates to its snapshot at exit, less the
	// program's stops (capture.Injection.FinalSpan); 0 when unknown.
	DurationNs int64
	// Path names the program, for the report's sources.
	Path string
}

// AgentFinal adds what the agent saved when the program ended: its last
// mutex and block profiles (each replacing the kind's earlier capture:
// they are cumulative), and the traces it wrote. It returns how many
// inputs joined the report, and the errors of those that could not, for
// the caller to report.
func (p *Pipeline) AgentFinal(ctx context.Context, inj *capture.Injection, o FinalOptions) (added int, errs []error) {
	files, hookRan, err := inj.Final()
	if err != nil {
		return 0, []error{err}
	}
	src := contention.Source{Path: o.Path, Origin: contention.OriginAgent, DurationNs: o.DurationNs}
	for _, k := range []string{contention.KindMutex, contention.KindBlock} {
		data := o.Live[k]
		if data == nil {
			data = files[k]
		}
		if data == nil {
			errs = append(errs, fmt.Errorf("no %s profile was captured (the program ended before the agent saved one)", k))
			continue
		}
		part, err := p.Profile(ctx, k, data, src)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.Replace(part)
		added++
	}
	// The goroutines at the end: saved at exit, or when every goroutine
	// was blocked and the agent stepped aside for the runtime's deadlock
	// report. With the dumps taken while the program ran, they show the
	// lock waits that never ended.
	if dump := files["goroutines"]; dump != nil {
		at, blocked, err := inj.Blocked()
		if err != nil {
			errs = append(errs, err)
		}
		if !blocked {
			at = time.Now() // the program has just ended
		}
		if err := p.addSample(report.GoroutineDump{At: at, Dump: dump, Block: files[contention.KindBlock]}, blocked); err != nil {
			errs = append(errs, err)
		}
	}
	if o.Live == nil && !hookRan && (files[contention.KindMutex] != nil || files[contention.KindBlock] != nil) {
		p.Note("the program ended without running its exit hooks (a fatal error or a signal): the profiles are the last periodic snapshot, up to %s old", capture.DefaultSnapshot)
	}
	window := o.Window
	if window == nil {
		part, err := p.finalTrace(ctx, inj, capture.FinalWindow, src)
		if err != nil {
			errs = append(errs, err)
		}
		window = part
	}
	if window == nil && o.WindowErr != nil {
		p.Note("no execution trace: %v", o.WindowErr)
	}
	flight, err := p.finalTrace(ctx, inj, capture.FinalFlight, src)
	if err != nil {
		errs = append(errs, err)
	}
	for _, part := range []*report.Part{window, flight} {
		if part != nil {
			p.Add(part)
			added++
		}
	}
	return added, errs
}

// finalTrace analyses a trace the agent saved at exit, streamed from its
// file; nil and no error when there is none.
func (p *Pipeline) finalTrace(ctx context.Context, inj *capture.Injection, key string, src contention.Source) (*report.Part, error) {
	f, err := inj.OpenFinalTrace(key)
	if err != nil || f == nil {
		return nil, err
	}
	defer f.Close()
	return p.Trace(ctx, f, src)
}

// ---- the program's output ----

// Output reads a program's output as it comes: race reports join the
// report as they complete ([Output.Races]), and a fatal runtime error is
// found at the end ([Output.Close]). Only the text from the last "fatal
// error:" line on is kept (crashrace.CrashWatcher, at most 1 MiB), so a
// chatty program costs nothing to watch. It is an io.Writer, safe for
// concurrent use (stdout and stderr may write at once).
type Output struct {
	p   *Pipeline
	src contention.Source

	mu    sync.Mutex
	crash crashrace.CrashWatcher
	races crashrace.RaceParser
	added int // races already in the report
}

// NewOutput starts reading a program's output; src names the program.
func (p *Pipeline) NewOutput(src contention.Source) *Output {
	src.Origin = contention.OriginOutput
	return &Output{p: p, src: src}
}

func (o *Output) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, _ = o.crash.Write(b)
	_, _ = o.races.Write(b)
	return len(b), nil
}

// Races adds the race reports completed since the last call to the report
// and returns how many that was.
func (o *Output) Races() int {
	o.mu.Lock()
	all := o.races.Races()
	fresh := all[min(o.added, len(all)):]
	o.added = len(all)
	o.mu.Unlock()
	o.p.b.AddRaces(fresh, o.src)
	return len(fresh)
}

// Close ends the output: a race report cut short is kept, and a fatal
// runtime error, if there was one, joins the report. It returns whether a
// crash was found and how many races joined the report in all.
func (o *Output) Close() (crashed bool, races int) {
	o.mu.Lock()
	o.races.Flush()
	o.mu.Unlock()
	o.Races()
	if text := o.crash.Text(); text != "" {
		crashed = o.p.b.AddCrashText(text, o.src)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return crashed, o.added
}

// CrashStop records a crash that Delve stopped on: reason is the runtime's
// message ("concurrent map writes"), frames the crashing goroutine's
// stack. It reports whether the stop was a crash lockscope reads.
func (p *Pipeline) CrashStop(reason string, frames []contention.Frame, goroutine int64) bool {
	c, ok := crashrace.CrashFromStopWith("fatal error: "+reason, frames, goroutine, p.UserCode())
	if !ok {
		return false
	}
	p.b.SetCrash(c, contention.Source{Origin: contention.OriginDelve})
	return true
}

// IsMapCrash reports whether a fatal error's reason is a concurrent map
// access, which a second-writer breakpoint tries to catch first.
func IsMapCrash(reason string) bool { return crashrace.IsMapCrash(reason) }
