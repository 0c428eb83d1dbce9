package recipes

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-delve/delve/service/api"
	"github.com/go-delve/delve/service/rpc2"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/mapwrites"
	"github.com/lockscope/lockscope/internal/testutil"
)

// These tests prove the recipes with a real Delve, built from the module
// version pinned in go.mod, debugging real testdata programs built with
// optimisations off (as Delve's debug mode builds them).

// dlvPath builds dlv once per machine and version, into
// os.TempDir()/lockscope-dlv-<version>.
func dlvPath(t testing.TB) string { return testutil.Dlv(t) }

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// buildProg builds testdata/<rel> with optimisations and inlining off.
func buildProg(t testing.TB, rel string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if b, ok := built[rel]; ok {
		return b
	}
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", rel)
	out, err := os.MkdirTemp("", "lockscope-recipes-")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(out, filepath.Base(rel))
	cmd := exec.Command("go", "build", "-gcflags=all=-N -l", "-o", bin, ".")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", rel, err, b)
	}
	built[rel] = bin
	return bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, b := range built {
		os.RemoveAll(filepath.Dir(b))
	}
	os.Exit(code)
}

var listenRE = regexp.MustCompile(`API server listening at: (\S+)`)

// session is one headless dlv exec of a program, driven over JSON-RPC.
type session struct {
	t      testing.TB
	cmd    *exec.Cmd
	client *rpc2.RPCClient
	out    *strings.Builder
	outMu  *sync.Mutex
}

// dlvFlags are extra dlv flags; the older-runtime test turns off Delve's
// Go version check. Tests in this package do not run in parallel.
var dlvFlags []string

func startDelve(t testing.TB, bin string, args ...string) *session {
	t.Helper()
	dlv := dlvPath(t)
	cmdArgs := append([]string{"exec", "--headless", "--api-version=2", "--listen=127.0.0.1:0"}, dlvFlags...)
	cmdArgs = append(cmdArgs, bin)
	if len(args) > 0 {
		cmdArgs = append(cmdArgs, "--")
		cmdArgs = append(cmdArgs, args...)
	}
	cmd := exec.Command(dlv, cmdArgs...)
	cmd.Dir = filepath.Dir(bin)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", dlv, err)
	}
	s := &session{t: t, cmd: cmd, out: &strings.Builder{}, outMu: &sync.Mutex{}}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			s.outMu.Lock()
			s.out.WriteString(line + "\n")
			s.outMu.Unlock()
			if m := listenRE.FindStringSubmatch(line); m != nil && !sent {
				addrc <- m[1]
				sent = true
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case addr := <-addrc:
		conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			s.kill()
			t.Fatalf("dialing dlv at %s: %v", addr, err)
		}
		s.client = rpc2.NewClientFromConn(conn)
	case <-time.After(60 * time.Second):
		s.kill()
		t.Fatalf("dlv did not start listening; output:\n%s", s.output())
	}
	t.Cleanup(s.close)
	return s
}

func (s *session) output() string {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	return s.out.String()
}

func (s *session) kill() {
	if s.cmd.Process != nil {
		s.cmd.Process.Kill()
	}
	s.cmd.Wait()
}

// close kills the debuggee and dlv, and waits for both.
func (s *session) close() {
	if s.client != nil {
		done := make(chan struct{})
		go func() {
			s.client.Detach(true)
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	}
	exited := make(chan struct{})
	go func() {
		s.cmd.Wait()
		close(exited)
	}()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-exited
	}
}

// setBreakpoints sets each suggested breakpoint with its condition.
func (s *session) setBreakpoints(bps []contention.Breakpoint) {
	s.t.Helper()
	for _, bp := range bps {
		if _, err := s.client.CreateBreakpoint(&api.Breakpoint{File: bp.File, Line: bp.Line, Cond: bp.Condition}); err != nil {
			s.t.Fatalf("Delve rejected the breakpoint %s:%d if %s: %v", bp.File, bp.Line, bp.Condition, err)
		}
	}
}

// cont continues until the next stop, or fails after the timeout.
func (s *session) cont(timeout time.Duration) *api.DebuggerState {
	s.t.Helper()
	ch := s.client.Continue()
	select {
	case st := <-ch:
		if st == nil {
			s.t.Fatalf("continue: no state")
		}
		return st
	case <-time.After(timeout):
		s.client.Halt()
		s.t.Fatalf("no stop within %v; output:\n%s", timeout, s.output())
		return nil
	}
}

// eval evaluates expr in the stopped goroutine's top frame.
func (s *session) eval(gid int64, expr string) string {
	s.t.Helper()
	v, err := s.client.EvalVariable(api.EvalScope{GoroutineID: gid}, expr, api.LoadConfig{MaxStringLen: 64})
	if err != nil {
		s.t.Fatalf("evaluating %q: %v", expr, err)
	}
	return v.Value
}

// stacks returns every goroutine with its stack.
func (s *session) stacks() map[int64][]api.Stackframe {
	s.t.Helper()
	gs, _, err := s.client.ListGoroutines(0, 0)
	if err != nil {
		s.t.Fatalf("ListGoroutines: %v", err)
	}
	out := map[int64][]api.Stackframe{}
	for _, g := range gs {
		fr, err := s.client.Stacktrace(g.ID, 30, 0, 0, nil)
		if err != nil {
			continue // a goroutine that exits as we look
		}
		out[g.ID] = fr
	}
	return out
}

func hasFrame(fr []api.Stackframe, fns ...string) bool {
	for _, f := range fr {
		if f.Function == nil {
			continue
		}
		for _, fn := range fns {
			if f.Function.Name() == fn {
				return true
			}
		}
	}
	return false
}

// topUserFrame is the first frame in the program's own files.
func topUserFrame(fr []api.Stackframe, dir string) (api.Stackframe, bool) {
	for _, f := range fr {
		if strings.HasPrefix(f.File, dir+string(filepath.Separator)) {
			return f, true
		}
	}
	return api.Stackframe{}, false
}

// indexed loads the map-write index of testdata/<rel>.
func indexed(t testing.TB, rel string) []contention.MapWrite {
	t.Helper()
	ix, err := mapwrites.Load(filepath.Join(testutil.ModuleRoot(t), "testdata", rel), []string{"./..."}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := ix.Problems(); len(p) > 0 {
		t.Fatalf("index problems: %q", p)
	}
	return ix.Writes()
}

// writeAtMarker finds the write on the line carrying "lockscope:<name>".
func writeAtMarker(t testing.TB, writes []contention.MapWrite, name string) contention.MapWrite {
	t.Helper()
	for _, w := range writes {
		b, err := os.ReadFile(w.File)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		if w.Line-1 < len(lines) && strings.Contains(lines[w.Line-1], "lockscope:"+name) {
			return w
		}
	}
	t.Fatalf("no map write at marker %s", name)
	return contention.MapWrite{}
}

// proveContended sets the contended-write recipe for the write at marker
// and checks the stop: at the write, the condition true there, and at
// least n goroutines parked in the lock's acquiring methods.
func proveContended(t *testing.T, rel, marker string, n int, parked ...string) {
	writes := indexed(t, rel)
	w := writeAtMarker(t, writes, marker)
	proveContendedIn(t, writes, w, buildProg(t, rel), n, parked...)
}

func proveContendedIn(t *testing.T, writes []contention.MapWrite, w contention.MapWrite, bin string, n int, parked ...string) {
	gov, err := GoVersionOfBinary(bin)
	if err != nil {
		t.Fatal(err)
	}
	bps, err := ForWrite(w, writes, gov, Options{Waiters: n})
	if err != nil {
		t.Fatal(err)
	}
	if len(bps) != 1 || bps[0].File != w.File || bps[0].Line != w.Line {
		t.Fatalf("ForWrite = %+v, want one breakpoint on %s:%d", bps, w.File, w.Line)
	}
	t.Logf("%s (%s): condition %s", bps[0].Label, gov, bps[0].Condition)
	s := startDelve(t, bin, "-d", "0")
	s.setBreakpoints(bps)
	st := s.cont(90 * time.Second)
	if st.Exited || st.CurrentThread == nil || st.SelectedGoroutine == nil {
		t.Fatalf("did not stop on the write: %+v\n%s", st, s.output())
	}
	if st.CurrentThread.File != w.File || st.CurrentThread.Line != w.Line {
		t.Fatalf("stopped at %s:%d, want the write %s:%d", st.CurrentThread.File, st.CurrentThread.Line, w.File, w.Line)
	}
	gid := st.SelectedGoroutine.ID
	if got := s.eval(gid, bps[0].Condition); got != "true" {
		t.Fatalf("condition %q = %s at the stop, want true", bps[0].Condition, got)
	}
	waiting := 0
	for id, fr := range s.stacks() {
		if id != gid && hasFrame(fr, parked...) {
			waiting++
		}
	}
	if waiting < n {
		t.Errorf("%d goroutines parked in %v at the stop, want >= %d", waiting, parked, n)
	}
	t.Logf("stopped at %s:%d with %d goroutines in %v", filepath.Base(w.File), w.Line, waiting, parked)
}

func TestDelveMutexLedger(t *testing.T) {
	proveContended(t, "ledger", "hot-write", 5, "sync.(*Mutex).Lock")
}

func TestDelveMutexInventoryStore(t *testing.T) {
	proveContended(t, "inventory", "store-write", 4, "sync.(*Mutex).Lock")
}

func TestDelveRWMutexCache(t *testing.T) {
	proveContended(t, "rwcache", "rw-write", 4, "sync.(*RWMutex).Lock", "sync.(*RWMutex).RLock")
}

// Restarts is the bounded-restart budget the tests use.
const Restarts = DefaultRestarts

// catchCrashmap runs one session on crashmap with the unguarded recipe on
// the clicked writer (crash-hit). When the runtime's own fatal error wins,
// it restarts the program, at most restarts times. It returns the number
// of runs used, or an error when the recipe never caught the two writers.
func catchCrashmap(t testing.TB, writes []contention.MapWrite, bin string, o Options, restarts int) (int, error) {
	return catchWrite(t, writes, writeAtMarker(t, writes, "crash-hit"), bin, o, restarts)
}

func catchWrite(t testing.TB, writes []contention.MapWrite, w contention.MapWrite, bin string, o Options, restarts int) (int, error) {
	gov, err := GoVersionOfBinary(bin)
	if err != nil {
		t.Fatal(err)
	}
	bps, err := ForWrite(w, writes, gov, o)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[bool]int{false: 1, true: 2}[o.EveryWriter]; len(bps) != want {
		t.Fatalf("ForWrite = %+v, want %d breakpoints", bps, want)
	}
	writers := map[int]bool{w.Line: true}
	for _, s := range w.Writers {
		writers[s.Line] = true
	}
	s := startDelve(t, bin, "-d", "30s")
	defer s.close()
	s.setBreakpoints(bps)
	var last error
	for run := 1; run <= restarts+1; run++ {
		if run > 1 {
			if _, err := s.client.Restart(false); err != nil {
				t.Fatalf("restart: %v", err)
			}
		}
		st := s.cont(60 * time.Second)
		if st.Exited {
			last = fmt.Errorf("the program exited (status %d) before the recipe stopped it", st.ExitStatus)
			continue
		}
		if st.CurrentThread == nil || st.SelectedGoroutine == nil || st.CurrentThread.File != w.File {
			// The runtime's "concurrent map writes" won this time.
			last = fmt.Errorf("stopped at %s:%d, not on a writer (the runtime's fatal error won)", st.CurrentThread.File, st.CurrentThread.Line)
			continue
		}
		var cond string
		for _, bp := range bps {
			if bp.Line == st.CurrentThread.Line {
				cond = bp.Condition
			}
		}
		if cond == "" {
			return run, fmt.Errorf("stopped at line %d, where no breakpoint was set", st.CurrentThread.Line)
		}
		gid := st.SelectedGoroutine.ID
		if got := s.eval(gid, cond); got != "true" {
			return run, fmt.Errorf("condition %q = %s at the stop, want true", cond, got)
		}
		dir := filepath.Dir(w.File)
		for id, fr := range s.stacks() {
			if id == gid {
				continue
			}
			top, ok := topUserFrame(fr, dir)
			if !ok || !writers[top.Line] || top.Line == st.CurrentThread.Line {
				continue
			}
			// The other writer must be frozen inside the runtime's map
			// write, not merely at its line.
			if len(fr) == 0 || fr[0].File == w.File || fr[0].Function == nil {
				continue
			}
			t.Logf("run %d: stopped at line %d; goroutine %d is mid-write at line %d in %s", run, st.CurrentThread.Line, id, top.Line, fr[0].Function.Name())
			return run, nil
		}
		// The condition held, so a writer was inside the map, yet no
		// stack shows it there (seen once under a load of 15 on two
		// cores: Delve got no frames for it). Such a run proves nothing
		// either way; it counts as lost, like one the runtime won.
		last = fmt.Errorf("stopped at line %d but no other goroutine is mid-write at another writer", st.CurrentThread.Line)
		t.Logf("run %d: %v", run, last)
	}
	return restarts + 1, last
}

func TestDelveUnguardedCrashmap(t *testing.T) {
	writes := indexed(t, "crashmap")
	bin := buildProg(t, "crashmap")
	if _, err := catchCrashmap(t, writes, bin, Options{}, Restarts); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkDelveUnguardedCatchRate measures how often the unguarded
// recipe wins against the runtime's own fatal error over fresh sessions:
// on the first run alone, and with the bounded restart, for the recipe on
// the clicked line and on every writer line. It starts a debugger many
// times, so it is a benchmark: LOCKSCOPE_CATCH_RUNS sessions (default 20)
// per variant; the figure it must reach is 95% with restarts.
//
//	go test -run '^$' -bench DelveUnguardedCatchRate -benchtime 1x ./internal/recipes
func BenchmarkDelveUnguardedCatchRate(b *testing.B) {
	n := 20
	fmt.Sscan(os.Getenv("LOCKSCOPE_CATCH_RUNS"), &n)
	writes := indexed(b, "crashmap")
	bin := buildProg(b, "crashmap")
	for range b.N {
		for _, every := range []bool{false, true} {
			first, caught, runs := 0, 0, 0
			for i := 0; i < n; i++ {
				used, err := catchCrashmap(b, writes, bin, Options{EveryWriter: every}, Restarts)
				runs += used
				if err != nil {
					b.Logf("session %d: missed after %d runs: %v", i+1, used, err)
					continue
				}
				caught++
				if used == 1 {
					first++
				}
			}
			b.Logf("EveryWriter=%v: caught on the first run in %d/%d sessions; with up to %d restarts in %d/%d (%.1f runs per session)",
				every, first, n, Restarts, caught, n, float64(runs)/float64(n))
			name := map[bool]string{false: "clicked", true: "every"}[every]
			b.ReportMetric(float64(caught)/float64(n), "caught-"+name)
			b.ReportMetric(float64(first)/float64(n), "first-run-"+name)
			if !every && caught*20 < n*19 {
				b.Errorf("caught %d/%d with restarts, want at least 95%%", caught, n)
			}
		}
	}
}

// TestDelveExpressionsEvaluate stops on every addressable write of the
// forms fixture (package variables of another package, embedded and
// pointer mutexes, value receivers, slice elements, captured locals,
// parameters) and has Delve evaluate each recipe's expressions there: a
// condition Delve cannot evaluate would stop on every hit, so none may fail.
func TestDelveExpressionsEvaluate(t *testing.T) {
	writes := indexed(t, "mapwrites/forms")
	bin := buildProg(t, "mapwrites/forms")
	gov, err := GoVersionOfBinary(bin)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := ParseGoVersion(gov)
	if err != nil {
		t.Fatal(err)
	}
	byLine := map[string][]contention.MapWrite{}
	s := startDelve(t, bin)
	for _, w := range writes {
		if w.NoBreakpoint != "" {
			continue
		}
		k := fmt.Sprintf("%s:%d", w.File, w.Line)
		if len(byLine[k]) == 0 {
			if _, err := s.client.CreateBreakpoint(&api.Breakpoint{File: w.File, Line: w.Line}); err != nil {
				t.Fatalf("breakpoint at %s: %v", k, err)
			}
		}
		byLine[k] = append(byLine[k], w)
	}
	checked := map[string]bool{}
	for i := 0; i < 200; i++ {
		st := s.cont(60 * time.Second)
		if st.Exited {
			break
		}
		if st.CurrentThread == nil || st.SelectedGoroutine == nil {
			t.Fatalf("odd stop: %+v", st)
		}
		k := fmt.Sprintf("%s:%d", st.CurrentThread.File, st.CurrentThread.Line)
		ws := byLine[k]
		if len(ws) == 0 {
			t.Fatalf("stopped at %s, where no breakpoint was set", k)
		}
		for _, w := range ws {
			exprs := []string{MapWritingExpr(rt, w.MapEval)}
			switch w.GuardKind {
			case contention.PrimMutex:
				exprs = append(exprs, MutexWaitersExpr(rt, w.GuardEval)+" >= 2")
			case contention.PrimRWMutex:
				exprs = append(exprs, RWMutexWaitersExpr(rt, w.GuardEval)+" >= 2")
			}
			for _, e := range exprs {
				v, err := s.client.EvalVariable(api.EvalScope{GoroutineID: st.SelectedGoroutine.ID}, e, api.LoadConfig{})
				if err != nil {
					t.Errorf("%s (%s): Delve cannot evaluate %s: %v", k, w.Map, e, err)
					continue
				}
				if v.Value != "true" && v.Value != "false" {
					t.Errorf("%s: %s = %q, want a boolean", k, e, v.Value)
				}
			}
		}
		checked[k] = true
	}
	for k := range byLine {
		if !checked[k] {
			t.Errorf("never stopped at %s", k)
		}
	}
	t.Logf("evaluated the recipes at %d write lines", len(checked))
}

// TestDelveOlderRuntime proves the layouts from before Go 1.24
// (sync.Mutex.state, RWMutex.w.state, runtime.hmap.flags) with real Delve on
// programs built by a real older toolchain: Go 1.19 from Debian's
// golang-1.19-go package, which the test downloads with apt-get (see
// [debianGo]). Go 1.19 has the same Mutex, RWMutex.w and hmap as Go 1.20 to
// 1.23; only RWMutex.readerCount differs (a plain int32 there, an
// atomic.Int32 read as readerCount.v from Go 1.20, which every test above
// proves on the current toolchain). A toolchain that cannot be had fails the
// test: the old recipes are never taken on trust.
//
// LOCKSCOPE_OLD_TOOLCHAINS adds Go releases fetched by the go command
// through GOTOOLCHAIN (for example "go1.22.12 go1.23.12"), where the module
// proxy serves them.
func TestDelveOlderRuntime(t *testing.T) {
	tcs := []oldToolchain{debianGo(t)}
	for _, v := range strings.Fields(os.Getenv("LOCKSCOPE_OLD_TOOLCHAINS")) {
		tcs = append(tcs, oldToolchain{name: v, goCmd: "go", env: []string{"GOTOOLCHAIN=" + v}})
	}
	dlvFlags = []string{"--check-go-version=false"}
	defer func() { dlvFlags = nil }()
	for _, tc := range tcs {
		for _, c := range []struct {
			rel, marker string
			parked      []string
		}{
			{"ledger", "hot-write", []string{"sync.(*Mutex).Lock"}},
			{"rwcache", "rw-write", []string{"sync.(*RWMutex).Lock", "sync.(*RWMutex).RLock"}},
			{"crashmap", "crash-hit", nil},
		} {
			t.Run(tc.name+"/"+c.rel, func(t *testing.T) {
				writes, bin := buildOld(t, tc, c.rel)
				w := writeAtMarker(t, writes, c.marker)
				gov, err := GoVersionOfBinary(bin)
				if err != nil {
					t.Fatal(err)
				}
				rt, err := ParseGoVersion(gov)
				if err != nil || rt.SwissMaps || rt.InnerMutex {
					t.Fatalf("%s parsed as %+v, %v; want the old layouts", gov, rt, err)
				}
				if c.parked != nil {
					proveContendedIn(t, writes, w, bin, 4, c.parked...)
					return
				}
				used, err := catchWrite(t, writes, w, bin, Options{}, Restarts)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: caught after %d runs", gov, used)
			})
		}
	}
}

// oldToolchain is a Go release older than the one running the tests.
type oldToolchain struct {
	name  string   // the subtest's name
	goCmd string   // its go command
	env   []string // what its go command needs in the environment
}

// debianGo returns Debian's Go 1.19 (testutil.DebianGo), which the test
// downloads once per machine.
func debianGo(t *testing.T) oldToolchain {
	t.Helper()
	root := testutil.DebianGo(t)
	return oldToolchain{
		name:  "go" + testutil.DebianGoVersion,
		goCmd: filepath.Join(root, "bin", "go"),
		env:   []string{"GOROOT=" + root, "GOTOOLCHAIN=local"},
	}
}

// buildOld copies testdata/<rel> into a module of its own (an old go
// command refuses lockscope's go.mod), builds it with tc, optimisations
// and inlining off, and returns the copy's map writes and the binary.
func buildOld(t *testing.T, tc oldToolchain, rel string) ([]contention.MapWrite, string) {
	t.Helper()
	writes := indexed(t, rel)
	dir := t.TempDir()
	files, err := filepath.Glob(filepath.Join(testutil.ModuleRoot(t), "testdata", rel, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in testdata/%s (%v)", rel, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module old\n\ngo 1.19\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The writes move with their files.
	for i := range writes {
		writes[i].File = filepath.Join(dir, filepath.Base(writes[i].File))
		for j := range writes[i].Writers {
			writes[i].Writers[j].File = filepath.Join(dir, filepath.Base(writes[i].Writers[j].File))
		}
	}
	bin := filepath.Join(dir, rel)
	cmd := exec.Command(tc.goCmd, "build", "-gcflags=all=-N -l", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	cmd.Env = append(cmd.Env, tc.env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building testdata/%s with %s: %v\n%s", rel, tc.name, err, b)
	}
	return writes, bin
}
