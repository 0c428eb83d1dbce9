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
	"github.com/lockscope/lockscope/internal/crashrace"
	"github.com/lockscope/lockscope/internal/recipes"
)

// maxKeptOutput caps the program output kept for crash parsing; a crash
// report is at its end, so the tail is kept.
const maxKeptOutput = 8 << 20

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
	cut bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
		t.cut = true
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

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
	a.startIndex(ctx, inj.PackageDir, false)

	bin := filepath.Join(inj.Dir, "program")
	a.progress("building %s", displayPath(inj.PackageDir))
	args := append([]string{"build", "-o", bin}, inj.BuildFlags...)
	if err := a.goBuild(ctx, inj.PackageDir, append(args, ".")); err != nil {
		return err
	}
	gv, _ := recipes.GoVersionOfBinary(bin)
	a.useRecipes(gv)

	out := &tailBuffer{max: maxKeptOutput}
	races := &crashrace.RaceParser{}
	cmd := exec.Command(bin, cfg.progArgs...)
	cmd.Env = inj.Environ(os.Environ())
	// The program's output is shown as it comes, on stderr so that stdout
	// holds the report alone.
	cmd.Stdout = io.MultiWriter(a.stderr, races)
	cmd.Stderr = io.MultiWriter(a.stderr, out, races)
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
		traceBuf []byte
		traceErr error
	)
	agentDone := make(chan struct{})
	go func() {
		defer close(agentDone)
		ag, err := inj.Connect(runCtx)
		if err != nil {
			return
		}
		agentMu.Lock()
		agent = ag
		agentMu.Unlock()
		if cfg.traceSeconds > 0 {
			secs := cfg.traceSeconds
			if cfg.duration > 0 {
				secs = min(secs, cfg.duration.Seconds())
			}
			traceBuf, traceErr = ag.Trace(runCtx, secs)
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
	select {
	case waitErr = <-exited:
	case <-stopTimer:
		stoppedBy = "after " + cfg.duration.String()
	case <-ctx.Done():
		stoppedBy = "on interrupt"
	}
	live := map[string][]byte{}
	if stoppedBy != "" {
		// Let a trace window that is still open finish (it is at most
		// --trace-seconds long), unless the user is interrupting.
		if ctx.Err() == nil {
			select {
			case <-agentDone:
			case waitErr = <-exited:
				stoppedBy = ""
			}
		}
		agentMu.Lock()
		ag := agent
		agentMu.Unlock()
		if ag != nil && stoppedBy != "" {
			pctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
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

	status := exitStatus(waitErr)
	if stoppedBy != "" {
		status = "stopped by lockscope " + stoppedBy
	}
	a.progress("program %s after %s", status, elapsed.Round(10*time.Millisecond))

	final, hookRan, err := inj.Final()
	if err != nil {
		return &exitErr{code: ExitInternal, err: err}
	}
	src := func() contention.Source {
		return contention.Source{Path: inj.PackageDir, Origin: "agent", DurationNs: elapsed.Nanoseconds()}
	}
	for _, k := range []string{contention.KindMutex, contention.KindBlock} {
		data := live[k]
		if data == nil {
			data = final[k]
		}
		if data == nil {
			a.failed = append(a.failed, fmt.Errorf("no %s profile was captured (the program ended before the agent saved one)", k))
			continue
		}
		a.addProfile(k, data, src())
	}
	if stoppedBy == "" && !hookRan && (final["mutex"] != nil || final["block"] != nil) {
		a.builder.AddNote("the program ended without running its exit hooks (a fatal error or a signal): the profiles are the last periodic snapshot, up to %s old", capture.DefaultSnapshot)
	}
	switch {
	case traceBuf != nil:
		a.addTrace(traceBuf, src())
	case final["trace-window"] != nil:
		a.addTrace(final["trace-window"], src())
	case cfg.traceSeconds > 0 && traceErr != nil && stoppedBy == "":
		a.builder.AddNote("no execution trace: %v", traceErr)
	}

	text := out.String()
	if a.builder.AddCrashText(text, contention.Source{Origin: "output", Path: inj.PackageDir}) {
		a.analysed++
		a.progress("the program crashed; the crash is in the report")
	}
	races.Flush()
	if rs := races.Races(); len(rs) > 0 {
		a.analysed++
		a.builder.AddRaces(rs, contention.Source{Origin: "output", Path: inj.PackageDir})
		a.progress("the race detector reported %d race(s)", len(rs))
	}
	return nil
}

// runTests builds the package's test binary and runs it with go test's
// profiling flags.
func (a *analyzer) runTests(ctx context.Context) error {
	cfg := a.cfg
	dir, err := packageDir(cfg.target)
	if err != nil {
		return err
	}
	a.startIndex(ctx, dir, true)
	tmp, err := os.MkdirTemp("", "lockscope-test-")
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
	gv, _ := recipes.GoVersionOfBinary(bin)
	a.useRecipes(gv)
	targs := capture.TestFlags(tmp, cfg.mutexFraction, cfg.blockRate, cfg.traceSeconds > 0, true)
	if cfg.run != "" {
		targs = append(targs, "-test.run="+cfg.run)
	}
	if cfg.bench != "" {
		targs = append(targs, "-test.bench="+cfg.bench)
	}
	targs = append(targs, cfg.progArgs...)
	out := &tailBuffer{max: maxKeptOutput}
	races := &crashrace.RaceParser{}
	cmd := exec.CommandContext(ctx, bin, targs...)
	cmd.Dir = dir // tests run in their package's directory, as go test does
	cmd.Stdout = io.MultiWriter(a.stderr, races)
	cmd.Stderr = io.MultiWriter(a.stderr, out, races)
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
		a.builder.AddNote("the tests failed (%s)", exitStatus(waitErr))
	}
	for _, f := range []struct{ kind, name string }{
		{contention.KindMutex, capture.TestMutexFile},
		{contention.KindBlock, capture.TestBlockFile},
		{"trace", capture.TestTraceFile},
	} {
		if f.kind == "trace" && cfg.traceSeconds == 0 {
			continue
		}
		data, err := os.ReadFile(filepath.Join(tmp, f.name))
		if err != nil {
			a.failed = append(a.failed, fmt.Errorf("the test binary wrote no %s file (it ended early?)", f.kind))
			continue
		}
		src := contention.Source{Path: dir, Origin: "test", DurationNs: elapsed.Nanoseconds()}
		if f.kind == "trace" {
			a.addTrace(data, src)
		} else {
			a.addProfile(f.kind, data, src)
		}
	}
	if a.builder.AddCrashText(out.String(), contention.Source{Origin: "output", Path: dir}) {
		a.analysed++
	}
	races.Flush()
	if rs := races.Races(); len(rs) > 0 {
		a.analysed++
		a.builder.AddRaces(rs, contention.Source{Origin: "output", Path: dir})
	}
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
