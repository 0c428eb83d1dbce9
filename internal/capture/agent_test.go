package capture

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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
	line := markerLine(t, main, "lockscope:short-unlock")
	if d := hotLine(t, files["mutex"], main, line); d <= 0 {
		t.Errorf("mutex profile charges nothing to main.go:%d (short-unlock)", line)
	}
	if _, ok := files["block"]; !ok {
		t.Errorf("no final block profile")
	}
	if Sniff(files["trace"]) != InputTrace {
		t.Errorf("the flight recorder's window was not saved at exit")
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
	if d := hotLine(t, files["mutex"], main, markerLine(t, main, "lockscope:exit-unlock")); d <= 0 {
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
	ag, err := inj.Connect(ctxTimeout(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	mutexFile := filepath.Join(inj.RendezvousDir(), "mutex.pb.gz")
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
	if d := hotLine(t, files["mutex"], main, markerLine(t, main, "lockscope:hot-unlock")); d <= 0 {
		t.Errorf("snapshot mutex profile charges nothing to hot-unlock")
	}
	assertNotListening(t, ag.Addr)
}

// The live agent serves profiles and trace windows to requests with the
// token, refuses the rest, and listens on loopback only. After the program
// is killed nothing listens.
func TestAgentServesWithTokenOnly(t *testing.T) {
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
	host, _, _ := net.SplitHostPort(ag.Addr)
	if host != "127.0.0.1" {
		t.Errorf("agent listens on %s, want 127.0.0.1 only", ag.Addr)
	}

	for _, tc := range []struct{ name, token string }{{"no token", ""}, {"wrong token", strings.Repeat("0", 32)}, {"token prefix", inj.Token[:8]}} {
		req, _ := http.NewRequest("GET", "http://"+ag.Addr+"/lockscope/v1/profile/mutex", nil)
		if tc.token != "" {
			req.Header.Set(TokenHeader, tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: got %s, want 403", tc.name, resp.Status)
		}
		if bytes.Contains(body, []byte{0x1f, 0x8b}) {
			t.Errorf("%s: a profile was served without the token", tc.name)
		}
	}

	time.Sleep(500 * time.Millisecond)
	mutex, err := ag.Profile(ctx, "mutex")
	if err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "main.go")
	if d := hotLine(t, mutex, main, markerLine(t, main, "lockscope:hot-unlock")); d <= 0 {
		t.Errorf("live mutex profile charges nothing to hot-unlock")
	}
	block, err := ag.Profile(ctx, "block")
	if err != nil {
		t.Fatal(err)
	}
	if Sniff(block) != InputProfile {
		t.Errorf("block profile is not a gzipped proto")
	}
	if _, err := ag.Profile(ctx, "heap/../../etc"); err == nil {
		t.Errorf("unknown profile kind served")
	}
	tr, err := ag.Trace(ctx, 0.3)
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

	cmd.Process.Kill()
	cmd.Wait()
	assertNotListening(t, ag.Addr)

	// A stale address file (the killed run's) is not taken for a live
	// agent; after Reset and a second run, Connect finds the new one.
	sctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	if _, err := inj.Connect(sctx); err == nil {
		t.Errorf("Connect accepted the address of a dead agent")
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
	again.Process.Kill()
	again.Wait()
	assertNotListening(t, ag2.Addr)

	if err := inj.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(inj.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Close left %s behind", inj.Dir)
	}
	assertTreeUntouched(t, dir)
}

// Without the environment variables the agent does nothing: no listener,
// no files, and the program behaves as built without it.
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
	cmd.Env = append(env, EnvDir+"="+inj.RendezvousDir()) // dir but no token
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	ents, err := os.ReadDir(inj.RendezvousDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("agent without a token wrote %d files, e.g. %s", len(ents), ents[0].Name())
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
			if inj.Package != tc.pkg {
				t.Errorf("package %q, want %q", inj.Package, tc.pkg)
			}
			if _, err := os.Stat(filepath.Join(inj.Dir, tc.file)); err != nil {
				t.Errorf("agent file: %v", err)
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

// assertNotListening fails when something still accepts connections at addr.
func assertNotListening(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after the program ended", addr)
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
