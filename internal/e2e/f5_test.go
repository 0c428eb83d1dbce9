package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/daptest"
)

// goplsVersion is the real module BenchmarkF5ToFirstStop debugs (issue 13
// §1): 112 packages, far more than any testdata program.
const goplsVersion = "v0.23.0"

// f5Program is a program to press F5 on: its launch arguments (without
// request, mode and program) and its folder.
type f5Program struct {
	name string
	dir  string
	args []string
}

// f5ToStop runs one fresh debugging session on c as VS Code does and
// returns the time from the launch request to the stopped event at a
// function breakpoint on main.main: what a user waits for after F5.
func f5ToStop(t testing.TB, c *daptest.Client, p f5Program, extra map[string]any) time.Duration {
	t.Helper()
	initialize(t, c)
	args := map[string]any{"request": "launch", "mode": "debug", "program": p.dir, "args": p.args, "outputMode": "remote"}
	for k, v := range extra {
		args[k] = v
	}
	t0 := time.Now()
	seq := c.Send("launch", args)
	resp := c.WaitFor(t, "the launch response", buildTimeout, func(m daptest.Message) bool {
		return m.Type == "response" && m.RequestSeq == seq
	})
	if !resp.Success {
		var out strings.Builder
		for _, m := range c.Messages() {
			if m.Type == "event" && m.Event == "output" {
				out.Write(m.Raw)
				out.WriteByte('\n')
			}
		}
		t.Fatalf("launch of %s failed: %s\n%s\n%s", p.name, resp.Message, resp.Raw, out.String())
	}
	c.Event(t, "initialized")
	var bps struct {
		Breakpoints []struct {
			Verified bool `json:"verified"`
		} `json:"breakpoints"`
	}
	c.Call(t, "setFunctionBreakpoints", map[string]any{"breakpoints": []map[string]any{{"name": "main.main"}}}).Decode(t, &bps)
	if len(bps.Breakpoints) != 1 || !bps.Breakpoints[0].Verified {
		t.Fatalf("%s: the breakpoint on main.main is not verified: %+v", p.name, bps)
	}
	c.Call(t, "configurationDone", nil)
	st := c.Stopped(t)
	took := time.Since(t0)
	if st.Reason != "function breakpoint" && st.Reason != "breakpoint" {
		t.Fatalf("%s: stopped for %q, not at the breakpoint on main.main", p.name, st.Reason)
	}
	frames := c.StackTrace(t, st.ThreadID)
	if len(frames) == 0 || frames[0].Name != "main.main" {
		t.Fatalf("%s: stopped in %+v, not in main.main", p.name, frames)
	}
	c.Call(t, "disconnect", map[string]any{"terminateDebuggee": true})
	return took
}

// f5Pair runs one round: a fresh `lockscope dap` session with capture on
// (as users get it) and a fresh plain `dlv dap` over TCP, in the order
// given, and returns both times.
func f5Pair(t testing.TB, p f5Program, lockscopeFirst bool) (ls, dlv time.Duration) {
	t.Helper()
	runLS := func() {
		if os.Getenv("LOCKSCOPE_F5_COLD") != "" {
			// A folder lockscope has never seen: neither its go facts
			// nor its source index cached (internal/pipeline's
			// gofacts.go and indexcache.go, both in the user cache
			// folder), as at a user's first F5.
			if b, ok := t.(*testing.B); ok {
				// The go command's build cache lives there too by
				// default: it stays where it is.
				gocache, err := exec.Command("go", "env", "GOCACHE").Output()
				if err != nil {
					b.Fatal(err)
				}
				b.Setenv("GOCACHE", strings.TrimSpace(string(gocache)))
				b.Setenv("XDG_CACHE_HOME", b.TempDir())
			}
		}
		a := startAdapter(t)
		ls = f5ToStop(t, a.c, p, nil)
		if !a.exited(30 * time.Second) {
			t.Fatalf("lockscope dap did not exit after disconnect")
		}
	}
	// Plain dlv builds in its own working folder and writes __debug_bin
	// there: point both elsewhere, as vscode-go does with cwd.
	runDlv := func() {
		dlv = f5ToStop(t, startPlainDlv(t), p, map[string]any{
			"dlvCwd": p.dir, "output": filepath.Join(t.TempDir(), "__debug_bin")})
	}
	if lockscopeFirst {
		runLS()
		runDlv()
	} else {
		runDlv()
		runLS()
	}
	return ls, dlv
}

// TestF5ToFirstStop runs one round of BenchmarkF5ToFirstStop on
// testdata/ledger: both adapters reach main.main. No timing is asserted.
func TestF5ToFirstStop(t *testing.T) {
	ls, dlv := f5Pair(t, f5Program{name: "ledger", dir: testdataDir("ledger"), args: []string{"-d", "1ms"}}, true)
	t.Logf("launch → stopped at main.main: lockscope %v, dlv %v", ls, dlv)
}

// goplsModule downloads gopls at goplsVersion through the module proxy and
// copies it into a writable folder with its dependencies downloaded.
func goplsModule(b *testing.B) string {
	b.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", "golang.org/x/tools/gopls@"+goplsVersion).Output()
	if err != nil {
		b.Fatalf("downloading gopls %s: %v", goplsVersion, err)
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		b.Fatalf("downloading gopls %s: %v %s", goplsVersion, err, m.Error)
	}
	dir := filepath.Join(b.TempDir(), "gopls")
	if err := os.CopyFS(dir, os.DirFS(m.Dir)); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command("go", "mod", "download")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("downloading gopls's dependencies: %v\n%s", err, out)
	}
	return dir
}

// BenchmarkF5ToFirstStop compares the time from the launch request to the
// first stop at a breakpoint on main.main through `lockscope dap` (capture
// on) with plain `dlv dap` over TCP, in fresh sessions that alternate (and
// alternate which goes first) to cancel drift on a shared machine. It
// reports the medians of LOCKSCOPE_F5_ROUNDS rounds (default 7) and their
// ratio, for testdata/ledger and for gopls (`gopls version`);
// LOCKSCOPE_F5_PROGRAMS=gopls (or ledger) runs one of them only, and
// LOCKSCOPE_F5_COLD=1 gives each lockscope session an empty user cache
// (a first F5 in the folder: no go facts and no source index cached; the
// build cache stays warm for both). Without it, the untimed first round
// leaves both caches filled, and the timed rounds are the second F5 and
// after, as users press it: lockscope then runs no go command before
// Delve's.
func BenchmarkF5ToFirstStop(b *testing.B) {
	rounds := 7
	if v, err := strconv.Atoi(os.Getenv("LOCKSCOPE_F5_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	only := os.Getenv("LOCKSCOPE_F5_PROGRAMS") // "ledger", "gopls" or both (the default)
	var progs []f5Program
	if only == "" || strings.Contains(only, "ledger") {
		progs = append(progs, f5Program{name: "ledger", dir: testdataDir("ledger"), args: []string{"-d", "1ms"}})
	}
	if only == "" || strings.Contains(only, "gopls") {
		progs = append(progs, f5Program{name: "gopls", dir: goplsModule(b), args: []string{"version"}})
	}
	for _, p := range progs {
		// A first, untimed round fills the build cache for both.
		f5Pair(b, p, true)
		var ls, dlv []time.Duration
		for i := 0; i < rounds; i++ {
			l, d := f5Pair(b, p, i%2 == 0)
			ls, dlv = append(ls, l), append(dlv, d)
			b.Logf("%s round %d: lockscope %v dlv %v", p.name, i+1, l.Round(time.Millisecond), d.Round(time.Millisecond))
		}
		lm, dm := quantile(ls, 0.5), quantile(dlv, 0.5)
		ratio := float64(lm) / float64(dm)
		b.ReportMetric(lm.Seconds(), p.name+"-lockscope-s")
		b.ReportMetric(dm.Seconds(), p.name+"-dlv-s")
		b.ReportMetric(ratio, p.name+"-ratio")
		fmt.Printf("F5 %s rounds=%d lockscope_median_ms=%d dlv_median_ms=%d ratio=%.2f\n",
			p.name, rounds, lm.Milliseconds(), dm.Milliseconds(), ratio)
	}
}
