package e2e

import (
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/daptest"
	"github.com/lockscope/lockscope/internal/dapx"
	"github.com/lockscope/lockscope/internal/testutil"
)

// reportEvent waits for a lockscope/report event that satisfies ok.
func reportEvent(t *testing.T, c *daptest.Client, timeout time.Duration, what string, ok func(*contention.Report) bool) *contention.Report {
	t.Helper()
	return c.ExpectReportEventWhere(t, what, 0, timeout, ok).Body
}

func topOfKind(r *contention.Report, kind string) *contention.Hotspot {
	for i := range r.Hotspots {
		if r.Hotspots[i].Kind == kind {
			return &r.Hotspots[i]
		}
	}
	return nil
}

func TestLiveCaptureFindsTheHotLock(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	ledger := filepath.Join(testdataDir("ledger"), "main.go")
	launch(t, c, map[string]any{"mode": "debug", "program": testdataDir("ledger"), "args": []string{"-d", "0"},
		"lockscope": map[string]any{"refreshSeconds": 0.5}})
	c.Call(t, "configurationDone", nil)
	unlock := testutil.MarkerLine(t, ledger, "hot-unlock")
	write := testutil.MarkerLine(t, ledger, "hot-write")
	start := time.Now()
	r := reportEvent(t, c, 30*time.Second, "main.deposit on top", func(r *contention.Report) bool {
		m, b := topOfKind(r, contention.KindMutex), topOfKind(r, contention.KindBlock)
		return m != nil && b != nil && m.Function == "main.deposit" && b.Function == "main.deposit"
	})
	t.Logf("first report with the hot lock after %v", time.Since(start))
	m, b := topOfKind(r, contention.KindMutex), topOfKind(r, contention.KindBlock)
	if m.File != ledger || m.Line != unlock {
		t.Errorf("top mutex hotspot at %s:%d, want the Unlock at %s:%d", m.File, m.Line, ledger, unlock)
	}
	if b.File != ledger || b.Line != write-1 {
		t.Errorf("top block hotspot at %s:%d, want the Lock at %s:%d", b.File, b.Line, ledger, write-1)
	}
	if !m.Lock || m.Primitive != contention.PrimMutex || m.Share < 0.5 {
		t.Errorf("top mutex hotspot %+v: want a sync.Mutex lock with most of the share", *m)
	}

	// A capture asked while the program is stopped answers at once.
	c.Call(t, "pause", map[string]any{"threadId": 1})
	c.Stopped(t)
	t0 := time.Now()
	resp := c.CallErr(t, dapx.CommandCapture, map[string]any{})
	if resp.ErrorID() != dapx.ErrProgramStopped || time.Since(t0) > 5*time.Second {
		t.Errorf("capture while stopped: id %d after %v, want %d at once: %s", resp.ErrorID(), time.Since(t0), dapx.ErrProgramStopped, resp.Raw)
	}
	c.Call(t, "continue", map[string]any{"threadId": 1})
	// A capture on demand, with progress events.
	rep := c.ExpectReportResponse(t, c.CaptureRequest(dapx.CaptureArguments{Kinds: []string{contention.KindMutex}})).Body
	if top := topOfKind(rep, contention.KindMutex); top == nil || top.Function != "main.deposit" {
		t.Errorf("lockscope/capture: top mutex hotspot %+v, want main.deposit", top)
	}
	c.Event(t, "progressStart")
	c.Event(t, "progressEnd")
	bad := c.CallErr(t, dapx.CommandCapture, map[string]any{"kinds": []string{"cpu"}})
	if bad.ErrorID() != dapx.ErrBadArguments {
		t.Errorf("unknown kind: id %d, want %d", bad.ErrorID(), dapx.ErrBadArguments)
	}
	c.Call(t, "disconnect", nil)
	if !a.exited(20 * time.Second) {
		t.Fatal("lockscope dap did not exit")
	}
}

// A program that exits before the next refresh loses nothing: the agent
// saved its profiles at exit, and the session reads them.
func TestShortProgramKeepsItsProfiles(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	short := filepath.Join(testdataDir("short"), "main.go")
	launch(t, c, map[string]any{"mode": "debug", "program": testdataDir("short"), "lockscope": map[string]any{"refreshSeconds": 30}})
	c.Call(t, "configurationDone", nil)
	r := reportEvent(t, c, 30*time.Second, "short's hot lock", func(r *contention.Report) bool {
		m := topOfKind(r, contention.KindMutex)
		return m != nil && m.Function == "main.bump"
	})
	if m := topOfKind(r, contention.KindMutex); m.Line != testutil.MarkerLine(t, short, "short-unlock") {
		t.Errorf("top mutex hotspot at line %d, want %d", m.Line, testutil.MarkerLine(t, short, "short-unlock"))
	}
	c.Event(t, "terminated")
	c.Call(t, "disconnect", nil)
}

func TestLoadRecordedProfileInSession(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	initialize(t, c)
	files, _ := filepath.Glob(filepath.Join(moduleRoot, "testdata", "profiles", "ledger*mutex*"))
	if len(files) == 0 {
		t.Fatal("no recorded ledger mutex profile in testdata/profiles")
	}
	rep := c.ExpectReportResponse(t, c.LoadRequest(dapx.LoadArguments{Path: files[0], Kind: contention.KindMutex})).Body
	if top := topOfKind(rep, contention.KindMutex); top == nil || top.Function != "main.deposit" {
		t.Errorf("loaded profile: top %+v, want main.deposit", top)
	}
	c.ExpectReportEvent(t)
	bad := c.CallErr(t, dapx.CommandLoad, map[string]any{"path": filepath.Join(moduleRoot, "go.mod")})
	if bad.ErrorID() != dapx.ErrLoadFailed || !strings.Contains(string(bad.Raw), "go.mod") {
		t.Errorf("loading go.mod: %s, want a load error naming the file", bad.Raw)
	}
	// Hostile files: a trace cut in its header, and a gzip bomb given as a
	// profile. Each gets an error naming the file, quickly.
	dir := t.TempDir()
	cut := filepath.Join(dir, "cut.trace")
	if err := os.WriteFile(cut, []byte("go 1.26 trace\x00\x00\x00\x01\x02"), 0o644); err != nil {
		t.Fatal(err)
	}
	bomb := filepath.Join(dir, "bomb.pb.gz")
	writeGzipBomb(t, bomb)
	for _, f := range []string{cut, bomb} {
		t0 := time.Now()
		bad := c.CallErr(t, dapx.CommandLoad, map[string]any{"path": f})
		if bad.ErrorID() != dapx.ErrLoadFailed || !strings.Contains(string(bad.Raw), filepath.Base(f)) {
			t.Errorf("loading %s: %s, want a load error naming the file", filepath.Base(f), bad.Raw)
		}
		if d := time.Since(t0); d > 10*time.Second {
			t.Errorf("loading %s took %v", filepath.Base(f), d)
		}
	}
	// The session lives on.
	c.Call(t, dapx.CommandReport, nil)
	c.Call(t, "disconnect", nil)
}

// writeGzipBomb writes 1 GiB of zeros, gzipped (about 1 MB).
func writeGzipBomb(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for i := 0; i < 1024; i++ {
		if _, err := zw.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

// traceSeconds takes a trace window while the program runs; the three-lock
// handoff comes back as one chain: waiter, holder that waits, last holder.
func TestTraceWindowChainsInSession(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	file := filepath.Join(testdataDir("handoff"), "main.go")
	launch(t, c, map[string]any{"mode": "debug", "program": testdataDir("handoff"), "args": []string{"-d", "0"},
		"lockscope": map[string]any{"refreshSeconds": 0.5, "traceSeconds": 1}})
	c.Call(t, "configurationDone", nil)
	waiter, last := testutil.MarkerLine(t, file, "chain-waiter"), testutil.MarkerLine(t, file, "chain-holder")
	r := reportEvent(t, c, 60*time.Second, "a chain from withdraw to auditor", func(r *contention.Report) bool {
		for _, ch := range r.Chains {
			if len(ch.Links) >= 3 && ch.Links[0].Line == waiter && ch.Links[len(ch.Links)-1].Line == last {
				return true
			}
		}
		return false
	})
	if len(r.Chains) == 0 {
		t.Fatal("no chains")
	}
	c.Call(t, "disconnect", nil)
}

// A trace capture can be cancelled through its progress id.
func TestCaptureCancel(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	launch(t, c, map[string]any{"mode": "debug", "program": testdataDir("ledger"), "args": []string{"-d", "0"},
		"lockscope": map[string]any{"refreshSeconds": 0.5}})
	c.Call(t, "configurationDone", nil)
	reportEvent(t, c, 30*time.Second, "a first capture", func(r *contention.Report) bool { return len(r.Hotspots) > 0 })
	seq := c.Send(dapx.CommandCapture, map[string]any{"kinds": []string{"trace"}, "seconds": 20})
	var ps struct {
		ProgressID  string `json:"progressId"`
		Cancellable bool   `json:"cancellable"`
	}
	c.Event(t, "progressStart").Decode(t, &ps)
	if !ps.Cancellable || ps.ProgressID == "" {
		t.Fatalf("progressStart %+v: want a cancellable progress", ps)
	}
	t0 := time.Now()
	c.Call(t, "cancel", map[string]any{"progressId": ps.ProgressID})
	resp := c.Response(t, seq)
	if resp.Success || resp.ErrorID() != dapx.ErrCancelled {
		t.Fatalf("cancelled capture answered %s, want error %d", resp.Raw, dapx.ErrCancelled)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("the cancel took %v", d)
	}
	c.Event(t, "progressEnd")
	c.Call(t, "disconnect", nil)
}

// A lockscope request can be cancelled by its seq, as DAP's cancel allows;
// before, the cancel went to Delve, which knows nothing of it, and the
// capture ran its full length.
func TestCaptureCancelByRequestID(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	launch(t, c, map[string]any{"mode": "debug", "program": testdataDir("ledger"), "args": []string{"-d", "0"},
		"lockscope": map[string]any{"refreshSeconds": 0.5}})
	c.Call(t, "configurationDone", nil)
	reportEvent(t, c, 30*time.Second, "a first capture", func(r *contention.Report) bool { return len(r.Hotspots) > 0 })
	seq := c.Send(dapx.CommandCapture, map[string]any{"kinds": []string{"trace"}, "seconds": 60})
	c.Event(t, "progressStart") // the capture is under way
	c.Call(t, "cancel", map[string]any{"requestId": seq})
	resp := c.WaitFor(t, "the cancelled capture's answer", 30*time.Second, func(m daptest.Message) bool {
		return m.Type == "response" && m.RequestSeq == seq
	})
	if resp.Success || resp.ErrorID() != dapx.ErrCancelled {
		t.Fatalf("cancelled capture answered %s, want error %d", resp.Raw, dapx.ErrCancelled)
	}
	c.Call(t, "disconnect", nil)
}

// Attached to a service that serves net/http/pprof, the session captures
// from its pprofURL: the agent is not needed.
func TestAttachWithPprofURL(t *testing.T) {
	t.Parallel()
	bin := buildProgram(t, "service")
	addrFile := filepath.Join(t.TempDir(), "addr")
	prog := exec.Command(bin, "-addr-file", addrFile)
	if err := prog.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = prog.Process.Kill(); _ = prog.Wait() })
	var addr string
	for i := 0; i < 100 && addr == ""; i++ {
		b, _ := os.ReadFile(addrFile)
		addr = string(b)
		time.Sleep(50 * time.Millisecond)
	}
	if addr == "" {
		t.Fatal("the service wrote no address")
	}
	file := filepath.Join(testdataDir("service"), "main.go")
	a := startAdapter(t)
	c := a.c
	initialize(t, c)
	c.Call(t, "attach", map[string]any{"request": "attach", "mode": "local", "processId": prog.Process.Pid,
		"lockscope": map[string]any{"pprofURL": "http://" + addr, "refreshSeconds": 0.5}})
	c.Event(t, "initialized")
	c.Call(t, "configurationDone", nil)
	r := reportEvent(t, c, 30*time.Second, "main.record on top", func(r *contention.Report) bool {
		m := topOfKind(r, contention.KindMutex)
		return m != nil && m.Function == "main.record"
	})
	if m := topOfKind(r, contention.KindMutex); m.File != file || m.Line != testutil.MarkerLine(t, file, "service-unlock") {
		t.Errorf("top mutex hotspot at %s:%d, want the service's Unlock line", m.File, m.Line)
	}
	if r.Sources[0].Origin != "url" {
		t.Errorf("sources %+v: want the pprof URL", r.Sources)
	}
	// On demand: a delta over one second.
	rep := c.ExpectReportResponse(t, c.CaptureRequest(dapx.CaptureArguments{Kinds: []string{contention.KindBlock}, Seconds: 1})).Body
	if b := topOfKind(rep, contention.KindBlock); b == nil || b.Function != "main.record" {
		t.Errorf("captured block profile: top %+v, want main.record", b)
	}
	c.Call(t, "disconnect", nil)
	if !a.exited(20 * time.Second) {
		t.Fatal("lockscope dap did not exit")
	}
	if !alive(prog.Process.Pid) {
		t.Fatal("the attached service died on disconnect")
	}
}

// VS Code's restart button: the restarted program is captured again.
func TestRestartKeepsCapturing(t *testing.T) {
	t.Parallel()
	a := startAdapter(t, "--log")
	c := a.c
	launch(t, c, map[string]any{"mode": "debug", "program": testdataDir("ledger"), "args": []string{"-d", "0"},
		"lockscope": map[string]any{"refreshSeconds": 0.5}})
	c.Call(t, "configurationDone", nil)
	reportEvent(t, c, 30*time.Second, "the hot lock", func(r *contention.Report) bool { return topOfKind(r, contention.KindMutex) != nil })
	c.ExpectReportResponse(t, c.ClearRequest())
	c.Call(t, "restart", map[string]any{"arguments": map[string]any{"request": "launch", "rebuild": false}})
	c.Event(t, "initialized")
	c.Call(t, "configurationDone", nil)
	r := reportEvent(t, c, 30*time.Second, "the hot lock after the restart", func(r *contention.Report) bool {
		m := topOfKind(r, contention.KindMutex)
		return m != nil && m.Function == "main.deposit"
	})
	_ = r
	c.Call(t, "disconnect", nil)
}

// A single-file program debugs as usual; capture says clearly why it is off.
func TestSingleFileProgramSaysCaptureIsOff(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	c := a.c
	file := filepath.Join(testdataDir("othermod"), "main.go")
	launch(t, c, map[string]any{"mode": "debug", "program": file})
	c.WaitFor(t, "a console line saying capture is off", 30*time.Second, func(m daptest.Message) bool {
		return m.Event == "output" && strings.Contains(string(m.Body), "capture is off") && strings.Contains(string(m.Body), "single file")
	})
	setBreakpoints(t, c, file, map[string]any{"line": testutil.MarkerLine(t, file, "othermod-greet")})
	c.Call(t, "configurationDone", nil)
	if st := c.Stopped(t); st.Reason != "breakpoint" {
		t.Fatalf("stopped for %q, want breakpoint", st.Reason)
	}
	c.Call(t, "disconnect", nil)
}
