package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lockscope/lockscope/internal/capture"
	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/dapx"
	"github.com/lockscope/lockscope/internal/pipeline"
	"github.com/lockscope/lockscope/internal/report"
)

// DefaultRefresh is how often a running debuggee's profiles are fetched
// when the launch does not say.
const DefaultRefresh = 2 * time.Second

// prepare finishes a parsed launch: the capture agent, -race, the Go
// version and the source index. It runs child processes (go env, go list),
// so no debuggee of the embedded Delve may be running.
func (e *extension) prepare(p *launchPlan) *reqError {
	if err := e.s.setBuildOutput(p); err != nil {
		return &reqError{id: dapx.ErrLaunchRewrite, summary: "Failed to launch", details: "making the session's folder: " + err.Error(), showUser: true}
	}
	if err := e.prepareLaunch(&p.info, p.args); err != nil {
		return &reqError{id: dapx.ErrLaunchRewrite, summary: "Failed to launch", details: err.Error(), showUser: true}
	}
	return nil
}

// prepareLaunch adds the capture agent (and -race) to a launch that builds
// the program. Capture problems never fail the launch: debugging goes on
// without capture, and the Debug Console says why.
func (e *extension) prepareLaunch(info *launchInfo, args map[string]json.RawMessage) error {
	cfg := info.Config
	builds := info.Request == "launch" && (info.Mode == "debug" || info.Mode == "test")
	if !builds {
		if cfg.Race {
			e.console("lockscope: \"race\" needs a launch that builds (mode debug or test); it is ignored")
		}
		return nil
	}
	var rawFlags any
	if raw, ok := args["buildFlags"]; ok {
		rawFlags = json.RawMessage(raw)
	}
	userFlags, err := capture.DelveBuildFlags(rawFlags)
	if err != nil {
		return err
	}
	if cfg.Race {
		userFlags = append(userFlags, "-race")
	}
	flags := userFlags
	if cfg.Capture != "off" && strings.HasSuffix(info.Program, ".go") {
		// go build of a file list compiles only the files named, so an
		// agent added to the folder would not be part of the program.
		e.console("lockscope: capture is off for this session: the program is a single file (" + filepath.Base(info.Program) +
			"); give its folder as \"program\" to capture its profiles")
	} else if cfg.Capture != "off" {
		program := info.Program
		if program == "" {
			program = stringArg(args, "program")
		}
		inj, err := capture.Prepare(capture.PrepareOptions{
			Program: program, Mode: info.Mode, WorkDir: info.ProgramDir,
			MutexFraction: cfg.MutexProfileFraction, BlockRate: cfg.BlockProfileRate,
			UserBuildFlags: userFlags, TempDir: e.tempDir(),
			// The program must not outlive a SIGKILLed lockscope.
			Lifeline: true,
		})
		if err != nil {
			e.console("lockscope: capture is off for this session: " + err.Error())
		} else {
			flags = inj.BuildFlags
			env := map[string]any{}
			if raw, ok := args["env"]; ok {
				if err := json.Unmarshal(raw, &env); err != nil {
					inj.Close()
					return fmt.Errorf(`"env" must be an object: %v`, err)
				}
			}
			for k, v := range inj.Env {
				env[k] = v
			}
			b, _ := json.Marshal(env)
			args["env"] = b
			e.mu.Lock()
			e.inj = inj
			e.mu.Unlock()
		}
	}
	if len(flags) > 0 {
		b, _ := json.Marshal(flags)
		args["buildFlags"] = b
	}
	e.pipe.SetGoVersion(pipeline.GoVersionIn(info.ProgramDir))
	e.startIndex(*info, userFlags)
	return nil
}

// startIndex indexes the program's sources, with the build's own flags,
// while Delve builds it. Every child process lockscope starts (go list
// here) must finish before the debuggee runs: the embedded Delve waits for
// any child (wait4(-1)) while the debuggee runs and would reap ours. The
// session therefore holds the client's configurationDone until waitIndex
// returns.
func (e *extension) startIndex(info launchInfo, buildFlags []string) {
	if info.ProgramDir == "" {
		return
	}
	t0 := time.Now()
	e.pipe.StartIndex(info.ProgramDir, pipeline.IndexOptions{BuildFlags: buildFlags, Tests: info.Mode == "test"}, func() {
		e.s.log.Info("source index", "dir", info.ProgramDir, "took", time.Since(t0))
		e.rebuild(false)
	})
}

// waitIndex waits, for a bounded time, until the source index is loaded.
func (e *extension) waitIndex() {
	ctx, cancel := context.WithTimeout(e.ctx, 2*time.Minute)
	defer cancel()
	if !e.pipe.WaitIndex(ctx) && e.ctx.Err() == nil {
		e.s.log.Warn("the source index is still loading; the program starts anyway")
	}
}

// endRun forgets the program that ran: its capture loops stop and, unless
// keep is set (a crash restart runs the same build again), its agent's
// folder goes. The program must be gone already.
func (e *extension) endRun(keep bool) {
	e.mu.Lock()
	stop, inj := e.stopRun, e.inj
	e.stopRun = nil
	e.exited, e.stopped = false, false
	if !keep {
		e.inj, e.agent = nil, nil
	}
	e.mu.Unlock()
	if stop != nil {
		stop()
	}
	switch {
	case inj == nil:
	case keep:
		// The next run's agent makes a new pipe and new files.
		if err := inj.Reset(); err != nil {
			e.s.log.Warn("resetting the agent's folder", "err", err)
		}
	default:
		inj.Close()
	}
}

// beforeDisconnect runs before a client's disconnect goes to Delve. One
// that leaves the program running (terminateDebuggee false) first tells
// the agent to stand down, or the program would end itself once lockscope
// lets go of its pipe.
func (e *extension) beforeDisconnect(raw json.RawMessage) {
	var args struct {
		TerminateDebuggee *bool `json:"terminateDebuggee"`
	}
	_ = json.Unmarshal(raw, &args)
	if args.TerminateDebuggee == nil || *args.TerminateDebuggee {
		return
	}
	e.mu.Lock()
	inj := e.inj
	e.mu.Unlock()
	if err := inj.Release(); err != nil {
		// The detach is still in the pipe or lost; the removed folder
		// tells the agent when the session ends normally.
		e.s.log.Warn("the capture agent was not told to stand down", "err", err)
	}
}

// launchFailed undoes what prepareLaunch set up.
func (e *extension) launchFailed() {
	e.mu.Lock()
	inj := e.inj
	e.inj = nil
	e.mu.Unlock()
	if inj != nil {
		inj.Close()
	}
}

// launched records a launch: the arguments as the client sent them (a
// restart may change some), as Delve got them (a crash restart runs them
// again) and the launch's dlvPath.
func (e *extension) launched(client, delve json.RawMessage, dlvPath string) {
	var v struct {
		StopOnEntry bool `json:"stopOnEntry"`
	}
	_ = json.Unmarshal(delve, &v)
	e.mu.Lock()
	e.clientArgs = append(json.RawMessage(nil), client...)
	e.launchArgs = delve
	e.dlvPath = dlvPath
	e.stopOnEntry = v.StopOnEntry
	e.mu.Unlock()
}

// tempDir is where the agent's folder goes: the session's folder, or
// $TMPDIR when it cannot be made.
func (e *extension) tempDir() string {
	dir, err := e.s.workDir()
	if err != nil {
		e.s.log.Warn("making the session's folder", "err", err)
		return ""
	}
	return dir
}

// hasStarted reports whether Delve accepted a launch or attach.
func (e *extension) hasStarted() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.startedOnce
}

// started runs after Delve accepted the launch or attach: it loads the
// files the launch lists and starts capturing.
func (e *extension) started() {
	e.mu.Lock()
	e.startedOnce = true
	e.mu.Unlock()
	e.s.mu.Lock()
	cfg := e.info.Config
	e.s.mu.Unlock()
	for _, p := range cfg.Profiles {
		e.goAsync(func() { e.loadFile(p, "") })
	}
	for _, p := range cfg.Traces {
		e.goAsync(func() { e.loadFile(p, contention.KindTrace) })
	}
	e.startCapture()
}

// startCapture starts the refresh loop of the program that runs now, which
// lasts until the session ends or the program is launched again (endRun).
func (e *extension) startCapture() {
	e.s.mu.Lock()
	info := e.info
	e.s.mu.Unlock()
	cfg := info.Config
	ctx, stop := context.WithCancel(e.ctx)
	e.mu.Lock()
	if e.stopRun != nil {
		e.stopRun()
	}
	e.stopRun = stop
	inj := e.inj
	e.mu.Unlock()
	if e.pipe.GoVersion() == "" && info.Mode == "exec" && info.Program != "" {
		e.pipe.SetGoVersion(pipeline.GoVersionOf(info.Program))
	}
	switch {
	case cfg.Capture == "off":
	case inj != nil:
		e.goAsync(func() { e.refreshLoop(ctx, inj, cfg) })
	case cfg.PprofURL != "":
		e.goAsync(func() { e.urlRefreshLoop(ctx, cfg) })
	}
}

// refreshPeriod is the launch's refreshSeconds, or the default.
func refreshPeriod(cfg dapx.LaunchConfig) time.Duration {
	if cfg.RefreshSeconds > 0 {
		return time.Duration(cfg.RefreshSeconds * float64(time.Second))
	}
	return DefaultRefresh
}

// every runs f each period while the program runs, then rebuilds the report
// (which sends the event when it changed). It never runs f while the
// program is stopped: the agent, or the service's net/http/pprof, lives
// inside it, and a stopped process cannot answer.
func (e *extension) every(run context.Context, period time.Duration, f func(ctx context.Context)) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-run.Done():
			return
		case <-tick.C:
		}
		e.mu.Lock()
		skip := e.stopped || e.exited
		e.mu.Unlock()
		if skip {
			continue
		}
		e.tick(run, period, f)
	}
}

// tick is one round of every. A panic in it is reported in the Debug
// Console and the loop goes on: a refresh that stops without a word leaves
// the user trusting a report that no longer changes.
func (e *extension) tick(run context.Context, period time.Duration, f func(ctx context.Context)) {
	defer func() {
		if r := recover(); r != nil {
			e.s.log.Error("panic in the live refresh", "panic", r, "stack", string(debug.Stack()))
			e.console(fmt.Sprintf("lockscope: the live refresh hit an internal error (%v); it goes on", r))
		}
	}()
	ctx, cancel := context.WithTimeout(run, period+5*time.Second)
	defer cancel()
	f(ctx)
	e.rebuild(false)
}

// refreshLoop fetches the running program's profiles from the injected
// agent every refresh period.
func (e *extension) refreshLoop(run context.Context, inj *capture.Injection, cfg dapx.LaunchConfig) {
	agent, err := inj.Connect(run)
	if err != nil {
		if run.Err() == nil {
			e.console("lockscope: " + err.Error())
		}
		return
	}
	e.mu.Lock()
	e.agent = agent
	e.mu.Unlock()
	traced := cfg.TraceSeconds <= 0
	e.every(run, refreshPeriod(cfg), func(ctx context.Context) {
		if err := e.fetchProfiles(ctx, agent, []string{contention.KindMutex, contention.KindBlock}); err != nil {
			e.s.log.Debug("refresh", "err", err)
			// After a crash restart a new agent runs: take its pid.
			if a, cerr := inj.Connect(ctx); cerr == nil {
				agent = a
				e.mu.Lock()
				e.agent = a
				e.mu.Unlock()
			}
		}
		if !traced {
			// One trace window early in the run gives the blocking chains;
			// lockscope/capture takes more on demand.
			traced = true
			e.captureTrace(run, agent, cfg.TraceSeconds)
		}
	})
}

// urlRefreshLoop fetches the cumulative profiles of a service that serves
// net/http/pprof (the launch's pprofURL), for sessions without the agent:
// attach, exec, or a remote dlv.
func (e *extension) urlRefreshLoop(run context.Context, cfg dapx.LaunchConfig) {
	reported := false
	e.every(run, refreshPeriod(cfg), func(ctx context.Context) {
		for _, k := range []string{contention.KindMutex, contention.KindBlock} {
			part, err := e.pipe.FetchURL(ctx, k, pipeline.URLOptions{Base: cfg.PprofURL, AllowHosts: cfg.AllowHosts})
			if err != nil {
				if !reported {
					reported = true // once: the service may not be up yet
					e.console("lockscope: " + err.Error())
				}
				return
			}
			e.pipe.Replace(part)
		}
	})
}

// captureTrace records one trace window of the running program into the
// report, under progress events.
func (e *extension) captureTrace(run context.Context, agent *capture.Agent, seconds float64) {
	err := e.withProgress(run, fmt.Sprintf("lockscope: tracing %gs", seconds), func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, time.Duration(seconds*float64(time.Second))+30*time.Second)
		defer cancel()
		part, err := e.pipe.FromAgent(ctx, agent, contention.KindTrace, seconds)
		if err != nil {
			return err
		}
		e.pipe.Replace(part)
		return nil
	})
	if err != nil && run.Err() == nil {
		e.console("lockscope: trace capture: " + err.Error())
	}
}

// fetchProfiles replaces the agent's profiles of the given kinds with fresh
// ones: they are cumulative since the program started.
func (e *extension) fetchProfiles(ctx context.Context, agent *capture.Agent, kinds []string) error {
	for _, k := range kinds {
		part, err := e.pipe.FromAgent(ctx, agent, k, 0)
		if err != nil {
			return err
		}
		e.pipe.Replace(part)
	}
	return nil
}

// onExited reads what the agent saved when the program ended, so that a
// program that exits between two refreshes loses nothing.
func (e *extension) onExited() {
	e.mu.Lock()
	inj := e.inj
	e.exited = true
	e.mu.Unlock()
	if inj == nil {
		return
	}
	_, errs := e.pipe.AgentFinal(e.ctx, inj, pipeline.FinalOptions{Path: inj.RendezvousDir()})
	for _, err := range errs {
		e.console("lockscope: " + err.Error())
	}
	e.rebuild(false)
}

var progressSeq atomic.Int64

// withProgress runs f under DAP progress events when the client supports
// them; a cancel request for the progress id cancels f's context.
func (e *extension) withProgress(ctx context.Context, title string, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.s.mu.Lock()
	supported := e.s.progress
	e.s.mu.Unlock()
	id := "lockscope-" + strconv.FormatInt(progressSeq.Add(1), 10)
	if supported {
		e.mu.Lock()
		e.progress[id] = cancel
		e.mu.Unlock()
		e.s.sendEvent("progressStart", map[string]any{"progressId": id, "title": title, "cancellable": true})
		defer func() {
			e.mu.Lock()
			delete(e.progress, id)
			e.mu.Unlock()
			e.s.sendEvent("progressEnd", map[string]any{"progressId": id})
		}()
	}
	err := f(ctx)
	if ctx.Err() == context.Canceled && e.ctx.Err() == nil {
		return errCancelled
	}
	return err
}

var errCancelled = errors.New("cancelled")

// cancelProgress handles a DAP cancel request for one of our progress ids.
// It reports false when the id is not ours, so the request goes to Delve.
func (e *extension) cancelProgress(progressID string) bool {
	e.mu.Lock()
	cancel, ok := e.progress[progressID]
	e.mu.Unlock()
	if ok {
		cancel()
	}
	return ok
}

func (e *extension) onCapture(ctx context.Context, raw json.RawMessage) (any, *reqError) {
	var args dapx.CaptureArguments
	if err := decodeArgs(raw, &args); err != nil {
		return nil, err
	}
	kinds := args.Kinds
	if len(kinds) == 0 {
		kinds = []string{contention.KindMutex, contention.KindBlock}
	}
	for _, k := range kinds {
		if k != contention.KindMutex && k != contention.KindBlock && k != contention.KindTrace {
			return nil, badArgs(fmt.Errorf("unknown capture kind %q (want mutex, block or trace)", k))
		}
	}
	e.s.mu.Lock()
	cfg := e.info.Config
	e.s.mu.Unlock()
	e.mu.Lock()
	agent, stopped, exited := e.agent, e.stopped, e.exited
	e.mu.Unlock()
	if agent == nil && cfg.PprofURL == "" {
		return nil, &reqError{id: dapx.ErrNoProgram, summary: "Nothing to capture from", showUser: true,
			details: "the program runs without lockscope's agent (capture is off, the mode is exec or attach, or it has not started yet) and no pprofURL is set"}
	}
	if exited {
		// A state, not a fault: no notification (showUser) for it.
		return nil, &reqError{id: dapx.ErrNoProgram, summary: "The program has exited",
			details: "there is no running program to capture from; the report holds what was saved when it exited (lockscope/report)"}
	}
	if stopped && agent != nil {
		// The agent lives inside the stopped process: asking it would hang.
		// A state the user chose, not a fault: no notification (showUser).
		return nil, &reqError{id: dapx.ErrProgramStopped, summary: "The program is stopped",
			details: "lockscope captures from a running program, and this one is stopped (at a breakpoint, a pause or a crash). Continue it, then capture again; the last report is still there (lockscope/report)"}
	}
	seconds := args.Seconds
	if seconds <= 0 {
		seconds = cfg.TraceSeconds
	}
	if seconds <= 0 {
		seconds = 2
	}
	err := e.withProgress(ctx, "lockscope: capturing "+strings.Join(kinds, ", "), func(ctx context.Context) error {
		// All kinds first, then the report: a cancel or a failure part
		// way leaves the report as it was.
		var parts []*report.Part
		for _, k := range kinds {
			var part *report.Part
			var err error
			if agent != nil {
				part, err = e.pipe.FromAgent(ctx, agent, k, seconds)
			} else {
				part, err = e.pipe.FetchURL(ctx, k, pipeline.URLOptions{Base: cfg.PprofURL, Seconds: seconds, AllowHosts: cfg.AllowHosts})
			}
			if err != nil {
				return err
			}
			parts = append(parts, part)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, part := range parts {
			e.pipe.Replace(part)
		}
		return nil
	})
	if errors.Is(err, errCancelled) {
		return nil, &reqError{id: dapx.ErrCancelled, summary: "Capture cancelled", details: "the capture was cancelled"}
	}
	if err != nil {
		return nil, &reqError{id: dapx.ErrCaptureFailed, summary: "Capture failed", details: err.Error(), showUser: true}
	}
	return e.rebuild(false), nil
}

func (e *extension) onLoad(ctx context.Context, raw json.RawMessage) (any, *reqError) {
	var args dapx.LoadArguments
	if err := decodeArgs(raw, &args); err != nil {
		return nil, err
	}
	if args.Path == "" {
		return nil, badArgs(errors.New("lockscope/load needs a path"))
	}
	if len(args.Path) > maxPath {
		return nil, badArgs(fmt.Errorf("a path of %d bytes is longer than any file system takes (%d); it begins %q",
			len(args.Path), maxPath, dapx.Shorten(args.Path)))
	}
	err := e.withProgress(ctx, "lockscope: loading "+dapx.Shorten(args.Path), func(ctx context.Context) error {
		part, err := e.pipe.LoadFile(ctx, args.Path, args.Kind)
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err // cancelled at the last moment: the report stays as it was
		}
		e.pipe.Add(part)
		return nil
	})
	if errors.Is(err, errCancelled) {
		return nil, &reqError{id: dapx.ErrCancelled, summary: "Load cancelled", details: "the load was cancelled"}
	}
	if err != nil {
		// Errors name the file; a long path is quoted by its start only.
		details := strings.ReplaceAll(err.Error(), args.Path, dapx.Shorten(args.Path))
		return nil, &reqError{id: dapx.ErrLoadFailed, summary: "Load failed", details: details, showUser: true}
	}
	return e.rebuild(false), nil
}

// maxPath is Linux's PATH_MAX: no file has a longer path.
const maxPath = 4096

// loadFile loads a file listed in the launch; errors go to the console.
func (e *extension) loadFile(path, kind string) {
	part, err := e.pipe.LoadFile(e.ctx, path, kind)
	if err != nil {
		e.console("lockscope: " + err.Error())
		return
	}
	e.pipe.Add(part)
	e.rebuild(false)
}

// console writes a line to the client's Debug Console.
func (e *extension) console(text string) {
	e.s.sendEvent("output", map[string]any{"category": "console", "output": text + "\n"})
	e.s.log.Info(text)
}
