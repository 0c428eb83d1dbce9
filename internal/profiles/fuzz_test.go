package profiles

import "testing"

// FuzzAnalyzeBytes feeds mutated profiles to the fast decoder: it must
// return a result or an error, never panic (AnalyzeData's recover would
// turn a panic into an error, so the fuzzer checks the decoder with the
// recover bypassed), and a result must keep the invariants.
func FuzzAnalyzeBytes(f *testing.F) {
	for _, rc := range recorded {
		b := readProfile(f, rc.prog, rc.kind)
		f.Add(b)
		f.Add(gunzipAll(f, b))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// First without AnalyzeData's recover, so a panic fails the fuzzer.
		if raw, err := decompress(data, "fuzz", Options{}); err == nil {
			if a, err := decodeFast(raw); err == nil {
				_, _ = a.finish("")
			}
		}
		r, err := AnalyzeBytes(data, "fuzz", "")
		if err != nil {
			return
		}
		var share float64
		for _, h := range r.Hotspots {
			if h.DelayNs < 0 || h.CumDelayNs < h.DelayNs || h.Count < 0 {
				t.Fatalf("bad hotspot %+v", h)
			}
			share += h.Share
		}
		if share > 1+1e-9 || r.TotalDelayNs < 0 {
			t.Fatalf("shares %v total %d", share, r.TotalDelayNs)
		}
	})
}
