package tracechain

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/exp/trace"
)

// analyzeBoth analyses data with one trace.Reader over the whole trace and
// with one reader per generation (genEvents), as Analyze does for Go 1.26.
func analyzeBoth(t *testing.T, data []byte) (whole, split Result, wholeErr, splitErr error) {
	t.Helper()
	opts := Options{Name: "t", MaxChains: 1 << 20}
	tr, err := trace.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	whole, wholeErr = analyzeEvents(context.Background(), tr, opts)
	g := &genEvents{hdr: data[:headerLen], br: bufio.NewReader(bytes.NewReader(data[headerLen:]))}
	split, splitErr = analyzeEvents(context.Background(), g, opts)
	return whole, split, wholeErr, splitErr
}

// Reading a Go 1.26 trace one generation at a time gives exactly what one
// reader over the whole trace gives: every hotspot, edge, chain, note and
// count, on the recorded traces, on a generated one of several
// generations, and on a trace cut inside a generation.
func TestGenerationsReadAlone(t *testing.T) {
	ins := generationInputs(t)
	most := 0
	for _, in := range ins {
		if !strings.HasPrefix(string(in.data), "go 1.26 trace") {
			t.Fatalf("%s: not a Go 1.26 trace: %q", in.name, in.data[:16])
		}
		whole, split, werr, serr := analyzeBoth(t, in.data)
		if (werr == nil) != (serr == nil) {
			t.Errorf("%s: one reader: %v; a reader per generation: %v", in.name, werr, serr)
			continue
		}
		most = max(most, whole.Generations)
		if !reflect.DeepEqual(whole, split) {
			t.Errorf("%s: one reader and a reader per generation differ:\n%s\n%s", in.name, summary(whole), summary(split))
		}
	}
	if most < 3 {
		t.Errorf("the inputs have at most %d generations; the test needs one of 3 or more", most)
	}
}

// summary is one line on a result, for a failure that says two differ.
func summary(r Result) string {
	return fmt.Sprintf("%d generations, %d events, %d waits, %d ns, %d hotspots, %d edges, %d chains, truncated %v, %d notes",
		r.Generations, r.Events, r.Waits, r.TotalSyncWaitNs, len(r.Hotspots), len(r.Edges), len(r.Chains), r.Truncated, len(r.Notes))
}

type traceInput struct {
	name string
	data []byte
}

// generationInputs are the Go 1.26 traces the generation tests read: the
// recorded ones, a generated contended one, the generated crossing one,
// and cuts of them.
func generationInputs(t *testing.T) []traceInput {
	t.Helper()
	type input = traceInput
	var ins []input
	for _, n := range traceNames {
		data, err := os.ReadFile(tracePath(n))
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, input{n, data})
		// Cut at many places: inside batch headers, payloads and the
		// end-of-generation marker alike.
		for i := 1; i < 24; i++ {
			at := headerLen + (len(data)-headerLen)*i/24 + i%5
			ins = append(ins, input{fmt.Sprintf("%s cut at %d", n, at), data[:at]})
		}
	}
	path := filepath.Join(t.TempDir(), "contended.trace")
	if err := recordContendedTrace(path, 1<<20); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ins = append(ins, input{"contended", data})
	// Waits that cross generation boundaries, whole and cut.
	crossing := crossingTraceData(t)
	ins = append(ins, input{"crossing", crossing})
	for i := 1; i < 8; i++ {
		at := headerLen + (len(crossing)-headerLen)*i/8 + i%3
		ins = append(ins, input{fmt.Sprintf("crossing cut at %d", at), crossing[:at]})
	}
	return ins
}

// recordCrossingTrace traces this process for d while waits cross the
// runtime's generation boundaries (it starts a new generation about every
// second): a goroutine holds one lock for 700 ms at a time, another waits
// for it while holding a second lock, on which three more queue. Every
// long wait has a fair chance to begin in one generation and end in the
// next, the chain's holder in one and its waiter's end in another. A
// lighter contended lock runs alongside, for many short waits.
func recordCrossingTrace(path string, d time.Duration) error {
	return traceSelf(path, crossingWorkload, func(*os.File) { time.Sleep(d) })
}

func crossingWorkload(ctx context.Context, wg *sync.WaitGroup) {
	var outer, inner sync.Mutex
	loop := func(f func()) { loopUntil(ctx, wg, f) }
	// One call a line: a chain names lines.
	loop(func() {
		inner.Lock()
		time.Sleep(700 * time.Millisecond)
		inner.Unlock()
	})
	loop(func() {
		outer.Lock()
		inner.Lock()
		spin(100)
		inner.Unlock()
		outer.Unlock()
	})
	for i := 0; i < 3; i++ {
		loop(func() {
			outer.Lock()
			spin(1000)
			outer.Unlock()
			time.Sleep(time.Millisecond)
		})
	}
	// A light version of the contended workload, so that the generations
	// hold many short waits too without growing large.
	var light sync.Mutex
	for i := 0; i < 4; i++ {
		loop(func() { light.Lock(); spin(20000); light.Unlock() })
	}
}

// crossingWaits counts the sync waits of a Go 1.26 trace that begin in one
// generation and end in a later one, and those of them on a sync.Mutex,
// reading the trace as one trace.Reader does (a wait that crosses shows
// as Waiting->Waiting at the boundary).
func crossingWaits(t *testing.T, data []byte) (all, locks int) {
	t.Helper()
	tr, err := trace.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	type open struct {
		gen  int
		lock bool
	}
	waits := map[trace.GoID]open{}
	gen := 0
	for {
		ev, err := tr.ReadEvent()
		if err != nil {
			break
		}
		if ev.Kind() == trace.EventSync {
			gen++
			continue
		}
		if ev.Kind() != trace.EventStateTransition {
			continue
		}
		st := ev.StateTransition()
		if st.Resource.Kind != trace.ResourceGoroutine {
			continue
		}
		id := st.Resource.Goroutine()
		from, to := st.Goroutine()
		switch {
		case from != trace.GoWaiting && to == trace.GoWaiting && SyncReason(st.Reason):
			lock := false
			for f := range st.Stack.Frames() {
				lock = lock || f.Func == "sync.(*Mutex).Lock"
			}
			waits[id] = open{gen, lock}
		case from == trace.GoWaiting && to != trace.GoWaiting:
			if w, ok := waits[id]; ok && w.gen != gen {
				all++
				if w.lock {
					locks++
				}
			}
			delete(waits, id)
		}
	}
	return all, locks
}

// The generated trace for the generation tests: waits on two mutexes that
// cross generation boundaries, and a chain across them.
func TestCrossingTrace(t *testing.T) {
	data := crossingTraceData(t)
	all, locks := crossingWaits(t, data)
	if locks < 3 {
		t.Errorf("%d waits cross a generation boundary, %d of them on a mutex; want 3 or more on a mutex", all, locks)
	}
	res, err := Analyze(context.Background(), bytes.NewReader(data), Options{Name: "crossing", MaxChains: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if res.Generations < 3 {
		t.Errorf("%d generations; want 3 or more", res.Generations)
	}
	checkInvariants(t, res, 6)
	// outer's waiters were released by the goroutine that waited for
	// inner while it held outer: a chain of two locks.
	two := false
	for _, c := range res.Chains {
		if c.Lock && len(c.Links) >= 3 && c.Links[0].Line != c.Links[1].Line {
			two = true
		}
	}
	if !two {
		t.Errorf("no chain through two locks among %d chains", len(res.Chains))
	}
	t.Logf("%d generations, %d waits, %d cross a boundary (%d on a mutex), %d chains", res.Generations, res.Waits, all, locks, len(res.Chains))
}

var crossing struct {
	once sync.Once
	data []byte
	err  error
}

// crossingTraceData records the crossing trace once per test binary.
func crossingTraceData(t *testing.T) []byte {
	t.Helper()
	crossing.once.Do(func() {
		path := filepath.Join(os.TempDir(), fmt.Sprintf("lockscope-crossing-%d.trace", os.Getpid()))
		defer os.Remove(path)
		if crossing.err = recordCrossingTrace(path, 3500*time.Millisecond); crossing.err == nil {
			crossing.data, crossing.err = os.ReadFile(path)
		}
	})
	if crossing.err != nil {
		t.Fatal(crossing.err)
	}
	return crossing.data
}
