package tracechain

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
)

// recordTrace builds testdata/<prog> (a module of its own) and runs it
// with -trace, and returns the trace's path. Programs that need a
// dependency get it through the module proxy, pinned by their go.sum.
func recordTrace(t *testing.T, prog string, args ...string) string {
	t.Helper()
	bin := testutil.BuildTestdata(t, prog)
	trace := bin + ".trace"
	testutil.RunTestdata(t, bin, append([]string{"-trace", trace}, args...)...)
	return trace
}

// TestStdLibLockChargedToCaller: sixteen goroutines log through one
// log.Logger to a slow writer (testdata/logjam). The lock they wait on is
// inside the standard library; the wait is charged to the user's Printf
// line and names the library lock, and the totals agree with
// `go tool trace -pprof=sync`, which charges nearly all of it under
// log.(*Logger).output.
func TestStdLibLockChargedToCaller(t *testing.T) {
	path := recordTrace(t, "logjam")
	res := analyzeFile(t, path, Options{})
	wantDelay, wantCount, wantTotal := goToolTraceSync(t, path)
	compareWithGoToolTrace(t, res, wantDelay, wantCount, wantTotal)

	call := testutil.MarkerLine(t, "testdata/logjam/main.go", "log-call")
	// The line's largest wait: on a loaded machine the line also gets
	// small waits of another kind (a goroutine descheduled in
	// log.getBuffer's allocation, "other"), hotspots of their own.
	var h *contention.Hotspot
	for i := range res.Hotspots {
		if res.Hotspots[i].Kind == contention.KindTraceBlocked && res.Hotspots[i].Line == call && (h == nil || res.Hotspots[i].DelayNs > h.DelayNs) {
			h = &res.Hotspots[i]
		}
	}
	if h == nil {
		t.Fatalf("no trace-blocked hotspot on main.go:%d; hotspots: %+v", call, res.Hotspots)
	}
	if h.Function != "main.record" || !h.Lock || h.Via != "log.(*Logger).output → sync.Mutex.Lock" {
		t.Errorf("hotspot %s:%d %s lock=%v via %q: want main.record, a lock, via log.(*Logger).output → sync.Mutex.Lock", h.File, h.Line, h.Function, h.Lock, h.Via)
	}
	if h.CallSite != nil {
		t.Errorf("the user's own line got a call site %+v", h.CallSite)
	}
	// The real tool's view: the lock's wait lies under log.(*Logger).output.
	under, lock := syncUnder(t, path, "log.(*Logger).output")
	if lock <= 0 || under < lock*95/100 {
		t.Errorf("go tool trace: %d ns of sync.Mutex.Lock, %d ns under log.(*Logger).output; want nearly all", lock, under)
	}
	if h.DelayNs < under*95/100 {
		t.Errorf("hotspot %d ns; go tool trace has %d ns under log.(*Logger).output", h.DelayNs, under)
	}
	var chained bool
	for _, c := range res.Chains {
		chained = chained || c.Lock && c.Links[0].Line == call && c.Links[0].Via != ""
	}
	if !chained {
		t.Errorf("no lock chain from main.go:%d naming the library lock: %+v", call, res.Chains)
	}
}

// syncUnder runs `go tool trace -pprof=sync` and sums the delay of the
// samples that wait in sync.(*Mutex).Lock, and of those among them whose
// stack passes through fn.
func syncUnder(t *testing.T, path, fn string) (under, lock int64) {
	t.Helper()
	out, err := exec.Command("go", "tool", "trace", "-pprof=sync", path).Output()
	if err != nil {
		t.Fatalf("go tool trace -pprof=sync: %v", err)
	}
	p, err := profile.Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Sample {
		var inLock, inFn bool
		for _, l := range s.Location {
			for _, ln := range l.Line {
				inLock = inLock || ln.Function.Name == "sync.(*Mutex).Lock"
				inFn = inFn || ln.Function.Name == fn
			}
		}
		if inLock {
			lock += s.Value[1]
			if inFn {
				under += s.Value[1]
			}
		}
	}
	return under, lock
}

// TestDependencyLockAndQueue: eight handlers share one LRU cache of
// github.com/hashicorp/golang-lru/v2 (testdata/lrushop). The waits are
// charged to the library's lines, each with the main module's call site;
// and the goroutines queued on the cache's one lock are one link with a
// queue length, never a chain of hops through the same lock.
func TestDependencyLockAndQueue(t *testing.T) {
	path := recordTrace(t, "lrushop")
	res := analyzeFile(t, path, Options{MaxChains: 1 << 20})
	checkInvariants(t, res, 6)
	get := testutil.MarkerLine(t, "testdata/lrushop/main.go", "cache-get")
	add := testutil.MarkerLine(t, "testdata/lrushop/main.go", "cache-add")
	inLRU := func(file string) bool { return strings.Contains(file, "golang-lru/v2@v2.0.7/") }
	// The cache's lock is a sync.RWMutex; other waits in the library
	// (an allocation waiting for the GC) are on other things.
	cacheLockWait := func(l contention.Link) bool {
		return l.Role == RoleWaits && inLRU(l.File) && strings.HasPrefix(l.Primitive, "sync.(*RWMutex).")
	}
	var lruHotspots int
	for _, h := range res.Hotspots {
		if !h.Lock || !inLRU(h.File) {
			continue
		}
		lruHotspots++
		if h.CallSite == nil || !strings.HasSuffix(h.CallSite.File, "lrushop/main.go") || (h.CallSite.Line != get && h.CallSite.Line != add) {
			t.Errorf("hotspot %s:%d %s: call site %+v, want lrushop/main.go:%d or :%d", h.File, h.Line, h.Function, h.CallSite, get, add)
		}
	}
	if lruHotspots == 0 {
		t.Fatalf("no lock hotspot in golang-lru: %+v", res.Hotspots)
	}
	queued := false
	for _, c := range res.Chains {
		if !c.Lock {
			continue
		}
		for i, l := range c.Links {
			queued = queued || l.Queue > 1
			// Every lock wait in golang-lru is on the cache's one lock:
			// two successive waits there are a queue, not a chain.
			if i > 0 && cacheLockWait(l) && cacheLockWait(c.Links[i-1]) {
				t.Errorf("chain of hops through the cache's one lock: %s", chainText(c))
				break
			}
		}
	}
	if !queued {
		t.Errorf("no link with a queue on the cache's lock")
	}
}

func chainText(c contention.Chain) string {
	var hops []string
	for _, l := range c.Links {
		hops = append(hops, filepath.Base(l.File)+":"+strconv.Itoa(l.Line)+"("+l.Role+")")
	}
	return strings.Join(hops, " → ")
}

// TestLineNamedByItsLock: testdata/pipejam's writers share one io.Pipe.
// The first of them waits on the pipe's channel, holding its mutex; the
// others wait on that mutex, from the same line, thousands of times. The
// line is named by the lock, not by the kind of its first wait (a loaded
// machine once named logjam's Printf line after a goroutine that started
// the first GC from log.getBuffer and waited for the mark workers).
func TestLineNamedByItsLock(t *testing.T) {
	path := recordTrace(t, "pipejam")
	res := analyzeFile(t, path, Options{})
	line := testutil.MarkerLine(t, "testdata/pipejam/main.go", "pipe-write")
	var h *contention.Hotspot
	for i := range res.Hotspots {
		if res.Hotspots[i].Kind == contention.KindTraceBlocked && res.Hotspots[i].Line == line {
			h = &res.Hotspots[i]
		}
	}
	if h == nil {
		t.Fatalf("no trace-blocked hotspot on pipejam's main.go:%d; hotspots: %+v", line, res.Hotspots)
	}
	if !h.Lock || h.Via != "io.(*pipe).write → sync.Mutex.Lock" {
		t.Errorf("hotspot main.go:%d: lock=%v primitive %s via %q (%d waits): want the pipe's mutex, via io.(*pipe).write → sync.Mutex.Lock",
			h.Line, h.Lock, h.Primitive, h.Via, h.Count)
	}
	if len(h.Stacks) == 0 || len(h.Stacks[0]) < 2 || h.Stacks[0][0].Function != "main.send" {
		t.Errorf("hotspot main.go:%d: stacks %+v, want the writers' stack from main.send", h.Line, h.Stacks)
	}
}
