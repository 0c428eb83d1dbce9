package tracechain

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/exp/trace"
)

// With the reader on a goroutine of its own, Analyze gives exactly what it
// gives reading alone: the same result, every field, or the same error,
// on every recorded and generated trace and their cuts (through the reader
// per generation and through one reader over the whole trace), and on the
// hostile inputs of the fuzz corpus. Run it with -cpu 1,2,4 and -race.
func TestPipelinedSameResult(t *testing.T) {
	opts := Options{Name: "t", MaxChains: 1 << 20}
	same := func(name string, serial, piped Result, serr, perr error) {
		t.Helper()
		if (serr == nil) != (perr == nil) || (serr != nil && serr.Error() != perr.Error()) {
			t.Errorf("%s: read alone: %v; pipelined: %v", name, serr, perr)
			return
		}
		if !reflect.DeepEqual(serial, piped) {
			t.Errorf("%s: read alone and pipelined differ:\n%s\n%s", name, summary(serial), summary(piped))
		}
	}
	inputs := generationInputs(t)
	for _, in := range inputs {
		serial, serr := analyze(context.Background(), bytes.NewReader(in.data), opts, false)
		piped, perr := analyze(context.Background(), bytes.NewReader(in.data), opts, true)
		same(in.name, serial, piped, serr, perr)

		whole := func(pipelined bool) (Result, error) {
			tr, err := trace.NewReader(bytes.NewReader(in.data))
			if err != nil {
				t.Fatal(err)
			}
			return analyzeEventsWith(context.Background(), tr, opts, pipelined)
		}
		serial, serr = whole(false)
		piped, perr = whole(true)
		same(in.name+", one reader", serial, piped, serr, perr)
	}
	// Hostile inputs: errors, and panics inside the reader turned into
	// errors, must read the same.
	for _, in := range fuzzCorpus(t) {
		serial, serr := analyze(context.Background(), bytes.NewReader(in.data), opts, false)
		piped, perr := analyze(context.Background(), bytes.NewReader(in.data), opts, true)
		same(in.name, serial, piped, serr, perr)
	}
	if n := pipeGoroutines(); n != 0 {
		t.Errorf("%d pipeline goroutines still running after Analyze returned", n)
	}
}

// fuzzCorpus reads the inputs of FuzzAnalyze's corpus in testdata.
func fuzzCorpus(t *testing.T) []traceInput {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", "FuzzAnalyze")
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("%s: no corpus", dir)
	}
	var ins []traceInput
	for _, f := range files {
		ins = append(ins, traceInput{f.Name(), fuzzCorpusBytes(t, filepath.Join(dir, f.Name()))})
	}
	return ins
}

// fuzzCorpusBytes reads the one []byte of a "go test fuzz v1" file.
func fuzzCorpusBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
		t.Fatalf("%s: not a one-[]byte fuzz corpus file", path)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}

// pipeGoroutines counts the goroutines running pipeEvents.read, once
// they have had time to return. stop waits for read's deferred close of
// exited, which runs while read is still on its goroutine's stack: a count
// taken at once can see a goroutine in its last instructions (CI saw 1 so).
// A goroutine that stop did not end is still there after a second.
func pipeGoroutines() int {
	deadline := time.Now().Add(time.Second)
	for {
		n := countPipeGoroutines()
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(time.Millisecond)
	}
}

func countPipeGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "tracechain.(*pipeEvents).read(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// panicAt hands out the events of a real trace and panics at the at-th.
type panicAt struct {
	r  eventReader
	at int
	n  int
}

func (p *panicAt) ReadEvent() (trace.Event, error) {
	if p.n++; p.n == p.at {
		panic("reader broke at event " + strconv.Itoa(p.at))
	}
	return p.r.ReadEvent()
}

// A reader that panics and a cancel: the panic reaches the caller's
// goroutine as it does reading alone (Analyze turns it into an error), the
// reading goroutine reads no event past a cancel but the one it was
// reading, and none is left running.
func TestPipelinedStops(t *testing.T) {
	data, err := os.ReadFile(tracePath("handoff"))
	if err != nil {
		t.Fatal(err)
	}
	for _, pipelined := range []bool{false, true} {
		tr, err := trace.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		got := func() (v any) {
			defer func() { v = recover() }()
			analyzeEventsWith(context.Background(), &panicAt{r: tr, at: 3000}, Options{}, pipelined)
			return nil
		}()
		if got != "reader broke at event 3000" {
			t.Errorf("pipelined=%v: panic %v, want the reader's", pipelined, got)
		}
	}

	tr, err := trace.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	evs := &cancelAfterEvents{r: tr, at: 5000, cancel: cancel}
	res, err := analyzeEventsWith(ctx, evs, Options{Name: "handoff"}, true)
	if !errors.Is(err, context.Canceled) || res.Events != 0 {
		t.Errorf("cancelled after %d events: %v, %d events, want an error wrapping context.Canceled and no result", evs.at, err, res.Events)
	}
	if evs.after > 1 {
		t.Errorf("%d events were read after the cancel, want at most 1", evs.after)
	}
	if n := pipeGoroutines(); n != 0 {
		t.Errorf("%d pipeline goroutines still running after the analysis returned", n)
	}
}

// blockingEvents hands out the events of r, but its first read waits
// until release is closed.
type blockingEvents struct {
	r        eventReader
	entered  chan struct{} // closed when the first read begins
	release  chan struct{}
	reads    atomic.Int64
	inRead   atomic.Bool
	returned atomic.Bool // set by the test once stop has returned
	late     atomic.Bool // a read began after stop returned
}

func (b *blockingEvents) ReadEvent() (trace.Event, error) {
	if b.returned.Load() {
		b.late.Store(true)
	}
	b.inRead.Store(true)
	defer b.inRead.Store(false)
	if b.reads.Add(1) == 1 {
		close(b.entered)
		<-b.release
	}
	return b.r.ReadEvent()
}

// stop waits for a read in progress (a network stream may hold it), and
// no read begins once stop has returned: the caller's reader is the
// caller's again.
func TestPipelineStopWaitsForTheRead(t *testing.T) {
	data, err := os.ReadFile(tracePath("handoff"))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := trace.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	src := &blockingEvents{r: tr, entered: make(chan struct{}), release: make(chan struct{})}
	p := newPipeEvents(context.Background(), src)
	<-src.entered
	stopped := make(chan struct{})
	go func() {
		p.stop()
		src.returned.Store(true)
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("stop returned while a read was in progress")
	case <-time.After(100 * time.Millisecond):
	}
	close(src.release)
	<-stopped
	if src.inRead.Load() || src.late.Load() {
		t.Errorf("the reader was read after stop returned (in a read %v, a read begun after %v)", src.inRead.Load(), src.late.Load())
	}
	if n := src.reads.Load(); n != 1 {
		t.Errorf("%d reads; stop came during the first, want no other", n)
	}
}

// afterSync records, whenever the reader is asked for the event after a
// generation's closing Sync, whether the caller had read every event
// before it.
type afterSync struct {
	r         eventReader
	handed    int64
	consumed  *atomic.Int64
	lastSync  bool
	syncs     int
	undrained []int64 // events handed over and not yet read, at each boundary
}

func (a *afterSync) ReadEvent() (trace.Event, error) {
	if a.lastSync {
		a.syncs++
		if d := a.handed - a.consumed.Load(); d != 0 {
			a.undrained = append(a.undrained, d)
		}
	}
	ev, err := a.r.ReadEvent()
	if err == nil {
		a.handed++
		a.lastSync = ev.Kind() == trace.EventSync
	}
	return ev, err
}

// At each generation's end the reader waits until the caller has read
// every event handed over before it decodes the next generation, so that
// two generations are never alive at once through the chunks.
func TestPipelineDrainsAtGenerationEnd(t *testing.T) {
	data, err := os.ReadFile(tracePath("handoff"))
	if err != nil {
		t.Fatal(err)
	}
	var consumed atomic.Int64
	src := &afterSync{r: &genEvents{hdr: data[:headerLen], br: bufio.NewReader(bytes.NewReader(data[headerLen:]))}, consumed: &consumed}
	p := newPipeEvents(context.Background(), src)
	for {
		_, err := p.ReadEvent()
		if err != nil {
			break
		}
		consumed.Add(1)
	}
	// src's fields belong to the reading goroutine until stop has waited
	// for it.
	p.stop()
	if src.syncs < 3 {
		t.Fatalf("%d generation ends; handoff.trace has 3 or more", src.syncs)
	}
	if len(src.undrained) > 0 {
		t.Errorf("at %d of %d generation ends the next generation was read with events still queued: %v", len(src.undrained), src.syncs, src.undrained)
	}
}
