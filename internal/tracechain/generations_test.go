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
	"testing"

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
	type input struct {
		name string
		data []byte
	}
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
			t.Errorf("%s: one reader and a reader per generation differ:\n%d generations, %d events, %d waits, %d hotspots, %d chains, truncated %v\n%d generations, %d events, %d waits, %d hotspots, %d chains, truncated %v",
				in.name, whole.Generations, whole.Events, whole.Waits, len(whole.Hotspots), len(whole.Chains), whole.Truncated,
				split.Generations, split.Events, split.Waits, len(split.Hotspots), len(split.Chains), split.Truncated)
		}
	}
	if most < 3 {
		t.Errorf("the inputs have at most %d generations; the test needs one of 3 or more", most)
	}
}
