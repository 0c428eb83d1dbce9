//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

// The agent takes its commands through a named pipe (fifo_unix.go).

package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/testutil"
)

// fate is how a program ended: its exit status and the first line the
// runtime printed about it.
type fate struct {
	status int
	first  string
}

// runFate runs bin (with env) until it ends, for at most a minute, and
// returns its fate and its whole stderr.
func runFate(t *testing.T, bin string, env []string, args ...string) (fate, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s did not end within a minute (the agent kept it alive?)\nstderr:\n%s", filepath.Base(bin), stderr.String())
	}
	f := fate{}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		f.status = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.HasPrefix(line, "fatal error: ") || strings.HasPrefix(line, "panic: ") {
			f.first = line
			break
		}
	}
	return f, stderr.String()
}

// plainEnv is the environment without any of the agent's variables.
func plainEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LOCKSCOPE_") {
			env = append(env, kv)
		}
	}
	return env
}

// The agent never changes the program's fate: a program the runtime kills
// dies the same way with the agent in it, with the same exit status and
// the same fatal message. Without the agent stepping aside, the deadlock
// never ends: its pipe read and its timers hide the deadlock from the
// runtime. The agent's goroutines are gone from the runtime's last dump.
func TestAgentKeepsProgramFate(t *testing.T) {
	root := testutil.ModuleRoot(t)
	for _, tc := range []struct {
		name, dir string
		args      []string
		want      fate
	}{
		{"deadlock", "testdata/stuck/deadlock", nil, fate{2, "fatal error: all goroutines are asleep - deadlock!"}},
		{"map crash", "testdata/crashmap", []string{"-d", "50s"}, fate{2, "fatal error: concurrent map writes"}},
		{"panic", "testdata/stuck/panics", nil, fate{2, "panic: ledger out of balance"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(root, tc.dir)
			plain := filepath.Join(t.TempDir(), "plain")
			build := exec.Command("go", "build", "-o", plain, ".")
			build.Dir = dir
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			got, _ := runFate(t, plain, plainEnv(), tc.args...)
			if got != tc.want {
				t.Fatalf("without the agent: %+v, want %+v", got, tc.want)
			}
			// Each way of running the agent: with nothing but its pipe
			// (a thread can be left waiting in the poller), with its
			// snapshot timer and the flight recorder, and on a lifeline
			// (a read-only pipe).
			for i, opts := range []PrepareOptions{{Snapshot: -1}, {Flight: time.Second}, {Flight: time.Second, Lifeline: true}} {
				opts.Program = dir
				lifeline := fmt.Sprintf("run %d (%+v)", i, opts)
				inj, bin := buildAgent(t, opts)
				got, stderr := runFate(t, bin, inj.Environ(os.Environ()), tc.args...)
				if got != tc.want {
					t.Errorf("%s: with the agent: %+v, want %+v\nstderr:\n%s", lifeline, got, tc.want, stderr)
				}
				files, _, err := inj.Final()
				if err != nil {
					t.Fatal(err)
				}
				_, blocked, err := inj.Blocked()
				if err != nil {
					t.Fatal(err)
				}
				if blocked != (tc.name == "deadlock") {
					t.Errorf("%s: Blocked() = %v", lifeline, blocked)
				}
				if tc.name != "deadlock" {
					continue
				}
				if strings.Contains(stderr, "lockscopeAgent") {
					t.Errorf("%s: the agent's goroutines are still in the runtime's dump:\n%s", lifeline, stderr)
				}
				// What the runtime's death would lose was saved first.
				for _, k := range []string{"mutex", "block"} {
					if files[k] == nil {
						t.Errorf("%s: no final %s file; have %v", lifeline, k, keys(files))
					}
				}
				if opts.Flight > 0 {
					if tr, err := inj.OpenFinalTrace(FinalFlight); err != nil || tr == nil {
						t.Errorf("%s: no final trace file (%v)", lifeline, err)
					} else {
						tr.Close()
					}
				}
				dump := string(files["goroutines"])
				for _, want := range []string{"[sync.Mutex.Lock]:", "main.transfer(", "main.audit(", "[sync.WaitGroup.Wait]:"} {
					if !strings.Contains(dump, want) {
						t.Errorf("%s: the final goroutine dump lacks %q:\n%s", lifeline, want, dump)
					}
				}
			}
		})
	}
}

// The host asks the running agent for a goroutine dump: a lock held for a
// long time shows its waiters in Lock and its holder in its channel wait,
// and the program, which is stalled but not dead, keeps its agent.
func TestAgentGoroutineDump(t *testing.T) {
	inj, ag, _, _ := runWithAgent(t, "stuck/holdlock", PrepareOptions{Snapshot: -1}, "-hold", "60s")
	ctx := ctxTimeout(t, time.Minute)
	var dump string
	for {
		data, err := ag.Goroutines(ctx)
		if err != nil {
			t.Fatal(err)
		}
		dump = string(data)
		if strings.Count(dump, "[sync.Mutex.Lock]:") == 3 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("three goroutines never waited in Lock:\n%s", dump)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"main.record(", "main.flush(", "[chan receive]:", ".lockscopeAgentStacks("} {
		if !strings.Contains(dump, want) {
			t.Errorf("the dump lacks %q:\n%s", want, dump)
		}
	}
	// Stalled is not dead: the busy goroutine runs, so the agent stays.
	time.Sleep(time.Second)
	if _, blocked, _ := inj.Blocked(); blocked {
		t.Errorf("the agent stepped aside for a program that still runs")
	}
	if _, err := ag.Goroutines(ctx); err != nil {
		t.Errorf("a second dump: %v", err)
	}
	assertNoAnswersLeft(t, inj)
}

// A program that only seemed dead (every goroutine blocked, but a timer
// pending, which a dump cannot show) gets its agent back: the agent steps
// aside, the timer fires, the program collects garbage, and the agent
// answers again.
func TestAgentComesBack(t *testing.T) {
	inj, _, cmd, stdout := runWithAgent(t, "stuck/timer", PrepareOptions{})
	ctx := ctxTimeout(t, time.Minute)
	waitFor := func(what string, want bool) {
		t.Helper()
		for {
			_, blocked, err := inj.Blocked()
			if err != nil {
				t.Fatal(err)
			}
			if blocked == want {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("the agent never %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("stepped aside", true)
	waitFor("came back", false)
	ag, err := inj.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dump, err := ag.Goroutines(ctx)
	if err != nil {
		t.Fatalf("the agent that came back does not answer: %v", err)
	}
	if !strings.Contains(string(dump), "main.main(") {
		t.Errorf("the dump lacks main:\n%s", dump)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the program: %v", err)
	}
	if !strings.Contains(stdout.String(), "woke") {
		t.Errorf("the program did not run to its end: %q", stdout.String())
	}
}

// A program asleep is not blocked: a sleeping goroutine will go on by
// itself, and the runtime would not end the program, so the agent stays
// and answers.
func TestAgentStaysForSleepingProgram(t *testing.T) {
	inj, ag, cmd, stdout := runWithAgent(t, "basic", PrepareOptions{Snapshot: -1}, "-wait", "3s")
	ctx := ctxTimeout(t, time.Minute)
	time.Sleep(1500 * time.Millisecond) // several looks of the agent's watch
	if _, blocked, _ := inj.Blocked(); blocked {
		t.Errorf("the agent stepped aside for a sleeping program")
	}
	if _, err := ag.Goroutines(ctx); err != nil {
		t.Errorf("the agent of a sleeping program does not answer: %v", err)
	}
	if err := cmd.Wait(); err != nil || !strings.Contains(stdout.String(), "bye") {
		t.Errorf("the program ended with %v, output %q", err, stdout.String())
	}
}

// A program that looked dead and then ended by itself, before any garbage
// collection brought the agent back, was not dead: Blocked is false after
// its normal exit.
func TestAgentBlockedClearedByExit(t *testing.T) {
	inj, _, cmd, _ := runWithAgent(t, "stuck/timer", PrepareOptions{Snapshot: -1}, "-exit")
	ctx := ctxTimeout(t, time.Minute)
	for {
		if _, blocked, _ := inj.Blocked(); blocked {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the agent never stepped aside")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if _, exited, _ := inj.Final(); !exited {
		t.Errorf("the exit hook did not run")
	}
	if _, blocked, _ := inj.Blocked(); blocked {
		t.Errorf("Blocked after the program ended by itself")
	}
}

// runWithAgent builds testdata/<rel> with the agent (opts.Program set
// here), starts it with args, and returns once its agent answers. The
// program is killed at cleanup if it still runs; stdout is kept.
func runWithAgent(t *testing.T, rel string, opts PrepareOptions, args ...string) (*Injection, *Agent, *exec.Cmd, *bytes.Buffer) {
	t.Helper()
	opts.Program = filepath.Join(testutil.ModuleRoot(t), "testdata", rel)
	inj, bin := buildAgent(t, opts)
	cmd := exec.Command(bin, args...)
	cmd.Env = inj.Environ(os.Environ())
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ag, err := inj.Connect(ctxTimeout(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return inj, ag, cmd, &stdout
}
