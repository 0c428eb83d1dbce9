package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/lockscope/lockscope/internal/capture"
	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/pipeline"
	"github.com/lockscope/lockscope/internal/report"
)

// goBuild runs the go command in dir, passing its output through to
// stderr. A failure is ExitBuild: the compiler's message is on stderr.
func (a *analyzer) goBuild(ctx context.Context, dir string, args []string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Stdout = a.stderr
	cmd.Stderr = a.stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fail(ExitInput, "interrupted while building")
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fail(ExitBuild, "building %s failed (go %s)", dir, strings.Join(args, " "))
		}
		return fail(ExitInternal, "running go: %v", err)
	}
	return nil
}

// userBuildFlags are --build-flags plus -race when asked for.
func (a *analyzer) userBuildFlags() []string {
	flags, _ := capture.DelveBuildFlags(a.cfg.buildFlags)
	if a.cfg.race {
		flags = append(flags, "-race")
	}
	return flags
}

// runProgram builds the program with the agent, runs it and collects what
// the agent captured.
func (a *analyzer) runProgram(ctx context.Context) error {
	cfg := a.cfg
	inj, err := capture.Prepare(capture.PrepareOptions{
		Program:        cfg.target,
		MutexFraction:  cfg.mutexFraction,
		BlockRate:      cfg.blockRate,
		UserBuildFlags: a.userBuildFlags(),
	})
	if err != nil {
		return &exitErr{code: ExitInput, err: err}
	}
	defer inj.Close()
	if err := capture.CheckGoVersion(pipeline.ToolchainVersion(inj.PackageDir)); err != nil {
		// The agent would be left out of the build (and before Go 1.23
		// the build would fail on its -checklinkname=0): a run would
		// capture nothing. The inputs that need no agent still work.
		return fail(ExitUsage, "%v: analyze runs the program with lockscope's agent, which needs it; with this toolchain use --test (go test's own profiles), --pprof-url, or profile and trace files", err)
	}
	a.startIndex(inj.PackageDir, false)

	bin := filepath.Join(inj.Dir, "program")
	a.progress("building %s", displayPath(inj.PackageDir))
	args := append([]string{"build", "-o", bin}, inj.BuildFlags...)
	if err := a.goBuild(ctx, inj.PackageDir, append(args, ".")); err != nil {
		return err
	}
	a.useGoVersionOf(bin, inj.PackageDir)

	out := a.pipe.NewOutput(contention.Source{Path: inj.PackageDir})
	cmd := exec.Command(bin, cfg.progArgs...)
	cmd.Env = inj.Environ(os.Environ())
	// The program's output is shown as it comes, on stderr so that stdout
	// holds the report alone.
	cmd.Stdout = io.MultiWriter(a.stderr, out)
	cmd.Stderr = io.MultiWriter(a.stderr, out)
	detach(cmd)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fail(ExitInput, "starting %s: %v", bin, err)
	}
	a.progress("running %s (pid %d)%s", displayPath(inj.PackageDir), cmd.Process.Pid, durationNote(cfg.duration))
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// Whatever happens next (a panic included), the program does not
	// outlive analyze.
	reaped := false
	defer func() {
		if !reaped {
			cmd.Process.Kill()
			<-exited
		}
	}()

	// The agent: connect, take a trace window, and when the run is cut
	// short (--duration or an interrupt) take the live profiles.
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	var (
		agentMu  sync.Mutex
		agent    *capture.Agent
		window   *report.Part
		traceErr error
	)
	agentDone := make(chan struct{})
	samplerDone := make(chan struct{})
	go func() {
		defer close(agentDone)
		ag, err := inj.Connect(runCtx)
		if err != nil {
			close(samplerDone)
			return
		}
		agentMu.Lock()
		agent = ag
		agentMu.Unlock()
		a.progress("capturing from the program (lockscope's agent answered)")
		// Goroutine dumps while the program runs: a lock wait still there
		// in the last one, with no wait through its line ended in
		// between, is stuck.
		go func() {
			defer close(samplerDone)
			a.sampleGoroutines(runCtx, inj, ag)
		}()
		if cfg.traceSeconds > 0 {
			secs := cfg.traceSeconds
			if cfg.duration > 0 {
				secs = min(secs, cfg.duration.Seconds())
			}
			window, traceErr = a.pipe.FromAgent(runCtx, ag, contention.KindTrace, secs)
		}
	}()

	var stopTimer <-chan time.Time
	if cfg.duration > 0 {
		t := time.NewTimer(cfg.duration)
		defer t.Stop()
		stopTimer = t.C
	}
	var waitErr error
	stoppedBy := ""
	// When every goroutine of the program is blocked, the agent steps
	// aside and the runtime ends the program ("all goroutines are asleep
	// - deadlock!"), as it would without lockscope. A timer the agent
	// could not see may keep it alive: then lockscope ends the run.
	blockedPoll := time.NewTicker(200 * time.Millisecond)
	defer blockedPoll.Stop()
	var blockedSince time.Time
wait:
	for {
		select {
		case waitErr = <-exited:
			break wait
		case <-stopTimer:
			stoppedBy = "(--duration " + cfg.duration.String() + ")"
			break wait
		case <-ctx.Done():
			stoppedBy = "(interrupt)"
			break wait
		case <-blockedPoll.C:
			if _, blocked, _ := inj.Blocked(); !blocked {
				blockedSince = time.Time{}
			} else if blockedSince.IsZero() {
				blockedSince = time.Now()
			} else if time.Since(blockedSince) > 2*time.Second {
				stoppedBy = stoppedBlocked
				break wait
			}
		}
	}
	// live holds the profiles taken just before lockscope stopped the
	// program; nil when the program ended by itself.
	var live map[string][]byte
	if stoppedBy == stoppedBlocked {
		// The agent has stepped aside and saved its final files; it
		// takes no commands.
		cmd.Process.Kill()
		waitErr = <-exited
	} else if stoppedBy != "" {
		live = map[string][]byte{}
		// Let a trace window that is still open finish (it is at most
		// --trace-seconds long), unless the user is interrupting.
		if ctx.Err() == nil {
			select {
			case <-agentDone:
			case waitErr = <-exited:
				stoppedBy, live = "", nil
			}
		}
		agentMu.Lock()
		ag := agent
		agentMu.Unlock()
		if ag != nil && stoppedBy != "" {
			pctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			// The last goroutine dump, before the profiles: the waits
			// still open now are the ones that never ended.
			if err := a.pipe.SampleGoroutines(pctx, ag); err != nil {
				a.progress("no goroutine dump at the end: %v", err)
			}
			for _, k := range []string{contention.KindMutex, contention.KindBlock} {
				if data, err := ag.Profile(pctx, k); err == nil {
					live[k] = data
				}
			}
			cancel()
		}
		if stoppedBy != "" {
			cmd.Process.Kill()
			waitErr = <-exited
		}
	}
	reaped = true
	elapsed := time.Since(start)
	cancelRun()
	<-agentDone
	<-samplerDone

	status := exitStatus(waitErr)
	if stoppedBy != "" {
		status = "stopped by lockscope " + stoppedBy
	}
	a.progress("program %s after %s", status, elapsed.Round(10*time.Millisecond))
	if _, blocked, _ := inj.Blocked(); blocked {
		a.progress("every goroutine of the program was blocked: a deadlock (see the report)")
	}

	if stoppedBy != "" {
		traceErr = nil // the window was cut on purpose
	}
	// Not ctx: an interrupt means "stop and report", so the analysis of
	// what was captured must still run.
	// The profiles cover the program from when the agent set their rates
	// to their snapshot, not its start (a slow package init, say) and
	// exit, which elapsed also counts: a comparison per second divides by
	// that.
	covered := elapsed
	if span, ok := finalSpan(live, inj); ok {
		covered = span.Duration()
	}
	added, errs := a.pipe.AgentFinal(context.Background(), inj, pipeline.FinalOptions{Live: live, Window: window, WindowErr: traceErr, DurationNs: covered.Nanoseconds(), Path: inj.PackageDir})
	a.analysed += added
	a.failed = append(a.failed, errs...)
	a.output(out)
	return nil
}

// finalSpan is the span of the agent's profiles that AgentFinal adds: the
// live ones lockscope took before it stopped the program, else those the
// agent saved.
func finalSpan(live map[string][]byte, inj *capture.Injection) (span capture.Span, ok bool) {
	profiles := make([][]byte, 0, len(live))
	for _, data := range live {
		profiles = append(profiles, data)
	}
	if span, ok := capture.ProfilesSpan(profiles...); ok {
		return span, true
	}
	return inj.FinalSpan()
}

// stoppedBlocked says that lockscope ended a program whose goroutines
// were all blocked, but which a timer kept alive.
const stoppedBlocked = "(every goroutine blocked)"

// sampleGoroutines offers the pipeline a goroutine dump every
// SamplePeriod until ctx ends; the pipeline keeps to its time budget.
func (a *analyzer) sampleGoroutines(ctx context.Context, inj *capture.Injection, ag *capture.Agent) {
	tick := time.NewTicker(a.pipe.SamplePeriod())
	defer tick.Stop()
	for {
		// SampleDue keeps to the time budget: a big program is sampled
		// less often.
		if a.pipe.SampleDue() {
			if err := a.pipe.SampleGoroutines(ctx, ag); err != nil && ctx.Err() == nil {
				// While the agent has stepped aside for a deadlock, it
				// takes no commands: not an error.
				if _, blocked, _ := inj.Blocked(); !blocked {
					a.progress("goroutine dump: %v", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// useGoVersionOf sets the Go version from the binary just built (the local
// toolchain's when it does not say).
func (a *analyzer) useGoVersionOf(bin, dir string) {
	gv := pipeline.GoVersionOf(bin)
	if gv == "" {
		gv = pipeline.GoVersionIn(dir)
	}
	a.pipe.SetGoVersion(gv)
}

// output ends the program's output: a crash and the race reports in it
// join the report.
func (a *analyzer) output(out *pipeline.Output) {
	crashed, races := out.Close()
	if crashed {
		a.analysed++
		a.progress("the program crashed; the crash is in the report")
	}
	if races > 0 {
		a.analysed++
		a.progress("the race detector reported %d race(s)", races)
	}
}

// testPackage finds the package to test, starts indexing it with its
// tests, and makes a temporary folder (the caller removes it) for the test
// binary and its profiles.
func (a *analyzer) testPackage(prefix string) (dir, tmp string, err error) {
	dir, err = packageDir(a.cfg.target)
	if err != nil {
		return "", "", err
	}
	a.startIndex(dir, true)
	tmp, err = os.MkdirTemp("", prefix)
	if err != nil {
		return "", "", &exitErr{code: ExitInternal, err: err}
	}
	return dir, tmp, nil
}

// runTests builds the package's test binary and runs it with go test's
// profiling flags.
func (a *analyzer) runTests(ctx context.Context) error {
	cfg := a.cfg
	dir, tmp, err := a.testPackage("lockscope-test-")
	if err != nil {
		return err
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
	targs := capture.TestFlags(tmp, cfg.mutexFraction, cfg.blockRate, cfg.traceSeconds > 0, true)
	if cfg.run != "" {
		targs = append(targs, "-test.run="+cfg.run)
	}
	if cfg.bench != "" {
		targs = append(targs, "-test.bench="+cfg.bench)
	}
	targs = append(targs, cfg.progArgs...)
	out := a.pipe.NewOutput(contention.Source{Path: dir})
	cmd := exec.CommandContext(ctx, bin, targs...)
	cmd.Dir = dir // tests run in their package's directory, as go test does
	cmd.Stdout = io.MultiWriter(a.stderr, out)
	cmd.Stderr = io.MultiWriter(a.stderr, out)
	a.progress("running the tests")
	start := time.Now()
	waitErr := cmd.Run()
	elapsed := time.Since(start)
	a.progress("tests %s after %s", exitStatus(waitErr), elapsed.Round(10*time.Millisecond))
	if waitErr != nil {
		var ee *exec.ExitError
		if !errors.As(waitErr, &ee) {
			return fail(ExitInput, "running the tests: %v", waitErr)
		}
		a.pipe.Note("the tests failed (%s)", exitStatus(waitErr))
	}
	src := contention.Source{Path: dir, Origin: contention.OriginTest, DurationNs: elapsed.Nanoseconds()}
	for _, f := range []struct{ kind, name string }{
		{contention.KindMutex, capture.TestMutexFile},
		{contention.KindBlock, capture.TestBlockFile},
		{contention.KindTrace, capture.TestTraceFile},
	} {
		if f.kind == contention.KindTrace && cfg.traceSeconds == 0 {
			continue
		}
		file, err := os.Open(filepath.Join(tmp, f.name))
		if err != nil {
			a.failed = append(a.failed, fmt.Errorf("the test binary wrote no %s file (it ended early?)", f.kind))
			continue
		}
		if f.kind == contention.KindTrace {
			st, _ := file.Stat()
			a.addTrace(context.Background(), file, st.Size(), src)
		} else if data, err := io.ReadAll(io.LimitReader(file, capture.MaxFileSize)); err != nil {
			a.failed = append(a.failed, fmt.Errorf("reading the test's %s profile: %w", f.kind, err))
		} else {
			a.add(a.pipe.Profile(context.Background(), f.kind, data, src))
		}
		file.Close()
	}
	a.output(out)
	return nil
}

func exitStatus(err error) string {
	if err == nil {
		return "exited (status 0)"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ee.ExitCode() >= 0 {
			return fmt.Sprintf("exited (status %d)", ee.ExitCode())
		}
		return "died (" + ee.String() + ")"
	}
	return "failed: " + err.Error()
}

func durationNote(d time.Duration) string {
	if d <= 0 {
		return " until it ends"
	}
	return " for " + d.String()
}

// displayPath shows p relative to the working directory when it is below it.
func displayPath(p string) string {
	cwd, err := os.Getwd()
	if err != nil {
		return p
	}
	return relTo(cwd, p)
}

func relTo(cwd, p string) string {
	if !filepath.IsAbs(p) || cwd == "" {
		return p
	}
	rel, err := filepath.Rel(cwd, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return p
	}
	if rel == "." {
		return "."
	}
	return "." + string(filepath.Separator) + rel
}
