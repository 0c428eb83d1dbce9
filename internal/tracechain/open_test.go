package tracechain

import (
	"bytes"
	"context"
	"path/filepath"
	"runtime"
	rtrace "runtime/trace"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
)

const openTestFile = "internal/tracechain/open_test.go"

// counter is a count guarded by its lock.
type counter struct {
	mu sync.Mutex
	n  int
}

// stall holds c's lock until release is closed: a lock held across the
// whole trace window.
func stall(c *counter, held chan<- struct{}, release <-chan struct{}) {
	c.mu.Lock()
	close(held)
	<-release // lockscope:open-hold
	c.n++
	c.mu.Unlock()
}

func waitBefore(c *counter) {
	c.mu.Lock() // lockscope:open-before
	c.n++
	c.mu.Unlock()
}

func waitDuring(c *counter) {
	c.mu.Lock() // lockscope:open-during
	c.n++
	c.mu.Unlock()
}

// waitParked waits until a goroutine whose stack passes through fn is
// parked with the given wait reason (as in a goroutine dump, e.g.
// "sync.Mutex.Lock").
func waitParked(t *testing.T, fn, reason string) {
	t.Helper()
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.Stack(buf, true)
		for _, g := range strings.Split(string(buf[:n]), "\n\n") {
			if strings.Contains(g, "["+reason) && strings.Contains(g, fn+"(") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no goroutine parked in %s within 10s", fn)
		}
		runtime.Gosched()
	}
}

// A lock held for the whole trace window: one goroutine waits for it since
// before the trace began, one begins to wait inside the window, and
// neither wait ends before the trace does. Both are charged up to the end
// of the trace, as open waits, instead of being dropped; the holder's own
// channel wait (an idle goroutine's kind of wait) is not.
func TestOpenLockWaitsAtTheEnd(t *testing.T) {
	var c counter
	held, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(release)
	wg.Add(3)
	go func() { defer wg.Done(); stall(&c, held, release) }()
	<-held
	go func() { defer wg.Done(); waitBefore(&c) }()
	waitParked(t, "tracechain.waitBefore", "sync.Mutex.Lock")

	var buf bytes.Buffer
	if err := rtrace.Start(&buf); err != nil {
		t.Fatal(err)
	}
	go func() { defer wg.Done(); waitDuring(&c) }()
	waitParked(t, "tracechain.waitDuring", "sync.Mutex.Lock")
	// The window's length, not a synchronisation: both waits are already
	// parked, and stay so until release.
	const window = 100 * time.Millisecond
	time.Sleep(window)
	rtrace.Stop()

	res, err := Analyze(context.Background(), &buf, Options{Name: "open.trace"})
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, res, 6)
	file, err := filepath.Abs("open_test.go")
	if err != nil {
		t.Fatal(err)
	}
	find := func(marker string) *contention.Hotspot {
		line := testutil.MarkerLine(t, openTestFile, marker)
		for i, h := range res.Hotspots {
			if h.Kind == contention.KindTraceBlocked && h.File == file && h.Line == line {
				return &res.Hotspots[i]
			}
		}
		return nil
	}
	during := find("open-during")
	if during == nil {
		t.Fatalf("no trace-blocked hotspot at open-during; hotspots: %+v", res.Hotspots)
	}
	if !during.Lock || during.Primitive != contention.PrimMutex || during.Method != "Lock" {
		t.Errorf("open-during: got %s.%s (lock %v), want sync.Mutex.Lock", during.Primitive, during.Method, during.Lock)
	}
	// The wait began before the window's sleep and the trace ended after
	// it: it lasted at least the window.
	if during.OpenWaits != 1 || during.Count != 1 || during.StillWaitingNs < int64(window) || during.DelayNs != during.StillWaitingNs {
		t.Errorf("open-during: %d open of %d waits, still waiting after %v, delay %v; want 1 of 1, at least %v, delay equal",
			during.OpenWaits, during.Count, time.Duration(during.StillWaitingNs), time.Duration(during.DelayNs), window)
	}
	before := find("open-before")
	if before == nil {
		t.Fatalf("no trace-blocked hotspot at open-before; hotspots: %+v", res.Hotspots)
	}
	// Waiting since before the trace: charged the whole trace, a lower
	// bound of its wait.
	if before.OpenWaits != 1 || before.Count != 1 || before.StillWaitingNs != res.DurationNs || before.DelayNs != res.DurationNs {
		t.Errorf("open-before: %d open of %d waits, still waiting after %v, delay %v; want 1 of 1, the whole trace (%v)",
			before.OpenWaits, before.Count, time.Duration(before.StillWaitingNs), time.Duration(before.DelayNs), time.Duration(res.DurationNs))
	}
	if res.OpenLockWaitNs != before.DelayNs+during.DelayNs {
		t.Errorf("OpenLockWaitNs = %d, want the two open waits' %d", res.OpenLockWaitNs, before.DelayNs+during.DelayNs)
	}
	if h := find("open-hold"); h != nil {
		t.Errorf("the holder's open channel wait is charged: %+v", h)
	}
	if res.OpenWaits < 3 {
		t.Errorf("OpenWaits = %d, want at least the two lock waits and the holder's channel wait", res.OpenWaits)
	}
	line := testutil.MarkerLine(t, openTestFile, "open-during")
	want := "open_test.go:" + strconv.Itoa(line) + " (github.com/lockscope/lockscope/internal/tracechain.waitDuring): still waiting after"
	found := false
	for _, n := range res.Notes {
		found = found || strings.Contains(n, want)
	}
	if !found {
		t.Errorf("no note says %q; notes: %q", want, res.Notes)
	}
}
