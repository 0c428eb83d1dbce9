package session

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/capture"
	"github.com/lockscope/lockscope/internal/daptest"
	"github.com/lockscope/lockscope/internal/dapx"
)

// A lockscope attribute out of range is refused with 7021 naming the field
// and its range, before anything is built or started.
func TestLaunchRefusesOutOfRangeAttribute(t *testing.T) {
	r := start(t)
	for _, v := range []float64{1e-9, 1e10, 1e-10} {
		resp := r.c.CallErr(t, "launch", map[string]any{"mode": "debug", "program": t.TempDir(),
			"lockscope": map[string]any{"refreshSeconds": v}})
		if resp.ErrorID() != dapx.ErrLaunchRewrite || !strings.Contains(string(resp.Raw), "lockscope.refreshSeconds") ||
			!strings.Contains(string(resp.Raw), "[0.5, 3600]") {
			t.Errorf("refreshSeconds %g answered %s, want 7021 naming the field and [0.5, 3600]", v, resp.Raw)
		}
	}
}

// The trace bound the adapter accepts is the one the agent keeps.
func TestTraceBoundMatchesAgent(t *testing.T) {
	if dapx.MaxTraceSeconds != capture.MaxTraceSeconds {
		t.Fatalf("dapx.MaxTraceSeconds %d, capture.MaxTraceSeconds %d", dapx.MaxTraceSeconds, capture.MaxTraceSeconds)
	}
}

// A panic in one refresh is said in the Debug Console and the refresh goes
// on. Before, a recovered panic ended the loop with a log line only, and
// the report silently stopped changing.
func TestRefreshPanicIsSaidAndRefreshGoesOn(t *testing.T) {
	r := start(t)
	var calls atomic.Int32
	again := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.s.ext.every(ctx, time.Millisecond, func(context.Context) {
			switch calls.Add(1) {
			case 1:
				panic("broken invariant")
			case 2:
				close(again)
			}
		})
	}()
	r.c.WaitFor(t, "the panic in the Debug Console", 30*time.Second, func(m daptest.Message) bool {
		return m.Type == "event" && m.Event == "output" && strings.Contains(string(m.Body), "broken invariant") &&
			strings.Contains(string(m.Body), "goes on")
	})
	select {
	case <-again:
	case <-time.After(30 * time.Second):
		t.Fatal("the refresh stopped after a panic")
	}
	cancel()
	<-done
}

// The runtime's trace goroutines are hidden after the user's own goroutine
// filters, which stay as they were; a filter that is not a string fails the
// launch with a clear message.
func TestHideTraceGoroutinesKeepsTheUsersFilters(t *testing.T) {
	args := map[string]json.RawMessage{"goroutineFilters": json.RawMessage(`"-with user"`)}
	if err := hideTraceGoroutines(args); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := json.Unmarshal(args["goroutineFilters"], &got); err != nil {
		t.Fatal(err)
	}
	want := "-with user -without startloc runtime.traceStartReadCPU. -without startloc runtime.(*traceAdvancerState).start."
	if got != want {
		t.Errorf("goroutineFilters %q, want %q", got, want)
	}
	if err := hideTraceGoroutines(map[string]json.RawMessage{"goroutineFilters": json.RawMessage(`3`)}); err == nil || !strings.Contains(err.Error(), "goroutineFilters") {
		t.Errorf("a number as goroutineFilters: %v, want an error naming the attribute", err)
	}
}
