package profiles

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
)

// The tests below read the test process's own profiles, written by the
// runtime: the shapes are what a real program makes.

// condLoop: one goroutine waits on a sync.Cond while eight others queue on
// its lock to signal it. Each Wait unlocks the lock they queue on.
func condLoop(d time.Duration) {
	var mu sync.Mutex
	c := sync.NewCond(&mu)
	ready := false
	stop := time.Now().Add(d)
	done := make(chan struct{})
	go func() {
		defer close(done)
		mu.Lock()
		for time.Now().Before(stop) {
			for !ready && time.Now().Before(stop) {
				c.Wait() // lockscope:cond-wait
			}
			ready = false
		}
		mu.Unlock()
	}()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				mu.Lock()
				ready = true
				spin(2000)
				c.Signal()
				mu.Unlock()
			}
			c.Broadcast()
		}()
	}
	wg.Wait()
	mu.Lock()
	c.Broadcast()
	mu.Unlock()
	<-done
}

// ownProfile analyses the test process's own mutex or block profile, its
// kind given or ("") told from the stacks.
func ownProfile(t *testing.T, name, kind string) Result {
	t.Helper()
	var buf bytes.Buffer
	if err := pprof.Lookup(name).WriteTo(&buf, 0); err != nil {
		t.Fatal(err)
	}
	res, err := AnalyzeBytes(context.Background(), buf.Bytes(), name, kind)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// spun keeps spin's work from being optimised away; every caller holds a
// lock, so the writes do not race.
var spun int

// spin burns CPU without sleeping, so a lock is held while time passes.
func spin(n int) {
	s := 0
	for i := 0; i < n; i++ {
		s += i * i
	}
	spun += s
}

// TestCondWaitUnlockIsHolderSide: the Unlock inside sync.Cond.Wait is the
// holder side of the Cond's lock. It once voted for the waiter side, and
// every mutex profile of a net/http server (whose connections wait on a
// Cond) got the note "mixes holder-side and waiter-side stacks".
func TestCondWaitUnlockIsHolderSide(t *testing.T) {
	old := runtime.SetMutexProfileFraction(1)
	defer runtime.SetMutexProfileFraction(old)
	condLoop(300 * time.Millisecond)
	res := ownProfile(t, "mutex", "")
	if res.Kind != contention.KindMutex {
		t.Errorf("kind %q, want mutex", res.Kind)
	}
	for _, n := range res.Notes {
		if n.Code == NoteMixedKinds {
			t.Errorf("note %q on a plain mutex profile", n.Text)
		}
	}
	var wait *contention.Hotspot
	for i, h := range res.Hotspots {
		if h.Function == "github.com/lockscope/lockscope/internal/profiles.condLoop.func1" && h.Method == "Unlock" {
			wait = &res.Hotspots[i]
		}
	}
	if wait == nil {
		t.Fatalf("no holder-side hotspot at the Cond's Wait; hotspots: %+v", res.Hotspots)
	}
	if wait.Primitive != contention.PrimMutex || !wait.Lock {
		t.Errorf("Wait's hotspot %+v: want the sync.Mutex it unlocked, a lock", *wait)
	}
}

// TestIdleStdlibWaitsAreNotContention: net/http's connection goroutines
// wait in select for as long as a connection is idle. A wait with no frame
// of the user's, and on no lock, is neither contention nor the user's: it
// is in no list (it was once "runtime-internal contention").
func TestIdleStdlibWaitsAreNotContention(t *testing.T) {
	runtime.SetBlockProfileRate(1)
	defer runtime.SetBlockProfileRate(0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	client := srv.Client()
	for i := 0; i < 20; i++ {
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		time.Sleep(5 * time.Millisecond) // idle between requests, as a service is
	}
	client.CloseIdleConnections()
	srv.Close()
	res := ownProfile(t, "block", contention.KindBlock)
	for _, h := range res.RuntimeInternal {
		if !h.Lock && h.Primitive != PrimRuntime {
			t.Errorf("runtime-internal %s %s:%d %s.%s: an idle wait, not contention", h.Function, h.File, h.Line, h.Primitive, h.Method)
		}
	}
	for _, h := range res.Hotspots {
		if len(h.Stacks) > 0 && h.Function != "" && !h.Lock && stdOnly(h.Stacks[0]) {
			t.Errorf("hotspot %s:%d %s: the standard library's own idle wait", h.File, h.Line, h.Function)
		}
	}
}

// stdOnly reports whether a stack is the standard library's alone.
func stdOnly(st []contention.Frame) bool {
	for _, f := range st {
		if f.Function == "main" || len(f.Function) > 0 && !isStdlibName(f.Function) {
			return false
		}
	}
	return true
}

type slowSink struct{}

func (slowSink) Write(p []byte) (int, error) {
	spin(20000)
	return len(p), nil
}

func logBurst(l *log.Logger, w int) {
	for i := 0; i < 200; i++ {
		l.Printf("worker %d: %d", w, i) // the line charged
	}
}

// TestStdLibLockVia: eight goroutines log through one log.Logger. The
// block profile's waits in the Logger's lock are charged to the caller's
// line, which names the library lock.
func TestStdLibLockVia(t *testing.T) {
	runtime.SetBlockProfileRate(1)
	defer runtime.SetBlockProfileRate(0)
	l := log.New(slowSink{}, "", 0)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			logBurst(l, w)
		}()
	}
	wg.Wait()
	res := ownProfile(t, "block", contention.KindBlock)
	for _, h := range res.Hotspots {
		if h.Function == "github.com/lockscope/lockscope/internal/profiles.logBurst" && h.Lock {
			if h.Via != "log.(*Logger).output → sync.Mutex.Lock" || h.CallSite != nil {
				t.Errorf("hotspot %s:%d: via %q, call site %+v; want via log.(*Logger).output → sync.Mutex.Lock and no call site", h.File, h.Line, h.Via, h.CallSite)
			}
			return
		}
	}
	t.Fatalf("no lock hotspot in logBurst; hotspots: %+v", res.Hotspots)
}

// TestDependencyCallSite: testdata/lrushop's handlers queue on the lock of
// a golang-lru cache. The block profile's hotspots are the library's lock
// lines, each with the main module's line that called it.
func TestDependencyCallSite(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "lrushop")
	bin := testutil.BuildTestdata(t, "lrushop")
	prof := bin + ".block"
	testutil.RunTestdata(t, bin, "-d", "300ms", "-blockprofile", prof)
	data, err := os.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	res, err := AnalyzeBytes(context.Background(), data, prof, contention.KindBlock)
	if err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "main.go")
	calls := map[int]bool{testutil.MarkerLine(t, main, "cache-get"): true, testutil.MarkerLine(t, main, "cache-add"): true}
	n := 0
	for _, h := range res.Hotspots {
		if !h.Lock {
			continue
		}
		if h.File == main && h.CallSite == nil && h.Via != "" && !strings.Contains(h.Via, "golang-lru") {
			// A standard library's lock, charged to the user's line that
			// called into it: now and then fmt.Sprint's fmt.newPrinter
			// waits on a lock (seen in 2 of 6 runs under load). Real, and
			// not the cache's.
			t.Logf("a standard-library lock at %s:%d: %s", h.File, h.Line, h.Via)
			continue
		}
		n++
		if !strings.Contains(h.File, "golang-lru/v2@v2.0.7/") {
			t.Errorf("lock hotspot %s:%d outside the library", h.File, h.Line)
		}
		if h.CallSite == nil || h.CallSite.File != main || !calls[h.CallSite.Line] || h.CallSite.Function != "main.handle" {
			t.Errorf("hotspot %s:%d: call site %+v, want main.handle at a cache call in %s", h.File, h.Line, h.CallSite, main)
		}
	}
	if n == 0 {
		t.Fatalf("no lock hotspot; hotspots: %+v", res.Hotspots)
	}
}
