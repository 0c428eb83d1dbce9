//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

// The agent takes its commands through a named pipe (fifo_unix.go).

package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/lockscope/lockscope/internal/testutil"
)

// A program that exits after half a second keeps its profiles: the exit
// hook writes them, and the hot Unlock line is in the mutex profile.
func TestAgentShortProgramKeepsProfiles(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "short")
	inj, bin := buildAgent(t, PrepareOptions{Program: dir, Snapshot: -1, Flight: 2 * time.Second})
	cmd := exec.Command(bin)
	cmd.Env = inj.Environ(os.Environ())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("short: %v\n%s", err, out)
	}
	files, exited, err := inj.Final()
	if err != nil {
		t.Fatal(err)
	}
	if !exited {
		t.Fatalf("the exit hook did not run: rendezvous has %v", keys(files))
	}
	main := filepath.Join(dir, "main.go")
	line := testutil.MarkerLine(t, main, "short-unlock")
	if d := hotLine(t, files["mutex"], main, line); d <= 0 {
		t.Errorf("mutex profile charges nothing to main.go:%d (short-unlock)", line)
	}
	if _, ok := files["block"]; !ok {
		t.Errorf("no final block profile")
	}
	if tr, err := inj.OpenFinalTrace(FinalFlight); err != nil || tr == nil {
		t.Errorf("the flight recorder's window was not saved at exit (%v)", err)
	} else {
		head := make([]byte, 16)
		n, _ := io.ReadFull(tr, head)
		tr.Close()
		if Sniff(head[:n]) != InputTrace {
			t.Errorf("the flight recorder's window is not a trace: %q", head[:n])
		}
	}
	assertTreeUntouched(t, dir)
}

// os.Exit with a failure code runs the hook too (RunOnFailure).
func TestAgentFailingExitKeepsProfiles(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "capture", "exitcode")
	inj, bin := buildAgent(t, PrepareOptions{Program: dir, Snapshot: -1})
	cmd := exec.Command(bin)
	cmd.Env = inj.Environ(os.Environ())
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("exitcode: got %v, want exit status 3", err)
	}
	files, exited, err := inj.Final()
	if err != nil || !exited {
		t.Fatalf("Final: exited=%v err=%v files=%v", exited, err, keys(files))
	}
	main := filepath.Join(dir, "main.go")
	if d := hotLine(t, files["mutex"], main, testutil.MarkerLine(t, main, "exit-unlock")); d <= 0 {
		t.Errorf("mutex profile charges nothing to the exit-unlock line")
	}
}

// Killed by a signal, no hook runs; the periodic snapshot is what is left.
func TestAgentSnapshotSurvivesKill(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "ledger")
	inj, bin := buildAgent(t, PrepareOptions{Program: dir, Snapshot: 200 * time.Millisecond})
	cmd := exec.Command(bin, "-d", "0")
	cmd.Env = inj.Environ(os.Environ())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if _, err := inj.Connect(ctxTimeout(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	mutexFile := filepath.Join(inj.RendezvousDir(), "mutex.pb")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(mutexFile); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no snapshot written within 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // let a snapshot with contention in it land
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	files, exited, err := inj.Final()
	if err != nil {
		t.Fatal(err)
	}
	if exited {
		t.Errorf("exit hook reported as run after SIGKILL")
	}
	main := filepath.Join(dir, "main.go")
	if d := hotLine(t, files["mutex"], main, testutil.MarkerLine(t, main, "hot-unlock")); d <= 0 {
		t.Errorf("snapshot mutex profile charges nothing to hot-unlock")
	}
}

// The live agent answers through its pipe: profiles, trace windows and the
// flight recorder's window. It holds no socket at all, and its folder and
// pipe are the user's alone. After the program is killed nothing answers;
// after Reset and a second run, Connect finds the new agent.
func TestAgentServesThroughItsPipe(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "ledger")
	inj, bin := buildAgent(t, PrepareOptions{Program: dir, Snapshot: -1, Flight: time.Second})
	cmd := exec.Command(bin, "-d", "0")
	cmd.Env = inj.Environ(os.Environ())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	ctx := ctxTimeout(t, 60*time.Second)
	ag, err := inj.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ag.Pid != cmd.Process.Pid {
		t.Errorf("agent pid %d, want %d", ag.Pid, cmd.Process.Pid)
	}
	if socks := socketFDs(t, cmd.Process.Pid); len(socks) > 0 {
		t.Errorf("the program holds sockets %v; the agent must open none", socks)
	}
	for path, want := range map[string]os.FileMode{inj.Dir: 0o700, inj.RendezvousDir(): 0o700, ag.Addr: 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", path, st.Mode().Perm(), want)
		}
	}

	time.Sleep(500 * time.Millisecond)
	mutex, err := ag.Profile(ctx, "mutex")
	if err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "main.go")
	if d := hotLine(t, mutex, main, testutil.MarkerLine(t, main, "hot-unlock")); d <= 0 {
		t.Errorf("live mutex profile charges nothing to hot-unlock")
	}
	block, err := ag.Profile(ctx, "block")
	if err != nil {
		t.Fatal(err)
	}
	if d := hotLine(t, block, main, testutil.MarkerLine(t, main, "hot-write")-1); d <= 0 {
		t.Errorf("live block profile charges nothing to the hot Lock")
	}
	if _, err := ag.Profile(ctx, "heap/../../etc"); err == nil {
		t.Errorf("unknown profile kind served")
	}
	stream, err := ag.TraceStream(ctx, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := io.ReadAll(stream)
	stream.Close()
	if err != nil {
		t.Fatal(err)
	}
	if Sniff(tr) != InputTrace {
		t.Errorf("trace window does not start like a Go trace: %q", tr[:min(len(tr), 16)])
	}
	last, err := ag.LastTrace(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if Sniff(last) != InputTrace {
		t.Errorf("flight recorder window does not start like a Go trace")
	}
	assertNoAnswersLeft(t, inj)

	cmd.Process.Kill()
	cmd.Wait()
	// Nothing reads the pipe now: a command fails at once, and a stale
	// agent file (the killed run's) is not taken for a live agent.
	if _, err := ag.Profile(ctx, "mutex"); err == nil || !strings.Contains(err.Error(), "no program is reading") {
		t.Errorf("a command to a dead agent: %v, want an error saying nothing reads the pipe", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	if _, err := inj.Connect(sctx); err == nil {
		t.Errorf("Connect accepted the agent file of a dead agent")
	}
	cancel()
	if err := inj.Reset(); err != nil {
		t.Fatal(err)
	}
	again := exec.Command(bin, "-d", "0")
	again.Env = inj.Environ(os.Environ())
	if err := again.Start(); err != nil {
		t.Fatal(err)
	}
	ag2, err := inj.Connect(ctx)
	if err != nil {
		again.Process.Kill()
		again.Wait()
		t.Fatal(err)
	}
	if ag2.Pid != again.Process.Pid {
		t.Errorf("second run: agent pid %d, want %d", ag2.Pid, again.Process.Pid)
	}
	if _, err := ag2.Profile(ctx, "mutex"); err != nil {
		t.Errorf("second run: %v", err)
	}
	again.Process.Kill()
	again.Wait()

	if err := inj.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(inj.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Close left %s behind", inj.Dir)
	}
	assertTreeUntouched(t, dir)
}

// A stopped program (as at a breakpoint) never blocks the caller: the
// command waits in the pipe, the call ends with its context, and once the
// program runs again the stale command is dropped rather than answered.
func TestAgentStoppedProgramDoesNotBlock(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "ledger")
	inj, bin := buildAgent(t, PrepareOptions{Program: dir, Snapshot: -1})
	cmd := exec.Command(bin, "-d", "0")
	cmd.Env = inj.Environ(os.Environ())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	ag, err := inj.Connect(ctxTimeout(t, 60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// kill returns before every thread has stopped; a command written in
	// between was answered, and the test failed under load.
	waitStopped(t, cmd.Process.Pid)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = ag.Profile(ctx, "mutex")
	cancel()
	if err == nil || !strings.Contains(err.Error(), "is the program stopped") {
		t.Fatalf("a command to a stopped program: %v, want a timeout that says why", err)
	}
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// Commands are read in order: once this one is answered, the stale
	// one has been seen, and it left no answer behind.
	if _, err := ag.Profile(ctxTimeout(t, 30*time.Second), "block"); err != nil {
		t.Fatal(err)
	}
	assertNoAnswersLeft(t, inj)
}

// The agent's goroutines carry the pprof label lockscope=agent, and the ids
// it writes are exactly the goroutines that run its code: a debugger can
// hide them all and nothing else. A SIGQUIT dump with the runtime's
// tracebacklabels setting shows both.
func TestAgentGoroutinesAreLabelledAndListed(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "ledger")
	inj, bin := buildAgent(t, PrepareOptions{Program: dir})
	cmd := exec.Command(bin, "-d", "0")
	cmd.Env = append(inj.Environ(os.Environ()), "GOTRACEBACK=all", "GODEBUG=tracebacklabels=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	ag, err := inj.Connect(ctxTimeout(t, 60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	// A trace window's goroutines are the agent's too.
	go func() {
		if tr, err := ag.TraceStream(context.Background(), 5); err == nil {
			tr.Close()
		}
	}()
	ids, err := inj.AgentGoroutines()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGQUIT)
	cmd.Wait()
	agent := map[int64]bool{}
	for _, g := range strings.Split(stderr.String(), "\n\n") {
		head, rest, _ := strings.Cut(g, "\n")
		var id int64
		if _, err := fmt.Sscanf(head, "goroutine %d ", &id); err != nil {
			continue
		}
		ours := strings.Contains(rest, ".lockscopeAgent")
		labelled := strings.Contains(head, `labels:{"lockscope": "agent"}`)
		if ours {
			agent[id] = true
		}
		if ours != labelled {
			t.Errorf("goroutine %d: runs the agent's code %v, labelled %v:\n%s", id, ours, labelled, g)
		}
	}
	if len(agent) < 3 || !maps.Equal(agent, ids) {
		t.Errorf("the agent listed goroutines %v; the dump shows it runs %v", ids, agent)
	}
}

// Without LOCKSCOPE_AGENT_DIR the agent does nothing: no files, and the
// program behaves as built without it.
func TestAgentInertWithoutEnv(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "short")
	inj, bin := buildAgent(t, PrepareOptions{Program: dir})
	cmd := exec.Command(bin)
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LOCKSCOPE_") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	ents, err := os.ReadDir(inj.RendezvousDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "cmd" {
			t.Errorf("agent without its environment wrote %s", e.Name())
		}
	}
}

// A program in another module builds with the agent when go build runs in
// that module's directory.
func TestAgentOtherModule(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "othermod")
	inj, bin := buildAgent(t, PrepareOptions{Program: dir})
	cmd := exec.Command(bin)
	cmd.Env = inj.Environ(os.Environ())
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "hello, othermod") {
		t.Errorf("othermod printed %q", out)
	}
	if _, exited, _ := inj.Final(); !exited {
		t.Errorf("othermod: exit hook did not run")
	}
}

// In test mode the agent joins the package under test, even when that
// package has _test.go files only.
func TestAgentTestMode(t *testing.T) {
	for _, tc := range []struct{ dir, pkg, file string }{
		{"testdata/basic", "main", AgentFileName},
		{"testdata/capture/testonly", "lonely_test", agentTestFileName},
	} {
		t.Run(tc.pkg, func(t *testing.T) {
			dir := filepath.Join(testutil.ModuleRoot(t), tc.dir)
			inj, err := Prepare(PrepareOptions{Program: dir, Mode: ModeTest, Snapshot: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer inj.Close()
			// The agent joins the package under test by its name.
			src, err := os.ReadFile(filepath.Join(inj.Dir, tc.file))
			if err != nil {
				t.Fatalf("agent file: %v", err)
			}
			if !strings.Contains(string(src), "\npackage "+tc.pkg+"\n") {
				t.Errorf("the agent file does not say package %s", tc.pkg)
			}
			bin := filepath.Join(t.TempDir(), "x.test")
			args := append([]string{"test", "-c", "-o", bin}, inj.BuildFlags...)
			cmd := exec.Command("go", append(args, ".")...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go test -c: %v\n%s", err, out)
			}
			run := exec.Command(bin, "-test.count=1")
			run.Env = inj.Environ(os.Environ())
			if out, err := run.CombinedOutput(); err != nil {
				t.Fatalf("test binary: %v\n%s", err, out)
			}
			files, exited, err := inj.Final()
			if err != nil || !exited || files["mutex"] == nil {
				t.Fatalf("Final: exited=%v err=%v files=%v", exited, err, keys(files))
			}
			assertTreeUntouched(t, dir)
		})
	}
}

func TestPrepareErrors(t *testing.T) {
	root := testutil.ModuleRoot(t)
	for _, tc := range []struct {
		opts PrepareOptions
		want string
	}{
		{PrepareOptions{Program: filepath.Join(root, "testdata", "nosuchdir")}, "nosuchdir"},
		{PrepareOptions{Program: filepath.Join(root, "internal", "contention")}, "not a main package"},
		{PrepareOptions{Program: filepath.Join(root, "testdata", "capture", "testonly")}, "no Go files"},
		{PrepareOptions{Program: filepath.Join(root, "testdata", "short"), Mode: "exec"}, "unknown mode"},
		{PrepareOptions{Program: filepath.Join(root, "testdata", "short"), UserBuildFlags: []string{"-ldflags"}}, "needs a value"},
	} {
		inj, err := Prepare(tc.opts)
		if err == nil {
			inj.Close()
			t.Errorf("Prepare(%+v): no error, want one containing %q", tc.opts, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Prepare(%s): %v, want it to contain %q", tc.opts.Program, err, tc.want)
		}
	}
}

func keys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// socketFDs lists the sockets among the open files of a process.
func socketFDs(t *testing.T, pid int) []string {
	t.Helper()
	fds, err := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	if err != nil || len(fds) == 0 {
		t.Fatalf("reading the open files of %d: %v", pid, err)
	}
	var out []string
	for _, fd := range fds {
		if target, err := os.Readlink(fd); err == nil && strings.HasPrefix(target, "socket:") {
			out = append(out, target)
		}
	}
	return out
}

// assertNoAnswersLeft fails when an answer file lies in the agent's folder
// that nobody is waiting for.
func assertNoAnswersLeft(t *testing.T, inj *Injection) {
	t.Helper()
	for _, pat := range []string{"*.out", "*.err"} {
		if left, _ := filepath.Glob(filepath.Join(inj.RendezvousDir(), pat)); len(left) > 0 {
			t.Errorf("answers left behind: %v", left)
		}
	}
}

// assertTreeUntouched fails when the agent's file name appears in dir.
func assertTreeUntouched(t *testing.T, dir string) {
	t.Helper()
	for _, n := range []string{AgentFileName, agentTestFileName} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			t.Errorf("%s was written into the user's tree", filepath.Join(dir, n))
		}
	}
}

// The agent writes its profiles without runtime/pprof (which would add over
// 600 KB to the program); they must say what runtime/pprof says: the same
// sample types, and per stack of functions and lines the same counts and
// delays. pprofpeer writes runtime/pprof's own profiles when its
// goroutines are done, and the agent's exit hook writes its own after.
func TestAgentProfilesMatchRuntimePprof(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "capture", "pprofpeer")
	inj, bin := buildAgent(t, PrepareOptions{Program: dir, Snapshot: -1})
	peer := t.TempDir()
	cmd := exec.Command(bin)
	cmd.Env = append(inj.Environ(os.Environ()), "PPROFPEER_OUT="+peer)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pprofpeer: %v\n%s", err, out)
	}
	files, exited, err := inj.Final()
	if err != nil || !exited {
		t.Fatalf("Final: exited=%v err=%v", exited, err)
	}
	for _, kind := range []string{"mutex", "block"} {
		want, err := os.ReadFile(filepath.Join(peer, kind+".pb.gz"))
		if err != nil {
			t.Fatal(err)
		}
		w, g := profileByStack(t, want), profileByStack(t, files[kind])
		if len(w) == 0 {
			t.Fatalf("%s: runtime/pprof's profile is empty", kind)
		}
		if !maps.Equal(w, g) {
			t.Errorf("%s profiles differ:\nruntime/pprof: %v\nagent:         %v", kind, w, g)
		}
	}
}

// profileByStack sums a profile's values by stack (function file:line
// frames, leaf first; runtime.goexit left out), with its sample types.
func profileByStack(t *testing.T, data []byte) map[string][2]int64 {
	t.Helper()
	p, err := profile.ParseData(data)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, st := range p.SampleType {
		types = append(types, st.Type+"/"+st.Unit)
	}
	out := map[string][2]int64{}
	for _, s := range p.Sample {
		key := strings.Join(types, ",")
		for _, loc := range s.Location {
			for _, ln := range loc.Line {
				if ln.Function.Name != "runtime.goexit" {
					key += fmt.Sprintf(" | %s %s:%d", ln.Function.Name, ln.Function.Filename, ln.Line)
				}
			}
		}
		v := out[key]
		out[key] = [2]int64{v[0] + s.Value[0], v[1] + s.Value[1]}
	}
	return out
}

// waitStopped waits until the kernel reports every thread of pid stopped
// (state T in /proc/PID/task/*/stat).
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		all := len(tasks) > 0
		for _, task := range tasks {
			b, err := os.ReadFile(task)
			// The state follows the command name in parentheses.
			i := bytes.LastIndexByte(b, ')')
			if err != nil || i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
				all = false
				break
			}
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d did not stop after SIGSTOP", pid)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, not waiting for an outcome
	}
}
