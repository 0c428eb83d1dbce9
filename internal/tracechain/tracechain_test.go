package tracechain

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
	"github.com/lockscope/lockscope/internal/usercode"
)

// The recorded traces (see testdata/traces/README.md).
var traceNames = []string{"handoff", "ledger", "rwcache"}

func tracePath(name string) string {
	return filepath.Join("..", "..", "testdata", "traces", name+".trace")
}

func analyzeFile(t testing.TB, path string, opts Options) Result {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if opts.Name == "" {
		opts.Name = path
	}
	res, err := Analyze(context.Background(), f, opts)
	if err != nil {
		t.Fatalf("Analyze(%s): %v", path, err)
	}
	return res
}

// sourceLine returns the 1-based number of the first line of
// testdata/<prog>/main.go that satisfies match.
func sourceLine(t *testing.T, prog string, what string, match func(string) bool) int {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", prog, "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if match(sc.Text()) {
			return n
		}
	}
	t.Fatalf("testdata/%s/main.go: no line %s", prog, what)
	return 0
}

type siteID struct {
	fn, file string
	line     int
}

func (s siteID) String() string { return fmt.Sprintf("%s %s:%d", s.fn, s.file, s.line) }

// goToolTraceSync runs the real `go tool trace -pprof=sync` on path and sums
// its samples by first user frame, with the same frame rule as the analyser.
// Samples without a user frame go to the zero siteID.
func goToolTraceSync(t *testing.T, path string) (delay, count map[siteID]int64, total int64) {
	t.Helper()
	gocmd := "go" // the go command on PATH, as the test runner found it
	cmd := exec.Command(gocmd, "tool", "trace", "-pprof=sync", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go tool trace -pprof=sync %s: %v\n%s", path, err, stderr.String())
	}
	return syncProfileBySite(t, out)
}

// syncProfileBySite sums a `go tool trace -pprof=sync` profile by first
// user frame.
func syncProfileBySite(t testing.TB, out []byte) (delay, count map[siteID]int64, total int64) {
	t.Helper()
	p, err := profile.Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("parse go tool trace profile: %v", err)
	}
	di, ci := -1, -1
	for i, st := range p.SampleType {
		switch st.Type {
		case "delay":
			di = i
		case "contentions":
			ci = i
		}
	}
	if di < 0 || ci < 0 {
		t.Fatalf("go tool trace profile has sample types %v, want contentions and delay", p.SampleType)
	}
	delay, count = map[siteID]int64{}, map[siteID]int64{}
	for _, s := range p.Sample {
		var k siteID
	frames:
		for _, l := range s.Location {
			for _, ln := range l.Line {
				if ln.Function != nil && chargeable(ln.Function.Name, ln.Function.Filename) {
					k = siteID{ln.Function.Name, ln.Function.Filename, int(ln.Line)}
					break frames
				}
			}
		}
		delay[k] += s.Value[di]
		count[k] += s.Value[ci]
		total += s.Value[di]
	}
	return delay, count, total
}

// TestMatchesGoToolTrace checks the waiter-side totals against the Go
// toolchain's own reading of the same trace: for every user line, the
// blocked time and the number of waits equal what `go tool trace
// -pprof=sync` charges to that line, to the nanosecond.
func TestMatchesGoToolTrace(t *testing.T) {
	for _, name := range traceNames {
		t.Run(name, func(t *testing.T) {
			path := tracePath(name)
			wantDelay, wantCount, wantTotal := goToolTraceSync(t, path)
			res := analyzeFile(t, path, Options{})
			compareWithGoToolTrace(t, res, wantDelay, wantCount, wantTotal)
		})
	}
}

func compareWithGoToolTrace(t testing.TB, res Result, wantDelay, wantCount map[siteID]int64, wantTotal int64) {
	t.Helper()
	if res.TotalSyncWaitNs != wantTotal {
		t.Errorf("TotalSyncWaitNs = %d, go tool trace total = %d", res.TotalSyncWaitNs, wantTotal)
	}
	got := map[siteID]contention.Hotspot{}
	for _, h := range res.Hotspots {
		if h.Kind == contention.KindTraceBlocked {
			got[siteID{h.Function, h.File, h.Line}] = h
		}
	}
	for k, d := range wantDelay {
		if k == (siteID{}) {
			continue // no user frame: not a hotspot, counted in the total
		}
		h, ok := got[k]
		switch {
		case !ok:
			t.Errorf("%v: missing; go tool trace has %d ns in %d waits", k, d, wantCount[k])
		case h.OpenWaits > 0:
			// go tool trace drops the waits still open at the end; the
			// hotspot charges them up to the end, the longest at least
			// StillWaitingNs.
			if h.Count != wantCount[k]+int64(h.OpenWaits) || h.DelayNs < d+h.StillWaitingNs {
				t.Errorf("%v: got %d ns in %d waits (%d open, the longest %d ns), go tool trace has %d ns in %d completed waits", k, h.DelayNs, h.Count, h.OpenWaits, h.StillWaitingNs, d, wantCount[k])
			}
		case h.DelayNs != d || h.Count != wantCount[k]:
			t.Errorf("%v: got %d ns in %d waits, go tool trace has %d ns in %d waits", k, h.DelayNs, h.Count, d, wantCount[k])
		}
	}
	for k, h := range got {
		if _, ok := wantDelay[k]; !ok && h.Count != int64(h.OpenWaits) {
			t.Errorf("%v: got %d ns that go tool trace does not have", k, h.DelayNs)
		}
	}
	if len(got) == 0 {
		t.Errorf("no blocked hotspots")
	}
}

// TestHandoffChain checks the three-lock chain of testdata/handoff:
// withdraw waits for the vault lock, held by transfer, which waits for the
// ledger lock, held by reconcile, which waits for the audit lock, held by
// auditor.
func TestHandoffChain(t *testing.T) {
	res := analyzeFile(t, tracePath("handoff"), Options{})
	type hop struct {
		fn       string
		line     int
		role     string
		released int
	}
	want := []hop{
		{"main.withdraw", testutil.MarkerLine(t, "testdata/handoff/main.go", "chain-waiter"), RoleWaits, testutil.MarkerLine(t, "testdata/handoff/main.go", "chain-middle-unlock")},
		{"main.transfer", testutil.MarkerLine(t, "testdata/handoff/main.go", "chain-middle"), RoleWaits, testutil.MarkerLine(t, "testdata/handoff/main.go", "chain-last-unlock")},
		{"main.reconcile", testutil.MarkerLine(t, "testdata/handoff/main.go", "chain-last-wait"), RoleWaits, testutil.MarkerLine(t, "testdata/handoff/main.go", "chain-holder")},
		{"main.auditor", testutil.MarkerLine(t, "testdata/handoff/main.go", "chain-holder"), RoleHolds, 0},
	}
	var found *contention.Chain
	for i, c := range res.Chains {
		if len(c.Links) != len(want) {
			continue
		}
		ok := true
		for j, l := range c.Links {
			w := want[j]
			rel := 0
			if l.ReleasedAt != nil {
				rel = l.ReleasedAt.Line
			}
			if l.Function != w.fn || l.Line != w.line || l.Role != w.role || rel != w.released || l.Reason != "sync" {
				ok = false
				break
			}
		}
		if ok {
			found = &res.Chains[i]
			break
		}
	}
	if found == nil {
		var b strings.Builder
		for _, c := range res.Chains {
			fmt.Fprintf(&b, "  %d waits, %d ns:", c.Count, c.WaitNs)
			for _, l := range c.Links {
				fmt.Fprintf(&b, " %s:%d(%s)", l.Function, l.Line, l.Role)
			}
			b.WriteString("\n")
		}
		t.Fatalf("no chain %v; chains:\n%s", want, b.String())
	}
	if !found.Lock || found.Count <= 0 || found.WaitNs <= 0 {
		t.Errorf("chain %+v: want Lock, Count > 0, WaitNs > 0", *found)
	}
	if !strings.HasSuffix(found.Links[0].File, "handoff/main.go") || found.Links[0].Primitive != "sync.(*Mutex).Lock" {
		t.Errorf("first link %+v: want handoff/main.go in sync.(*Mutex).Lock", found.Links[0])
	}
	if last := found.Links[len(found.Links)-1]; last.Primitive != "sync.(*Mutex).Unlock" {
		t.Errorf("last link %+v: want the holder's sync.(*Mutex).Unlock", last)
	}
}

// TestQueueIsOneEdge checks that eight depositors queueing on one mutex
// (testdata/ledger) make one edge with a count, not a chain of repeats.
func TestQueueIsOneEdge(t *testing.T) {
	res := analyzeFile(t, tracePath("ledger"), Options{MaxChains: 1 << 20})
	hotWrite := testutil.MarkerLine(t, "testdata/ledger/main.go", "hot-write")
	unlock := testutil.MarkerLine(t, "testdata/ledger/main.go", "hot-unlock")
	lock := sourceLine(t, "ledger", "balMu.Lock() in deposit", func(s string) bool {
		return strings.TrimSpace(s) == "balMu.Lock()"
	})
	if lock >= hotWrite {
		t.Fatalf("deposit's balMu.Lock at %d is not before the hot write at %d", lock, hotWrite)
	}
	var queue []Edge
	for _, e := range res.Edges {
		if e.Blocked.Function == "main.deposit" && e.Blocked.Line == lock {
			queue = append(queue, e)
		}
	}
	if len(queue) != 1 {
		t.Fatalf("got %d edges blocked at deposit:%d, want 1: %+v", len(queue), lock, queue)
	}
	e := queue[0]
	if e.Unblocker.Function != "main.deposit" || e.Unblocker.Line != unlock || e.Primitive != contention.PrimMutex {
		t.Errorf("edge %+v: want released at deposit:%d on a sync.Mutex", e, unlock)
	}
	if e.Count < 100 {
		t.Errorf("edge count %d: a 1.5 s queue of 8 depositors should wait hundreds of times", e.Count)
	}
	var single bool
	for _, c := range res.Chains {
		seen := map[int]bool{}
		for _, l := range c.Links {
			if l.Role != RoleWaits {
				continue
			}
			if seen[l.Line] && l.Function == "main.deposit" {
				t.Errorf("chain repeats deposit:%d: %+v", l.Line, c.Links)
			}
			seen[l.Line] = true
		}
		if len(c.Links) == 2 && c.Links[0].Line == lock && c.Links[1].Line == unlock {
			single = true
			if c.Count < 100 {
				t.Errorf("queue chain count %d, want hundreds", c.Count)
			}
		}
	}
	if !single {
		t.Errorf("no chain deposit:%d -> deposit:%d", lock, unlock)
	}
	if top := res.Chains[0]; !top.Lock || top.Links[0].Line != lock {
		t.Errorf("top chain %+v: want the deposit queue first", top)
	}
}

// TestInvariants checks what must hold on any trace.
func TestInvariants(t *testing.T) {
	for _, name := range traceNames {
		t.Run(name, func(t *testing.T) {
			res := analyzeFile(t, tracePath(name), Options{MaxChains: 1 << 20})
			checkInvariants(t, res, 6)
			if res.Truncated || res.Generations < 1 || res.Events <= 0 || res.DurationNs <= 0 {
				t.Errorf("Truncated=%v Generations=%d Events=%d DurationNs=%d", res.Truncated, res.Generations, res.Events, res.DurationNs)
			}
		})
	}
}

func checkInvariants(t testing.TB, res Result, maxDepth int) {
	t.Helper()
	if res.TotalSyncWaitNs < 0 || res.LockWaitNs < 0 || res.LockWaitNs > res.TotalSyncWaitNs || res.Waits < 0 || res.OpenWaits < 0 {
		t.Errorf("totals: %d sync, %d lock, %d waits, %d open", res.TotalSyncWaitNs, res.LockWaitNs, res.Waits, res.OpenWaits)
	}
	var blocked, edges int64
	var open int
	for _, h := range res.Hotspots {
		if h.DelayNs <= 0 || h.Count <= 0 || h.CumDelayNs < h.DelayNs || h.Share < 0 || h.Share > 1 {
			t.Errorf("hotspot %+v: want DelayNs > 0, Count > 0, CumDelayNs >= DelayNs, 0 <= Share <= 1", h)
		}
		if h.OpenWaits < 0 || h.StillWaitingNs < 0 || h.StillWaitingNs > h.DelayNs || int64(h.OpenWaits) > h.Count ||
			(h.OpenWaits > 0) != (h.StillWaitingNs > 0) || (h.OpenWaits > 0 && (!h.Lock || h.Kind != contention.KindTraceBlocked)) {
			t.Errorf("hotspot %+v: want 0 <= StillWaitingNs <= DelayNs, OpenWaits <= Count, open waits on blocked lock lines only", h)
		}
		open += h.OpenWaits
		if h.Kind != contention.KindTraceBlocked && h.Kind != contention.KindTraceBlocks {
			t.Errorf("hotspot kind %q", h.Kind)
		}
		if h.Lock != contention.IsLockPrimitive(h.Primitive) {
			t.Errorf("hotspot %+v: Lock does not match Primitive", h)
		}
		if h.Kind == contention.KindTraceBlocked {
			blocked += h.DelayNs
		}
	}
	for _, e := range res.Edges {
		if e.WaitNs <= 0 || e.Count <= 0 {
			t.Errorf("edge %+v: want WaitNs > 0, Count > 0", e)
		}
		edges += e.WaitNs
	}
	// Open lock waits are charged to their hotspots, and to nothing else.
	if blocked-res.OpenLockWaitNs > res.TotalSyncWaitNs || edges != blocked-res.OpenLockWaitNs {
		t.Errorf("blocked hotspots %d ns (%d in open waits), edges %d ns, total %d ns: want edges == blocked-open <= total", blocked, res.OpenLockWaitNs, edges, res.TotalSyncWaitNs)
	}
	if int64(open) > res.OpenWaits || (open > 0) != (res.OpenLockWaitNs > 0) {
		t.Errorf("hotspots hold %d open waits, %d ns; the result has %d open waits", open, res.OpenLockWaitNs, res.OpenWaits)
	}
	var chains int64
	for _, c := range res.Chains {
		if c.WaitNs <= 0 || c.Count <= 0 || len(c.Links) < 2 || len(c.Links) > maxDepth+1 {
			t.Errorf("chain %+v: want WaitNs > 0, Count > 0, 2..%d links", c, maxDepth+1)
		}
		for i, l := range c.Links {
			last := i == len(c.Links)-1
			if last == (l.Role == RoleWaits) {
				t.Errorf("chain %+v: link %d has role %q", c, i, l.Role)
			}
		}
		chains += c.WaitNs
	}
	if chains != edges {
		// Every wait with a user frame is counted in exactly one chain.
		t.Errorf("chains hold %d ns, edges %d ns", chains, edges)
	}
}

// TestDepthCap checks that MaxDepth bounds the chains.
func TestDepthCap(t *testing.T) {
	res := analyzeFile(t, tracePath("handoff"), Options{MaxDepth: 2, MaxChains: 1 << 20})
	checkInvariants(t, res, 2)
}

// TestTruncated cuts a trace inside its last generation: the complete
// generations are kept and the result says Truncated.
func TestTruncated(t *testing.T) {
	data, err := os.ReadFile(tracePath("handoff"))
	if err != nil {
		t.Fatal(err)
	}
	full, err := Analyze(context.Background(), bytes.NewReader(data), Options{Name: "handoff.trace"})
	if err != nil {
		t.Fatal(err)
	}
	if full.Generations < 3 {
		t.Fatalf("handoff.trace has %d generations; the test needs 3 or more", full.Generations)
	}
	cut := data[:len(data)*3/4]
	res, err := Analyze(context.Background(), bytes.NewReader(cut), Options{Name: "cut.trace", MaxChains: 1 << 20})
	if err != nil {
		t.Fatalf("truncated trace: %v", err)
	}
	if !res.Truncated {
		t.Errorf("Truncated = false for a trace cut at %d of %d bytes", len(cut), len(data))
	}
	if res.Generations < 1 || res.Generations >= full.Generations || res.Waits <= 0 || res.Waits >= full.Waits {
		t.Errorf("cut trace: %d generations, %d waits; full: %d generations, %d waits", res.Generations, res.Waits, full.Generations, full.Waits)
	}
	if len(res.Notes) == 0 || !strings.Contains(strings.Join(res.Notes, "\n"), "cut.trace") {
		t.Errorf("notes %q: want one naming cut.trace", res.Notes)
	}
	checkInvariants(t, res, 6)
}

// TestBadInput checks that what is not a usable trace gets a clear error
// naming the input.
func TestBadInput(t *testing.T) {
	handoff, err := os.ReadFile(tracePath("handoff"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty input"},
		{"text", []byte("hello, this is not a trace at all\n"), "not a Go execution trace"},
		{"pprof", mustGzip(t, []byte("garbage")), "not a Go execution trace"},
		{"go1.21", append([]byte("go 1.21 trace\x00\x00\x00"), bytes.Repeat([]byte{0}, 64)...), "Go 1.21"},
		{"go1.5", append([]byte("go 1.5 trace\x00\x00\x00\x00"), bytes.Repeat([]byte{0}, 64)...), "Go 1.5"},
		{"future", append([]byte("go 1.99 trace\x00\x00\x00"), bytes.Repeat([]byte{0}, 64)...), "unsupported"},
		{"header only", handoff[:16], "not a readable trace"},
		{"first batch cut", handoff[:200], "not a readable trace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Analyze(context.Background(), bytes.NewReader(tt.data), Options{Name: "bad-" + tt.name})
			if err == nil {
				t.Fatalf("no error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "bad-"+tt.name) {
				t.Errorf("error %q: want it to contain %q and the input's name", err, tt.want)
			}
		})
	}
}

func mustGzip(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	// A gzip header is what a pprof profile starts with.
	buf.Write([]byte{0x1f, 0x8b, 0x08, 0x00})
	buf.Write(b)
	return buf.Bytes()
}

// FuzzAnalyze feeds hostile bytes: no panic may escape, and any result must
// keep the invariants. The seed corpus in testdata/fuzz/FuzzAnalyze is
// x/exp/trace's own FuzzReader corpus; the recorded handoff trace and a cut
// of it are added here.
func FuzzAnalyze(f *testing.F) {
	if data, err := os.ReadFile(tracePath("handoff")); err == nil {
		f.Add(data)
		f.Add(data[:len(data)/2])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Analyze(context.Background(), bytes.NewReader(data), Options{Name: "fuzz", MaxChains: 1 << 20})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: ") {
				t.Errorf("error %q does not name the input", err)
			}
			return
		}
		checkInvariants(t, res, 6)
	})
}

// TestRLockBlockProfile checks, on a trace and a block profile recorded in
// the same run of testdata/rwcache, why the two disagree on RLock only: the
// writer's Lock agrees in time and count, while RLock has more (re-parked)
// waits in the trace and more delay in the block profile, which counts each
// RLock once from its first park to its last wake-up (see rlockNote).
func TestRLockBlockProfile(t *testing.T) {
	res := analyzeFile(t, tracePath("rwcache"), Options{})
	f, err := os.Open(filepath.Join("..", "..", "testdata", "traces", "rwcache.block"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	blockDelay, blockCount := map[string]int64{}, map[string]int64{}
	for _, s := range p.Sample {
	frames:
		for _, l := range s.Location {
			for _, ln := range l.Line {
				if chargeable(ln.Function.Name, ln.Function.Filename) {
					k := fmt.Sprintf("%s:%d", ln.Function.Name, ln.Line)
					blockCount[k] += s.Value[0]
					blockDelay[k] += s.Value[1]
					break frames
				}
			}
		}
	}
	var rlock, lock *contention.Hotspot
	for i, h := range res.Hotspots {
		if h.Kind != contention.KindTraceBlocked || h.Primitive != contention.PrimRWMutex {
			continue
		}
		switch h.Method {
		case "RLock":
			rlock = &res.Hotspots[i]
		case "Lock":
			lock = &res.Hotspots[i]
		}
	}
	if rlock == nil || lock == nil {
		t.Fatalf("rwcache trace: RLock hotspot %v, Lock hotspot %v", rlock, lock)
	}
	key := func(h *contention.Hotspot) string { return fmt.Sprintf("%s:%d", h.Function, h.Line) }
	lk, rk := key(lock), key(rlock)
	if d, c := blockDelay[lk], blockCount[lk]; c != lock.Count || d < lock.DelayNs*95/100 || d > lock.DelayNs*105/100 {
		t.Errorf("Lock at %s: block profile %d ns in %d, trace %d ns in %d: want the same count and delay within 5%%", lk, d, c, lock.DelayNs, lock.Count)
	}
	if d, c := blockDelay[rk], blockCount[rk]; c >= rlock.Count || d <= rlock.DelayNs*3/2 {
		t.Errorf("RLock at %s: block profile %d ns in %d, trace %d ns in %d: want fewer RLocks and more delay in the block profile", rk, d, c, rlock.DelayNs, rlock.Count)
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "RLock") {
		t.Errorf("notes %q: want the RLock note", res.Notes)
	}
}

// chargeable is the analyser's frame rule, for reading the real tools'
// profiles the same way: a frame of the user's code or a dependency's.
func chargeable(fn, file string) bool {
	return usercode.Rules{}.Class(fn, file).Chargeable()
}
