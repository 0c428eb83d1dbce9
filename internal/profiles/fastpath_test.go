package profiles

import (
	"bytes"
	"context"
	"reflect"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
)

// TestFastPathMatchesPprofParser: AnalyzeBytes (its own protobuf decoder)
// and Parse+Analyze (pprof's parser) give identical results, on every
// recorded profile and on a large synthetic one, gzipped and not.
func TestFastPathMatchesPprofParser(t *testing.T) {
	type input struct {
		name string
		data []byte
		kind string
	}
	var inputs []input
	for _, rc := range recorded {
		inputs = append(inputs, input{rc.prog + "." + rc.kind, readProfile(t, rc.prog, rc.kind), rc.kind})
	}
	var buf bytes.Buffer
	if err := synthProfile(5000, 2).Write(&buf); err != nil {
		t.Fatal(err)
	}
	inputs = append(inputs, input{"synthetic", buf.Bytes(), contention.KindMutex})
	inputs = append(inputs, input{"synthetic-raw", gunzipAll(t, buf.Bytes()), ""})
	for _, in := range inputs {
		fast, err := AnalyzeBytes(context.Background(), in.data, in.name, in.kind)
		if err != nil {
			t.Fatalf("%s: fast path: %v", in.name, err)
		}
		p, err := Parse(in.data, in.name, Options{})
		if err != nil {
			t.Fatal(err)
		}
		slow, err := Analyze(context.Background(), p, in.kind)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Errorf("%s: fast path and pprof's parser disagree:\nfast %+v\nslow %+v", in.name, fast, slow)
		}
		// The result is already in contention.SortHotspots's order.
		for _, hs := range [][]contention.Hotspot{fast.Hotspots, fast.RuntimeInternal, fast.Excluded} {
			sorted := append(make([]contention.Hotspot, 0, len(hs)), hs...)
			contention.SortHotspots(sorted)
			if !reflect.DeepEqual(sorted, hs) {
				t.Errorf("%s: hotspots are not in contention.SortHotspots order", in.name)
			}
		}
	}
}
