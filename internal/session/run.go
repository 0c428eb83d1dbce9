package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lockscope/lockscope/internal/capture"
	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/dapx"
	"github.com/lockscope/lockscope/internal/delve"
	"github.com/lockscope/lockscope/internal/pipeline"
)

// prepare finishes a parsed launch: the capture agent, -race, the Go
// version and the source index. It runs child processes (go env, go list),
// so no debuggee of the embedded Delve may be running.
func (e *extension) prepare(p *launchPlan) *reqError {
	if err := e.s.setBuildOutput(p); err != nil {
		return &reqError{id: dapx.ErrLaunchRewrite, summary: "Failed to launch", details: "making the session's folder: " + err.Error(), showUser: true}
	}
	if err := e.prepareLaunch(&p.info, p.args, p.dlvPath != "" || e.s.opts.DlvPath != ""); err != nil {
		return &reqError{id: dapx.ErrLaunchRewrite, summary: "Failed to launch", details: err.Error(), showUser: true}
	}
	return nil
}

// prepareLaunch adds the capture agent (and -race) to a launch that builds
// the program. Capture problems never fail the launch: debugging goes on
// without capture, and the Debug Console says why. externalDlv is set
// when an external dlv, not the embedded Delve, will build and debug it.
func (e *extension) prepareLaunch(info *launchInfo, args map[string]json.RawMessage, externalDlv bool) error {
	cfg := info.Config
	builds := info.Request == "launch" && (info.Mode == "debug" || info.Mode == "test")
	if !builds {
		if cfg.Race {
			e.console("lockscope: \"race\" needs a launch that builds (mode debug or test); it is ignored")
		}
		return nil
	}
	env := map[string]any{}
	if raw, ok := args["env"]; ok {
		if err := json.Unmarshal(raw, &env); err != nil {
			return fmt.Errorf(`"env" must be an object: %v`, err)
		}
	}
	applyBuildEnv(env)
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
	// The Go version first: the agent needs a recent enough toolchain.
	// The index learns it with the user's modules (go facts, usually from
	// their cache), and goes on in the background while Delve builds.
	if info.ProgramDir == "" {
		e.pipe.SetGoVersion(pipeline.GoVersionIn(info.ProgramDir))
	}
	e.startIndex(*info, userFlags)
	if !externalDlv {
		e.warnUnsupportedGo(e.pipe.GoVersion())
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
			Flight: flightWindow(cfg), FlightMaxRate: flightMaxRate(cfg),
			UserBuildFlags: userFlags, TempDir: e.tempDir(),
			// The program must not outlive a SIGKILLed lockscope.
			Lifeline:  true,
			GoVersion: e.pipe.GoVersion(),
		})
		var old *capture.OldGoError
		switch {
		case errors.As(err, &old):
			e.noteOldGo(old, cfg, externalDlv)
		case err != nil:
			e.console("lockscope: capture is off for this session: " + err.Error())
		default:
			flags = inj.BuildFlags
			for k, v := range inj.Env {
				env[k] = v
			}
			b, _ := json.Marshal(env)
			args["env"] = b
			if !cfg.ShowAgentGoroutines {
				if err := hideTraceGoroutines(args); err != nil {
					return err
				}
			}
			e.mu.Lock()
			e.inj = inj
			e.mu.Unlock()
		}
	}
	if len(flags) > 0 {
		b, _ := json.Marshal(flags)
		args["buildFlags"] = b
	}
	return nil
}

// warnUnsupportedGo says in the Debug Console, once a launch, that the
// program builds with a Go older than the embedded Delve supports: Delve
// debugs it, and says only in lockscope's log that its behaviour is
// undefined. (A dlv of the user's own, dlvPath, refuses such a Go in its
// own words.)
func (e *extension) warnUnsupportedGo(goVersion string) {
	if !capture.GoVersionBefore(goVersion, delve.MinGoVersion) {
		return
	}
	v, _, _ := strings.Cut(strings.TrimSpace(goVersion), " ")
	e.console(fmt.Sprintf("lockscope: this program builds with %s, older than the %s that the embedded Delve supports: Delve debugs it, but calls its behaviour undefined (a variable or a step may be wrong)", v, delve.MinGoVersion))
}

// noteOldGo says, in the report and in the Debug Console (once a launch),
// that the toolchain is too old for the agent: the program builds and is
// debugged as by plain Delve, and the service's own net/http/pprof
// (pprofURL) is still read. The embedded Delve checks no Go version (it
// logs a warning below its own minimum); a dlv started as `dlv dap`
// refuses a Go older than its minimum (1.25 for Delve 1.27) unless its
// dlvFlags say --check-go-version=false, so with an external dlv the note
// does not promise debugging and names the ways out.
func (e *extension) noteOldGo(old *capture.OldGoError, cfg dapx.LaunchConfig, externalDlv bool) {
	what := "profiles and traces are off"
	if cfg.PprofURL != "" {
		what = "profiles and traces come from pprofURL only"
	}
	debugging := "debugging works"
	if externalDlv {
		debugging = "an external dlv refuses so old a Go unless its dlvFlags have --check-go-version=false; lockscope's embedded Delve (no dlvPath) debugs it"
	}
	note := fmt.Sprintf("%v: %s; %s", old, what, debugging)
	e.mu.Lock()
	added := e.oldGoNote == note
	e.oldGoNote = note
	e.mu.Unlock()
	if !added {
		e.pipe.Note("%s", note)
		// lockscope/report answers with the last report built: without a
		// build here, the note waited for the next one (the index's, which
		// a warm cache holds until the first stop; CI once asked at that
		// stop and got no note).
		e.rebuild(false)
	}
	e.console("lockscope: " + note)
}

// applyBuildEnv sets the launch's "env" in this process, as the embedded
// Delve does when the launch reaches it (os.Setenv; null unsets), before
// Delve runs go build with it. It is done here first so that lockscope's
// own go commands (the go facts, the index's go list) run with the go
// command, GOROOT and GOFLAGS of the build: a launch whose env puts an
// older Go first on PATH is built by that Go, and the agent's version gate
// must see it. An external dlv inherits this environment when it starts,
// and sets the same values itself. Values Delve would refuse (not strings)
// are left to Delve's own error.
func applyBuildEnv(env map[string]any) {
	for k, v := range env {
		switch v := v.(type) {
		case string:
			os.Setenv(k, v)
		case nil:
			os.Unsetenv(k)
		}
	}
}

// startIndex indexes the program's sources, with the build's own flags,
// while Delve builds it. Every child process lockscope starts (go list
// here) must finish before the debuggee runs: the embedded Delve waits for
// any child (wait4(-1)) while the debuggee runs and would reap ours. The
// index therefore loads in a helper process (Options.IndexHelper), at a
// low CPU priority, whose go commands are its own children; only when
// there is none does the session hold the client's configurationDone
// until waitIndex returns: until the index's go commands are done, not
// the whole index, whose parsing and type-checking runs no child and may
// take seconds more on a large program. That type-checking waits longer
// still (see waitIndex): until Delve has built the program, read its
// debug information and run it to its first stop, which it would slow
// down.
func (e *extension) startIndex(info launchInfo, buildFlags []string) {
	if info.ProgramDir == "" {
		return
	}
	t0 := time.Now()
	o := pipeline.IndexOptions{
		BuildFlags: indexBuildFlags(buildFlags), Tests: info.Mode == "test", GoVersion: true, HoldTypeCheck: true,
		Helper: e.s.opts.IndexHelper,
	}
	e.pipe.StartIndex(info.ProgramDir, o, func() {
		e.s.log.Info("source index", "dir", info.ProgramDir, "took", time.Since(t0))
		e.rebuild(false)
	})
}

// delveGCFlags is what Delve adds to every build it makes, after the
// launch's buildFlags (service/dap and pkg/gobuild, Delve 1.27).
const delveGCFlags = "-gcflags=all=-N -l"

// indexBuildFlags are the index's go list flags for a program that Delve
// builds with buildFlags. The list compiles every package for its export
// data; with Delve's own compiler flags, those are the compiles of Delve's
// build, which the build cache then holds once: with the optimiser's
// flags, each package a user edited was compiled twice on F5, and all of
// them on the first F5 of a module. The types, and so the index, are the
// same either way.
func indexBuildFlags(buildFlags []string) []string {
	return append(slices.Clone(buildFlags), delveGCFlags)
}

// indexRunHead is how long the program runs before the index type-checks,
// unless it stops first.
var indexRunHead = time.Second

// waitIndex waits, for a bounded time, until the source index runs no
// more child processes. The index then type-checks once the program
// stops (observeEvent) or has run for indexRunHead: in this process, its
// type-checking took the CPU that Delve needs to run the program to the
// breakpoint that the user pressed F5 for.
func (e *extension) waitIndex() {
	ctx, cancel := context.WithTimeout(e.ctx, 2*time.Minute)
	defer cancel()
	t0 := time.Now()
	if !e.pipe.WaitIndexCommands(ctx) && e.ctx.Err() == nil {
		e.s.log.Warn("the source index is still running the go command; the program starts anyway")
	}
	time.AfterFunc(indexRunHead, e.pipe.ResumeIndex)
	e.s.log.Info("configurationDone held for the source index's go commands", "took", time.Since(t0))
}

// endRun forgets the program that ran: its capture loops stop and, unless
// keep is set (a crash restart runs the same build again), its agent's
// folder goes. The program must be gone already.
func (e *extension) endRun(keep bool) {
	e.mu.Lock()
	stop, inj := e.stopRun, e.inj
	e.stopRun = nil
	e.dbg.newRun()
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
	e.dbg.clientArgs = append(json.RawMessage(nil), client...)
	e.dbg.launchArgs = delve
	e.dbg.dlvPath = dlvPath
	e.dbg.stopOnEntry = v.StopOnEntry
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
	return e.dbg.started
}

// started runs after Delve accepted the launch or attach: it loads the
// files the launch lists and starts capturing.
func (e *extension) started() {
	e.mu.Lock()
	e.dbg.started = true
	e.mu.Unlock()
	cfg := e.launchInfo().Config
	for _, p := range cfg.Profiles {
		e.goAsync(func() { e.loadFile(p, "") })
	}
	for _, p := range cfg.Traces {
		e.goAsync(func() { e.loadFile(p, contention.KindTrace) })
	}
	e.startCapture()
}

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

// runtimeTraceGoroutines are the goroutines the runtime starts while a
// trace runs, named by where they start: they show up because lockscope
// traces (its flight recorder is on by default), and in the Call Stack they
// read "runtime.gopark" among the user's goroutines. The agent cannot hide
// them as it hides its own (runtime.Stack leaves system goroutines out, so
// it never learns their ids); Delve's goroutine filters can.
var runtimeTraceGoroutines = []string{"runtime.traceStartReadCPU.", "runtime.(*traceAdvancerState).start."}

// hideTraceGoroutines adds filters for runtimeTraceGoroutines to the
// launch's goroutineFilters (Delve's `goroutines` command syntax), after
// the user's own: Delve keeps a goroutine only if every filter keeps it.
func hideTraceGoroutines(args map[string]json.RawMessage) error {
	var filters string
	if raw, ok := args["goroutineFilters"]; ok {
		if err := json.Unmarshal(raw, &filters); err != nil {
			return fmt.Errorf(`"goroutineFilters" must be a string: %v`, err)
		}
	}
	for _, fn := range runtimeTraceGoroutines {
		filters = strings.TrimSpace(filters + " -without startloc " + fn)
	}
	b, _ := json.Marshal(filters)
	args["goroutineFilters"] = b
	return nil
}
