//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

// These tests run programs with the capture agent, which needs a named
// pipe (see capture/fifo_unix.go).

package cli

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/lockscope/lockscope/internal/capture"
	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
)

func fixture(t *testing.T, parts ...string) string {
	return filepath.Join(append([]string{testutil.ModuleRoot(t), "testdata"}, parts...)...)
}

// nearLine returns the line nearest to from (searching in direction dir,
// +1 or -1) that contains text.
func nearLine(t *testing.T, file string, from, dir int, text string) int {
	t.Helper()
	lines := fileLines(t, file)
	for i := from - 1; i >= 0 && i < len(lines); i += dir {
		if strings.Contains(lines[i], text) {
			return i + 1
		}
	}
	t.Fatalf("%s: no %q from line %d", file, text, from)
	return 0
}

func fileLines(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

type analyzeResult struct {
	code   int
	stdout string
	stderr string
	report *contention.Report
}

// analyze runs cli.Analyze as the lockscope binary would.
func analyze(t *testing.T, args ...string) analyzeResult {
	t.Helper()
	var out, errb bytes.Buffer
	code := Analyze(args, &out, &errb)
	res := analyzeResult{code: code, stdout: out.String(), stderr: errb.String()}
	if code == ExitOK && hasArg(args, "--json") {
		var r contention.Report
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("stdout is not one JSON report: %v\nstdout:\n%s", err, out.String())
		}
		res.report = &r
	}
	return res
}

func hasArg(args []string, a string) bool {
	for _, x := range args {
		if x == "--" {
			return false
		}
		if x == a {
			return true
		}
	}
	return false
}

func mustOK(t *testing.T, r analyzeResult) {
	t.Helper()
	if r.code != ExitOK {
		t.Fatalf("exit %d, want 0\nstderr:\n%s", r.code, r.stderr)
	}
}

// firstLock returns the first lock hotspot of kind in report order.
func firstLock(r *contention.Report, kind string) *contention.Hotspot {
	for i, h := range r.Hotspots {
		if h.Kind == kind && h.Lock {
			return &r.Hotspots[i]
		}
	}
	return nil
}

func wantAt(t *testing.T, what string, h *contention.Hotspot, file string, line int, fn string) {
	t.Helper()
	if h == nil {
		t.Errorf("%s: no hotspot, want %s:%d", what, filepath.Base(file), line)
		return
	}
	if h.File != file || h.Line != line || (fn != "" && h.Function != fn) {
		t.Errorf("%s: got %s:%d %s, want %s:%d %s", what, h.File, h.Line, h.Function, file, line, fn)
	}
}

// The README's main command: the ledger's hot Unlock leads the holder side,
// its balMu.Lock leads the waiter side, the trace chains the two, and the
// hot map write is marked contended while the cold one is not.
func TestAnalyzeLedger(t *testing.T) {
	main := fixture(t, "ledger", "main.go")
	r := analyze(t, "--json", fixture(t, "ledger"))
	mustOK(t, r)
	unlock := testutil.MarkerLine(t, main, "hot-unlock")
	write := testutil.MarkerLine(t, main, "hot-write")
	lock := nearLine(t, main, write, -1, "balMu.Lock()")
	wantAt(t, "top mutex hotspot", firstLock(r.report, contention.KindMutex), main, unlock, "main.deposit")
	wantAt(t, "top block hotspot", firstLock(r.report, contention.KindBlock), main, lock, "main.deposit")
	if h := firstLock(r.report, contention.KindMutex); h != nil && h.Share < 0.5 {
		t.Errorf("hot-unlock has share %.2f of the mutex profile, want most of it", h.Share)
	}
	if len(r.report.Chains) == 0 {
		t.Errorf("no blocking chain from the trace window")
	} else {
		c := r.report.Chains[0]
		first, last := c.Links[0], c.Links[len(c.Links)-1]
		if first.File != main || first.Line != lock || last.File != main || last.Line != unlock {
			t.Errorf("top chain %s:%d -> %s:%d, want Lock line %d -> Unlock line %d", filepath.Base(first.File), first.Line, filepath.Base(last.File), last.Line, lock, unlock)
		}
	}
	cold := testutil.MarkerLine(t, main, "cold-write")
	var sawHot, sawCold bool
	for _, m := range r.report.MapWrites {
		switch {
		case m.File == main && m.Line == write:
			sawHot = true
			if !m.Contended || m.Guard != "balMu" || m.WaitNs <= 0 {
				t.Errorf("hot write: contended=%v guard=%q waitNs=%d, want contended under balMu", m.Contended, m.Guard, m.WaitNs)
			}
		case m.File == main && m.Line == cold:
			sawCold = true
			if hot := r.report.MapWrites[0]; m.WaitNs*10 > hot.WaitNs {
				t.Errorf("cold write waits %d ns, not far below the hot write's %d", m.WaitNs, hot.WaitNs)
			}
		}
	}
	if !sawHot || !sawCold {
		t.Errorf("map writes: hot found %v, cold found %v", sawHot, sawCold)
	}
	kinds := map[string]string{}
	for _, s := range r.report.Sources {
		kinds[s.Kind] = s.Origin
	}
	for _, k := range []string{"mutex", "block", "trace"} {
		if kinds[k] != "agent" {
			t.Errorf("sources: %s from %q, want the agent", k, kinds[k])
		}
	}
	// The program's own output went to stderr, so stdout parsed as JSON.
	if !strings.Contains(r.stderr, "accounts: 3") {
		t.Errorf("the program's output was not forwarded to stderr:\n%s", r.stderr)
	}
}

// The text report names the hot line relative to the working directory.
func TestAnalyzeLedgerText(t *testing.T) {
	main := fixture(t, "ledger", "main.go")
	t.Chdir(testutil.ModuleRoot(t))
	r := analyze(t, "--trace-seconds", "0", "--no-index", "./testdata/ledger", "--", "-d", "1s")
	mustOK(t, r)
	want := filepath.Join("testdata", "ledger", "main.go") + ":" + strconv.Itoa(testutil.MarkerLine(t, main, "hot-unlock")) + "  main.deposit"
	if !strings.Contains(r.stdout, want) {
		t.Errorf("text report lacks %q:\n%s", want, r.stdout)
	}
	if !strings.Contains(r.stdout, "█") {
		t.Errorf("text report has no share bar:\n%s", r.stdout)
	}
}

func TestAnalyzeCalm(t *testing.T) {
	r := analyze(t, "--json", fixture(t, "calm"))
	mustOK(t, r)
	for _, h := range r.report.Hotspots {
		if h.Lock && h.Share > 0.01 {
			t.Errorf("calm has a lock hotspot: %s %s:%d share %.3f", h.Kind, filepath.Base(h.File), h.Line, h.Share)
		}
	}
	for _, m := range r.report.MapWrites {
		if m.Contended {
			t.Errorf("calm map write %s:%d marked contended", filepath.Base(m.File), m.Line)
		}
	}
}

// A program in its own module builds in that module and runs.
func TestAnalyzeOtherModule(t *testing.T) {
	r := analyze(t, "--json", fixture(t, "othermod"))
	mustOK(t, r)
	if !strings.Contains(r.stderr, "hello, othermod") {
		t.Errorf("othermod did not run:\n%s", r.stderr)
	}
	for _, n := range []string{"zz_lockscope_agent.go"} {
		if _, err := os.Stat(fixture(t, "othermod", n)); err == nil {
			t.Errorf("agent file left in the user's tree")
		}
	}
}

// A run of half a second still yields its hotspot: the agent's exit hook
// saves the profiles as the program ends.
func TestAnalyzeShortProgram(t *testing.T) {
	main := fixture(t, "short", "main.go")
	r := analyze(t, "--json", "--no-index", fixture(t, "short"))
	mustOK(t, r)
	wantAt(t, "top mutex hotspot", firstLock(r.report, contention.KindMutex), main, testutil.MarkerLine(t, main, "short-unlock"), "main.bump")
	for _, n := range r.report.Notes {
		if strings.Contains(n, "periodic snapshot") {
			t.Errorf("profiles came from a snapshot, not the exit hook: %s", n)
		}
	}
}

// --duration stops a program that would run forever, with its live
// profiles, and leaves no process behind.
func TestAnalyzeDuration(t *testing.T) {
	main := fixture(t, "ledger", "main.go")
	r := analyze(t, "--json", "--no-index", "--duration", "1500ms", "--trace-seconds", "0.5", fixture(t, "ledger"), "--", "-d", "0")
	mustOK(t, r)
	wantAt(t, "top mutex hotspot", firstLock(r.report, contention.KindMutex), main, testutil.MarkerLine(t, main, "hot-unlock"), "main.deposit")
	if !strings.Contains(r.stderr, "stopped by lockscope (--duration 1.5s) after ") {
		t.Errorf("progress does not say the program was stopped:\n%s", r.stderr)
	}
	m := regexp.MustCompile(`\(pid (\d+)\)`).FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no pid in progress:\n%s", r.stderr)
	}
	pid, _ := strconv.Atoi(m[1])
	if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
		t.Errorf("program pid %d still exists after analyze returned (kill 0: %v)", pid, err)
	}
}

// A crash is part of the report, not an analyze failure.
func TestAnalyzeCrash(t *testing.T) {
	main := fixture(t, "crashmap", "main.go")
	r := analyze(t, "--json", fixture(t, "crashmap"))
	mustOK(t, r)
	c := r.report.Crash
	if c == nil {
		t.Fatalf("no crash in the report; stderr:\n%s", r.stderr)
	}
	hit, reset := testutil.MarkerLine(t, main, "crash-hit"), testutil.MarkerLine(t, main, "crash-reset")
	if c.Reason != "concurrent map writes" || c.File != main || (c.Line != hit && c.Line != reset) {
		t.Errorf("crash %q at %s:%d, want concurrent map writes at line %d or %d", c.Reason, c.File, c.Line, hit, reset)
	}
	if len(c.Writers) == 0 {
		t.Errorf("crash has no other writers from the source index")
	}
}

// --race builds with the race detector and maps its reports.
func TestAnalyzeRace(t *testing.T) {
	main := fixture(t, "racymap", "main.go")
	r := analyze(t, "--json", "--no-index", "--trace-seconds", "0", "--race", fixture(t, "racymap"))
	mustOK(t, r)
	if len(r.report.Races) == 0 {
		t.Fatalf("no race in the report; stderr:\n%s", r.stderr)
	}
	lines := map[int]bool{testutil.MarkerLine(t, main, "racy-record"): true, testutil.MarkerLine(t, main, "racy-forget"): true}
	rc := r.report.Races[0]
	if !lines[rc.Access.Line] || !lines[rc.Previous.Line] {
		t.Errorf("race between lines %d and %d, want the record and forget lines", rc.Access.Line, rc.Previous.Line)
	}
}

// A build failure passes the compiler's message through, with exit 3.
func TestAnalyzeBuildFailure(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/broken\n\ngo 1.26\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {\n\tnotDefinedAnywhere()\n}\n"), 0o644)
	r := analyze(t, "--json", dir)
	if r.code != ExitBuild {
		t.Fatalf("exit %d, want %d (build failed)\nstderr:\n%s", r.code, ExitBuild, r.stderr)
	}
	if !strings.Contains(r.stderr, "main.go:4:2: undefined: notDefinedAnywhere") {
		t.Errorf("the compiler's message did not pass through:\n%s", r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout not empty on a failed build: %q", r.stdout)
	}
}

func TestAnalyzeUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--no-such-flag"},
		{"a", "b"},
		{"--run", "X", "."},
		{"--mutex", "m.pb.gz", "--test"},
		{"--mutex", "m.pb.gz", ".", "--", "-x"},
		{"--trace-seconds", "1000"},
		{"--pprof-url", "http://127.0.0.1:1", "--seconds", "0"},
	} {
		if r := analyze(t, args...); r.code != ExitUsage {
			t.Errorf("analyze %q: exit %d, want %d\n%s", args, r.code, ExitUsage, r.stderr)
		}
	}
	if r := analyze(t, "-h"); r.code != ExitOK || !strings.Contains(r.stdout, "Exit codes:") {
		t.Errorf("-h: exit %d, usage on stdout:\n%s", r.code, r.stdout)
	}
}

// writeProfiles runs the testonly fixture's tests with go test's profiling
// flags and returns the dir with mutex.pb.gz, block.pb.gz and trace.out.
func writeProfiles(t *testing.T) string {
	t.Helper()
	out := t.TempDir()
	args := append([]string{"test", "-count=1", "-o", filepath.Join(out, "x.test")}, capture.TestFlags(out, 0, 0, true, false)...)
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = fixture(t, "capture", "testonly")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test: %v\n%s", err, b)
	}
	return out
}

func TestAnalyzeFiles(t *testing.T) {
	dir := writeProfiles(t)
	test := fixture(t, "capture", "testonly", "lonely_test.go")
	unlock := nearLine(t, test, testutil.MarkerLine(t, test, "lonely-inc"), +1, "mu.Unlock()")
	r := analyze(t, "--json", "--mutex", filepath.Join(dir, "mutex.pb.gz"), "--block", filepath.Join(dir, "block.pb.gz"),
		"--trace", filepath.Join(dir, "trace.out"))
	mustOK(t, r)
	wantAt(t, "mutex hotspot from file", firstLock(r.report, contention.KindMutex), test, unlock, "")
	if len(r.report.Sources) != 3 || r.report.Sources[0].Origin != "file" {
		t.Errorf("sources %+v, want three files", r.report.Sources)
	}

	// Bad inputs: each error names the file.
	garbage := filepath.Join(t.TempDir(), "garbage.pb.gz")
	os.WriteFile(garbage, []byte("not a profile at all"), 0o644)
	badGzip := filepath.Join(t.TempDir(), "bad.pb.gz")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("\xff\xff\xff garbage inside gzip"))
	zw.Close()
	os.WriteFile(badGzip, gz.Bytes(), 0o644)
	missing := filepath.Join(t.TempDir(), "missing.pb.gz")
	for _, tc := range []struct {
		args []string
		code int
		name string
	}{
		{[]string{"--mutex", missing}, ExitInput, missing},
		{[]string{"--mutex", garbage}, ExitInput, garbage},
		{[]string{"--block", badGzip}, ExitNoAnalysis, badGzip},
		{[]string{"--trace", filepath.Join(dir, "mutex.pb.gz")}, ExitInput, "mutex.pb.gz"},
		{[]string{"--mutex", filepath.Join(dir, "trace.out")}, ExitInput, "trace.out"},
		{[]string{"--mutex", filepath.Join(dir, "block.pb.gz")}, ExitNoAnalysis, "block.pb.gz"},
	} {
		r := analyze(t, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.name) {
			t.Errorf("analyze %q: exit %d (want %d), stderr must name %s:\n%s", tc.args, r.code, tc.code, tc.name, r.stderr)
		}
	}
}

// --load detects each file's kind, as lockscope/load does: the extension's
// "Load Profile or Trace File…" runs it when no debug session is there.
func TestAnalyzeLoadDetectsKinds(t *testing.T) {
	dir := writeProfiles(t)
	test := fixture(t, "capture", "testonly", "lonely_test.go")
	unlock := nearLine(t, test, testutil.MarkerLine(t, test, "lonely-inc"), +1, "mu.Unlock()")
	r := analyze(t, "--json", "--load", filepath.Join(dir, "block.pb.gz"), "--load", filepath.Join(dir, "mutex.pb.gz"),
		"--load", filepath.Join(dir, "trace.out"))
	mustOK(t, r)
	wantAt(t, "mutex hotspot from --load", firstLock(r.report, contention.KindMutex), test, unlock, "")
	// A block profile taken for a mutex one (or the reverse) shows here as
	// two sources of one kind; whether the short test run blocked long
	// enough for a lock hotspot depends on the machine's load.
	kinds := map[string]bool{}
	for _, s := range r.report.Sources {
		kinds[s.Kind] = true
	}
	if !kinds["mutex"] || !kinds["block"] || !kinds["trace"] {
		t.Errorf("sources %+v, want a mutex, a block and a trace", r.report.Sources)
	}
}

// --test runs the package's tests with profiling flags.
func TestAnalyzeTestMode(t *testing.T) {
	test := fixture(t, "capture", "testonly", "lonely_test.go")
	unlock := nearLine(t, test, testutil.MarkerLine(t, test, "lonely-inc"), +1, "mu.Unlock()")
	r := analyze(t, "--json", "--test", "--run", "TestLonely", fixture(t, "capture", "testonly"))
	mustOK(t, r)
	wantAt(t, "mutex hotspot in test mode", firstLock(r.report, contention.KindMutex), test, unlock, "")
	if _, err := os.Stat(fixture(t, "capture", "testonly", "testonly.test")); err == nil {
		t.Errorf("a test binary was left in the user's tree")
	}

	// --bench passes through: with no test run, the benchmark's Unlock
	// line is what the mutex profile charges.
	r = analyze(t, "--json", "--test", "--run", "^$", "--bench", "Lonely", "--trace-seconds", "0", fixture(t, "capture", "testonly"), "--", "-test.benchtime", "300ms")
	mustOK(t, r)
	wantAt(t, "mutex hotspot in the benchmark", firstLock(r.report, contention.KindMutex), test, testutil.MarkerLine(t, test, "lonely-bench-unlock"), "")
}

// contend makes mutex contention in this process until stop closes.
func contend(stop chan struct{}) *sync.WaitGroup {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				for j := 0; j < 2000; j++ {
					_ = j * j
				}
				mu.Unlock() // lockscope:cli-test-unlock
			}
		}()
	}
	return &wg
}

// --pprof-url captures from a live net/http/pprof server.
func TestAnalyzePprofURL(t *testing.T) {
	old := runtime.SetMutexProfileFraction(1)
	defer runtime.SetMutexProfileFraction(old)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	stop := make(chan struct{})
	wg := contend(stop)
	defer func() { close(stop); wg.Wait() }()

	r := analyze(t, "--json", "--pprof-url", srv.URL, "--seconds", "1", "--trace-seconds", "0.3")
	mustOK(t, r)
	self, _ := filepath.Abs("analyze_test.go")
	wantAt(t, "mutex hotspot over the URL", firstLock(r.report, contention.KindMutex), self, testutil.MarkerLine(t, self, "cli-test-unlock"), "")
	var urls int
	for _, s := range r.report.Sources {
		if s.Origin == "url" && strings.HasPrefix(s.URL, srv.URL) {
			urls++
		}
	}
	if urls != 3 {
		t.Errorf("%d URL sources, want mutex, block and trace: %+v", urls, r.report.Sources)
	}

	// A host lockscope would refuse is a usage error, before anything runs.
	bad := analyze(t, "--pprof-url", "http://192.0.2.1:6060", "--seconds", "1")
	if bad.code != ExitUsage || !strings.Contains(bad.stderr, "not loopback and not allowed") {
		t.Errorf("disallowed host: exit %d\n%s", bad.code, bad.stderr)
	}
}

// watchWriter collects stderr and closes seen when text first appears.
type watchWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	text string
	seen chan struct{}
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.seen != nil && strings.Contains(w.buf.String(), w.text) {
		close(w.seen)
		w.seen = nil
	}
	return len(p), nil
}

// An interrupt stops a program that would run forever: analyze takes the
// live profiles, kills the program and still prints the report.
func TestAnalyzeInterrupt(t *testing.T) {
	main := fixture(t, "ledger", "main.go")
	seen := make(chan struct{})
	errw := &watchWriter{text: "lockscope's agent answered", seen: seen}
	var out bytes.Buffer
	done := make(chan int)
	go func() {
		done <- Analyze([]string{"--json", "--no-index", "--trace-seconds", "0", fixture(t, "ledger"), "--", "-d", "0"}, &out, errw)
	}()
	// Analyze has been catching SIGINT since before it printed "running";
	// once the agent answers, the live profiles can be taken.
	<-seen
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	code := <-done
	errw.mu.Lock()
	stderr := errw.buf.String()
	errw.mu.Unlock()
	if code != ExitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "stopped by lockscope (interrupt)") {
		t.Errorf("progress does not say the program was stopped on interrupt:\n%s", stderr)
	}
	var r contention.Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	wantAt(t, "top mutex hotspot after an interrupt", firstLock(&r, contention.KindMutex), main, testutil.MarkerLine(t, main, "hot-unlock"), "main.deposit")
	m := regexp.MustCompile(`\(pid (\d+)\)`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no pid in progress:\n%s", stderr)
	}
	pid, _ := strconv.Atoi(m[1])
	if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
		t.Errorf("program pid %d still exists after the interrupt (kill 0: %v)", pid, err)
	}
}

// inventory's map write sits in another package of the module, under a
// deferred Unlock. The optimised build charges that Unlock to the
// function's exit; the report puts it back on the defer line, and the
// write in store.go is found and contended.
func TestAnalyzeInventoryDeferAndOtherPackage(t *testing.T) {
	store := fixture(t, "inventory", "store", "store.go")
	r := analyze(t, "--json", "--trace-seconds", "0", fixture(t, "inventory"))
	mustOK(t, r)
	wantAt(t, "top mutex hotspot", firstLock(r.report, contention.KindMutex), store, testutil.MarkerLine(t, store, "store-unlock"),
		"github.com/lockscope/lockscope/testdata/inventory/store.(*Store).Add")
	write := testutil.MarkerLine(t, store, "store-write")
	found := false
	for _, m := range r.report.MapWrites {
		if m.File == store && m.Line == write {
			found = true
			if !m.Contended || m.Guard != "s.mu" {
				t.Errorf("store write: contended=%v guard=%q, want contended under s.mu", m.Contended, m.Guard)
			}
		}
	}
	if !found {
		t.Errorf("the write in store.go is not in the report's mapWrites")
	}
}
