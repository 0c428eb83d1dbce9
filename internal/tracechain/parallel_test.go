package tracechain

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// resultDiff names the first part where two results differ.
func resultDiff(a, b Result) string {
	if len(a.Hotspots) != len(b.Hotspots) {
		return fmt.Sprintf("%d hotspots against %d", len(a.Hotspots), len(b.Hotspots))
	}
	for i := range a.Hotspots {
		if !reflect.DeepEqual(a.Hotspots[i], b.Hotspots[i]) {
			return fmt.Sprintf("hotspot %d:\n%+v\n%+v", i, a.Hotspots[i], b.Hotspots[i])
		}
	}
	if len(a.Edges) != len(b.Edges) {
		return fmt.Sprintf("%d edges against %d", len(a.Edges), len(b.Edges))
	}
	for i := range a.Edges {
		if !reflect.DeepEqual(a.Edges[i], b.Edges[i]) {
			return fmt.Sprintf("edge %d:\n%+v\n%+v", i, a.Edges[i], b.Edges[i])
		}
	}
	if len(a.Chains) != len(b.Chains) {
		return fmt.Sprintf("%d chains against %d", len(a.Chains), len(b.Chains))
	}
	for i := range a.Chains {
		if !reflect.DeepEqual(a.Chains[i], b.Chains[i]) {
			return fmt.Sprintf("chain %d:\n%+v\n%+v", i, a.Chains[i], b.Chains[i])
		}
	}
	a.Hotspots, a.Edges, a.Chains = nil, nil, nil
	b.Hotspots, b.Edges, b.Chains = nil, nil, nil
	return fmt.Sprintf("%+v\n%+v", a, b)
}

// Analysing the generations apart and merging them gives exactly the
// sequential result, every field, on the recorded traces, a generated
// contended one, the generated one whose lock waits and chains cross
// generation boundaries, and their cuts, with one, two and three workers;
// and the merges did stitch waits across boundaries, continue chains
// through them and move times of overlapping generations. None is
// handed back to the sequential analysis but the cuts with no complete
// generation, for it to report.
func TestParallelSameResult(t *testing.T) {
	opts := Options{Name: "t", MaxChains: 1 << 20}
	var total parallelStats
	ins := generationInputs(t)
	// Generations that overlap in time, as a busy program's do (up to
	// 56 ms on the benchmark's trace, but seldom in a short one): the
	// crossing trace with its third generation moved back in time to
	// begin 4% of the second's length (about 40 ms) before the second's
	// end. The merge moves the times of its first waits.
	ins = append(ins, traceInput{"crossing, overlapping", overlapGeneration(t, crossingTraceData(t), 2, 0.04)})
	for _, in := range ins {
		want, werr := analyze(context.Background(), bytes.NewReader(in.data), opts, false)
		for _, workers := range []int{1, 2, 3} {
			var st parallelStats
			got, ok, err := analyzeParallel(context.Background(), bytes.NewReader(in.data), 0, int64(len(in.data)), opts, workers, &st)
			if err != nil {
				t.Errorf("%s, %d workers: %v", in.name, workers, err)
				continue
			}
			if !ok {
				if werr == nil {
					// Only a trace with no complete generation, which
					// the sequential analysis reports, goes back.
					t.Errorf("%s, %d workers: the parallel analysis handed the trace back", in.name, workers)
				}
				continue
			}
			if werr != nil {
				t.Errorf("%s, %d workers: the sequential analysis failed (%v), the parallel one did not", in.name, workers, werr)
				continue
			}
			if !reflect.DeepEqual(want, got) {
				t.Errorf("%s, %d workers: sequential and parallel differ: %s", in.name, workers, resultDiff(want, got))
			}
			total.generations += st.generations
			total.replayed += st.replayed
			total.ended += st.ended
			total.chained += st.chained
			total.moved += st.moved
		}
		// Analyze itself, on more than one core: the parallel analysis
		// or, where it gives up, the sequential one.
		analyzeAsSequential(t, in, opts)
	}
	t.Logf("%d generations merged, %d transitions replayed, %d of them ended a wait begun before, %d chains went on through one, %d waits moved in time", total.generations, total.replayed, total.ended, total.chained, total.moved)
	if total.ended == 0 || total.chained == 0 || total.moved == 0 {
		t.Errorf("the inputs did not exercise the stitching: %+v", total)
	}

	// Overlapping by more than the window: handed back, and Analyze
	// gives the sequential result.
	data := overlapGeneration(t, crossingTraceData(t), 2, 0.5)
	if _, ok, err := analyzeParallel(context.Background(), bytes.NewReader(data), 0, int64(len(data)), opts, 2, nil); ok || err != nil {
		t.Errorf("a generation overlapping the last by half its length: ok %v, %v; want it handed back", ok, err)
	}
	analyzeAsSequential(t, traceInput{"crossing, overlapping by half", data}, opts)
}

// batchHeader is one batch header of a Go 1.26 trace: where its timestamp
// field lies, and the timestamp.
type batchHeader struct {
	gen          int // the generation's index in the trace
	tsAt, tsEnd  int // the timestamp field's bytes
	ts           uint64
	payloadStart int
	size         int
}

// batchHeaders lists the batch headers of a whole Go 1.26 trace.
func batchHeaders(t *testing.T, data []byte) []batchHeader {
	t.Helper()
	var hs []batchHeader
	gen := 0
	uvarint := func(at int) (uint64, int) {
		v, n := binary.Uvarint(data[at:])
		if n <= 0 {
			t.Fatalf("bad uvarint at %d", at)
		}
		return v, at + n
	}
	for off := headerLen; off < len(data); {
		switch data[off] {
		case evEndOfGeneration:
			gen++
			off++
			continue
		case evExperimentalBatch:
			off += 2
		case evEventBatch:
			off++
		default:
			t.Fatalf("byte %d at %d starts no batch", data[off], off)
		}
		var h batchHeader
		h.gen = gen
		_, off = uvarint(off) // generation
		_, off = uvarint(off) // M
		h.tsAt = off
		h.ts, off = uvarint(off)
		h.tsEnd = off
		var size uint64
		size, off = uvarint(off)
		h.payloadStart, h.size = off, int(size)
		hs = append(hs, h)
		off += int(size)
	}
	return hs
}

// overlapGeneration moves generation g of a Go 1.26 trace back in time so
// that it begins frac of generation g-1's length before g-1's last batch:
// every batch header's timestamp in it goes down by the same amount (the
// events' times are deltas from it), so each generation reads as a valid
// one of its own, and the two overlap as the runtime's do.
func overlapGeneration(t *testing.T, data []byte, g int, frac float64) []byte {
	t.Helper()
	hs := batchHeaders(t, data)
	lo := map[int]uint64{}
	hi := map[int]uint64{}
	for _, h := range hs {
		if l, ok := lo[h.gen]; !ok || h.ts < l {
			lo[h.gen] = h.ts
		}
		hi[h.gen] = max(hi[h.gen], h.ts)
	}
	if _, ok := lo[g]; !ok {
		t.Fatalf("the trace has no generation %d", g)
	}
	target := hi[g-1] - uint64(frac*float64(hi[g-1]-lo[g-1]))
	if target >= lo[g] {
		t.Fatalf("generation %d already begins at %d, before %d", g, lo[g], target)
	}
	shift := lo[g] - target
	out := append([]byte(nil), data[:headerLen]...)
	prev := headerLen
	for _, h := range hs {
		out = append(out, data[prev:h.tsAt]...)
		ts := h.ts
		if h.gen == g {
			ts -= shift
		}
		out = binary.AppendUvarint(out, ts)
		prev = h.tsEnd
	}
	return append(out, data[prev:]...)
}

// Hostile inputs read from an io.ReaderAt: Analyze on more than one core
// gives the sequential analysis' result or error, panics in the reader
// included.
func TestParallelBadInput(t *testing.T) {
	for _, in := range fuzzCorpus(t) {
		analyzeAsSequential(t, in, Options{Name: "t", MaxChains: 1 << 20})
	}
}

// analyzeAsSequential checks that Analyze on two cores gives what the
// sequential analysis gives: the same result, or the same error.
func analyzeAsSequential(t *testing.T, in traceInput, opts Options) {
	t.Helper()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	want, werr := analyze(context.Background(), bytes.NewReader(in.data), opts, false)
	got, err := Analyze(context.Background(), bytes.NewReader(in.data), opts)
	if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
		t.Errorf("%s: Analyze: %v; sequential: %v", in.name, err, werr)
	} else if !reflect.DeepEqual(want, got) {
		t.Errorf("%s: Analyze and the sequential analysis differ: %s", in.name, resultDiff(want, got))
	}
}

// cancelReaderAt cancels its context once at bytes have been read from
// it, and counts the reads begun after that.
type cancelReaderAt struct {
	*bytes.Reader
	at     int64
	cancel context.CancelFunc
	mu     sync.Mutex
	n      int64
	late   int
}

func (c *cancelReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.mu.Lock()
	if c.n >= c.at {
		c.late++
	}
	c.mu.Unlock()
	n, err := c.Reader.ReadAt(p, off)
	c.mu.Lock()
	if c.n += int64(n); c.n >= c.at {
		c.cancel()
	}
	c.mu.Unlock()
	return n, err
}

// Cancelled half-way through its input, the per-generation analysis
// returns an error that wraps context.Canceled and no result, begins no
// read after the cancel, and leaves no worker running.
func TestParallelCancelled(t *testing.T) {
	data := crossingTraceData(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := &cancelReaderAt{Reader: bytes.NewReader(data), at: int64(len(data) / 2), cancel: cancel}
	res, ok, err := analyzeParallel(ctx, in, 0, int64(len(data)), Options{Name: "crossing"}, 2, nil)
	if !errors.Is(err, context.Canceled) || ok || res.Events != 0 {
		t.Fatalf("cancelled half-way: ok %v, %d events, %v; want an error wrapping context.Canceled and no result", ok, res.Events, err)
	}
	if in.late != 0 {
		t.Errorf("%d reads begun after the cancel", in.late)
	}
	buf := make([]byte, 1<<20)
	if n := runtime.Stack(buf, true); strings.Contains(string(buf[:n]), "tracechain.readGen(") {
		t.Errorf("a worker is still running after the analysis returned:\n%s", buf[:n])
	}
}
