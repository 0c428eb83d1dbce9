package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/crashrace"
	"github.com/lockscope/lockscope/internal/testutil"
	"github.com/lockscope/lockscope/internal/usercode"
)

// spin contends on mu from four goroutines for d; the Unlock line is the
// one the mutex profile charges.
func spin(d time.Duration) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				mu.Lock()
				for j := 0; j < 3000; j++ {
					_ = j * j
				}
				mu.Unlock() // lockscope:report-spin-unlock
			}
		}()
	}
	wg.Wait()
}

// lockscopeAgentSpin stands for a function of the injected agent: its name
// carries the agent's prefix, so its contention must never be a hotspot.
func lockscopeAgentSpin(d time.Duration) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				mu.Lock()
				for j := 0; j < 3000; j++ {
					_ = j * j
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// profileOf returns the process's current profile of kind, gzipped.
func profileOf(t *testing.T, kind string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := pprof.Lookup(kind).WriteTo(&buf, 0); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var profileOnce sync.Once
var mutexData, blockData, traceData []byte

// realInputs records, once, a mutex and a block profile and a trace of
// real contention in this process.
func realInputs(t *testing.T) (mutex, block, tr []byte) {
	profileOnce.Do(func() {
		runtime.SetMutexProfileFraction(1)
		runtime.SetBlockProfileRate(1)
		var tb bytes.Buffer
		if err := trace.Start(&tb); err != nil {
			t.Fatal(err)
		}
		spin(300 * time.Millisecond)
		lockscopeAgentSpin(200 * time.Millisecond)
		trace.Stop()
		runtime.SetMutexProfileFraction(0)
		runtime.SetBlockProfileRate(0)
		mutexData, blockData, traceData = profileOf(t, "mutex"), profileOf(t, "block"), tb.Bytes()
	})
	return mutexData, blockData, traceData
}

func TestBuilderProfilesAndTrace(t *testing.T) {
	ctx := context.Background()
	mutex, block, tr := realInputs(t)
	self, _ := filepath.Abs("builder_test.go")
	unlock := testutil.MarkerLine(t, self, "report-spin-unlock")

	b := NewBuilder()
	if err := b.AddProfile(ctx, "", mutex, contention.Source{Origin: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := b.AddProfile(ctx, contention.KindBlock, block, contention.Source{Origin: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := b.AddTrace(ctx, bytes.NewReader(tr), contention.Source{Origin: "test"}); err != nil {
		t.Fatal(err)
	}
	r := b.Build()
	var top *contention.Hotspot
	for i, h := range r.Hotspots {
		if h.Kind == contention.KindMutex && h.Lock {
			top = &r.Hotspots[i]
			break
		}
	}
	if top == nil || top.File != self || top.Line != unlock {
		t.Fatalf("top mutex hotspot %+v, want %s:%d", top, self, unlock)
	}
	for _, h := range append(r.Hotspots, r.RuntimeInternal...) {
		if strings.Contains(h.Function, "lockscopeAgent") {
			t.Errorf("the agent's own contention is a hotspot: %s %s:%d", h.Kind, h.Function, h.Line)
		}
	}
	for _, c := range r.Chains {
		for _, l := range c.Links {
			if strings.Contains(l.Function, "lockscopeAgent") {
				t.Errorf("a chain goes through the agent: %+v", c)
			}
		}
	}
	if len(r.Chains) == 0 {
		t.Errorf("no chain from a trace of real contention")
	}
	// Invariants: shares per kind and side (lock waits, other waits) sum
	// to at most 1, none negative.
	sum := map[string]float64{}
	for _, h := range r.Hotspots {
		if h.Share < 0 || h.DelayNs < 0 {
			t.Errorf("negative share or delay: %+v", h)
		}
		sum[fmt.Sprintf("%s (lock %v)", h.Kind, h.Lock)] += h.Share
	}
	for k, s := range sum {
		if s > 1.0001 {
			t.Errorf("shares of %s add up to %.3f", k, s)
		}
	}
	var kinds []string
	for _, s := range r.Sources {
		kinds = append(kinds, s.Kind)
		if s.Time.IsZero() {
			t.Errorf("source %s has no time", s.Kind)
		}
	}
	if strings.Join(kinds, ",") != "mutex,block,trace" {
		t.Errorf("sources %v, want mutex,block,trace", kinds)
	}

	// The same profile added twice sums on the same line; Clear drops it.
	b.AddProfile(ctx, contention.KindMutex, mutex, contention.Source{Origin: "again"})
	r2 := b.Build()
	for _, h := range r2.Hotspots {
		if h.Kind == top.Kind && h.File == top.File && h.Line == top.Line && h.DelayNs != 2*top.DelayNs {
			t.Errorf("merged delay %d, want 2x %d", h.DelayNs, top.DelayNs)
		}
	}
	b.Clear(contention.KindMutex)
	r3 := b.Build()
	for _, h := range r3.Hotspots {
		if h.Kind == contention.KindMutex {
			t.Errorf("Clear(mutex) left %s:%d", h.File, h.Line)
		}
	}
	for _, s := range r3.Sources {
		if s.Kind == contention.KindMutex {
			t.Errorf("Clear(mutex) left its source")
		}
	}
}

func TestBuilderBadInputsNameTheSource(t *testing.T) {
	ctx := context.Background()
	b := NewBuilder()
	err := b.AddProfile(ctx, contention.KindMutex, []byte("nope"), contention.Source{Path: "/x/bad.pb.gz"})
	if err == nil || !strings.Contains(err.Error(), "/x/bad.pb.gz") {
		t.Errorf("bad profile: %v, want an error naming the file", err)
	}
	err = b.AddTrace(ctx, strings.NewReader("go 1.26 trace\x00\x00\x00garbage"), contention.Source{URL: "http://127.0.0.1:1/debug/pprof/trace"})
	if err == nil || !strings.Contains(err.Error(), "http://127.0.0.1:1/debug/pprof/trace") {
		t.Errorf("bad trace: %v, want an error naming the URL", err)
	}
	_, block, _ := realInputs(t)
	err = b.AddProfile(ctx, contention.KindMutex, block, contention.Source{Path: "block-as-mutex.pb.gz"})
	if err == nil || !strings.Contains(err.Error(), "block-as-mutex.pb.gz") {
		t.Errorf("block profile given as mutex: %v", err)
	}
	// Nothing bad got in.
	r := b.Build()
	if len(r.Hotspots) != 0 || len(r.Sources) != 0 {
		t.Errorf("failed inputs left %d hotspots and %d sources", len(r.Hotspots), len(r.Sources))
	}
}

// An empty report carries [] for every list, never null.
func TestBuilderEmptyJSON(t *testing.T) {
	data, err := json.Marshal(NewBuilder().Build())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"hotspots", "chains", "mapWrites", "breakpoints", "races", "sources"} {
		if !strings.Contains(string(data), `"`+k+`":[]`) {
			t.Errorf("%s is not [] in %s", k, data)
		}
	}
}

// Crash and race text recorded from the fixtures become report.crash and
// report.races.
func TestBuilderCrashAndRaceText(t *testing.T) {
	root, _ := filepath.Abs("../..")
	crash, err := os.ReadFile(filepath.Join(root, "testdata", "crashrace", "crashmap.txt"))
	if err != nil {
		t.Fatal(err)
	}
	race, err := os.ReadFile(filepath.Join(root, "testdata", "crashrace", "racymap-race.txt"))
	if err != nil {
		t.Fatal(err)
	}
	b := NewBuilder()
	if b.AddCrashText("just output\n", contention.Source{}) {
		t.Errorf("plain output read as a crash")
	}
	if !b.AddCrashText(string(crash), contention.Source{Origin: "output"}) {
		t.Fatalf("crashmap.txt not read as a crash")
	}
	races := crashrace.ParseRaces(string(race))
	b.AddRaces(races, contention.Source{Origin: "output"})
	if n := len(races); n == 0 {
		t.Errorf("no race read from racymap-race.txt")
	}
	r := b.Build()
	if r.Crash == nil || r.Crash.Reason != "concurrent map writes" || !strings.HasSuffix(r.Crash.File, "crashmap/main.go") {
		t.Errorf("crash %+v", r.Crash)
	}
	if len(r.Races) == 0 || r.Races[0].Access.Line == 0 {
		t.Errorf("races %+v", r.Races)
	}
}

// Build may run while inputs arrive from other goroutines (the session
// captures while the client asks for the report).
func TestBuilderConcurrent(t *testing.T) {
	ctx := context.Background()
	mutex, _, _ := realInputs(t)
	b := NewBuilder()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() { defer wg.Done(); b.AddProfile(ctx, contention.KindMutex, mutex, contention.Source{}) }()
		go func() { defer wg.Done(); b.Build() }()
	}
	wg.Wait()
	if n := len(b.Build().Sources); n != 4 {
		t.Errorf("%d sources after 4 concurrent adds", n)
	}
}

// A live refresh and an on-demand capture of the same kind may run at
// once, each swapping in a fresh cumulative profile. Whatever their
// interleaving, the report holds one profile of the kind, never two
// (before Replace, Clear then Add let both adds land after both clears).
func TestBuilderReplaceIsAtomic(t *testing.T) {
	ctx := context.Background()
	mutex, _, _ := realInputs(t)
	once := NewBuilder()
	if err := once.AddProfile(ctx, contention.KindMutex, mutex, contention.Source{}); err != nil {
		t.Fatal(err)
	}
	want := totalDelay(once.Build(), contention.KindMutex)
	if want == 0 {
		t.Fatal("the profile has no mutex delay")
	}
	b := NewBuilder()
	part, err := b.AnalyzeProfile(ctx, contention.KindMutex, mutex, contention.Source{Origin: contention.OriginAgent})
	if err != nil {
		t.Fatal(err)
	}
	b.Replace(part)
	// Two writers swap the kind as fast as they can while a reader
	// checks; the analysis is done once, so that the swaps overlap often.
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 3000; i++ {
				b.Replace(part)
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	for bad := 0; ; {
		select {
		case <-done:
			if r := b.Build(); len(r.Sources) != 1 || totalDelay(r, contention.KindMutex) != want {
				t.Errorf("after the replaces: %d sources, delay %d; want 1 source, delay %d", len(r.Sources), totalDelay(r, contention.KindMutex), want)
			}
			return
		default:
		}
		if got := totalDelay(b.Build(), contention.KindMutex); got != want && bad == 0 {
			bad++
			t.Errorf("mutex delay %d while replacing, want %d (one profile)", got, want)
		}
	}
}

// A cancelled analysis adds nothing.
func TestBuilderCancelledAnalysisAddsNothing(t *testing.T) {
	mutex, _, tr := realInputs(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := NewBuilder()
	if err := b.AddProfile(ctx, contention.KindMutex, mutex, contention.Source{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled profile: err %v, want context.Canceled", err)
	}
	if err := b.AddTrace(ctx, bytes.NewReader(tr), contention.Source{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled trace: err %v, want context.Canceled", err)
	}
	if r := b.Build(); len(r.Hotspots) != 0 || len(r.Sources) != 0 || len(r.Chains) != 0 {
		t.Errorf("a cancelled analysis changed the report: %d hotspots, %d sources", len(r.Hotspots), len(r.Sources))
	}
}

func totalDelay(r *contention.Report, kind string) int64 {
	var sum int64
	for _, h := range r.Hotspots {
		if h.Kind == kind {
			sum += h.DelayNs
		}
	}
	return sum
}

func TestChargeable(t *testing.T) {
	// The builder's filters use the one rule of internal/usercode: with
	// the program's module known, a dot-less module is the user's code.
	code := usercode.Rules{Modules: []usercode.Module{{Path: "ledgerdemo", Dir: "/src/ledgerdemo"}}, GOROOT: "/usr/local/go"}
	for _, tc := range []struct {
		fn, file string
		want     bool
	}{
		{"main.deposit", "/src/ledgerdemo/main.go", true},
		{"ledgerdemo/store.(*S).Add", "/src/ledgerdemo/store/s.go", true},
		{"example.com/m/store.(*S).Add", "/root/go/pkg/mod/example.com/m@v1.0.0/store/s.go", true},
		{"compress/flate.NewWriter", "/usr/local/go/src/compress/flate/deflate.go", false},
		{"runtime.chansend1", "/usr/local/go/src/runtime/chan.go", false},
		{"net/http.(*conn).serve", "/usr/local/go/src/net/http/server.go", false},
		{"main.lockscopeAgentSaveProfiles", "/src/ledgerdemo/zz_lockscope_agent.go", true},
	} {
		if got := chargeable(code, tc.fn, tc.file); got != tc.want {
			t.Errorf("chargeable(%s, %s) = %v, want %v", tc.fn, tc.file, got, tc.want)
		}
	}
	if !isAgentFrame("/x/zz_lockscope_agent.go", "main.f") || !isAgentFrame("", "main.lockscopeAgentAtExit.func1") || isAgentFrame("/x/main.go", "main.lockscope") {
		t.Errorf("isAgentFrame misjudges")
	}
}
