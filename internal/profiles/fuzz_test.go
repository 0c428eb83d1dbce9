package profiles

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/usercode"
)

// pprofSeeds adds a few of pprof's own test profiles (profile/testdata of
// the github.com/google/pprof this module uses), when the module cache has
// them: Go CPU, heap and thread profiles, and legacy C++ and Java
// contention formats, which the loader must refuse or read but never
// crash on. None is committed here: they are pprof's.
func pprofSeeds(f *testing.F) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/google/pprof").Output()
	if err != nil {
		f.Logf("no pprof module to seed from: %v", err)
		return
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "profile", "testdata")
	for _, name := range []string{"go.crc32.cpu", "go.godoc.thread", "gobench.cpu", "gobench.heap",
		"cppbench.contention", "java.contention"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			f.Add(b)
		}
	}
}

// checkResult fails on a result that breaks the model's invariants.
// Shares sum to at most 1 on each side: lock waits and other waits
// (contention.ComputeShares).
func checkResult(t *testing.T, r Result) {
	share := map[bool]float64{}
	for _, h := range r.Hotspots {
		if h.DelayNs < 0 || h.CumDelayNs < h.DelayNs || h.Count < 0 {
			t.Fatalf("bad hotspot %+v", h)
		}
		share[h.Lock] += h.Share
	}
	if share[true] > 1+1e-9 || share[false] > 1+1e-9 || r.TotalDelayNs < 0 {
		t.Fatalf("shares %v total %d", share, r.TotalDelayNs)
	}
}

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
	pprofSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		// First without AnalyzeData's recover, so a panic fails the fuzzer.
		if raw, err := decompress(data, "fuzz", Options{}); err == nil {
			if a, err := decodeFast(context.Background(), raw, usercode.Rules{}); err == nil {
				_, _ = a.finish("")
			}
		}
		r, err := AnalyzeBytes(context.Background(), data, "fuzz", "")
		if err != nil {
			return
		}
		checkResult(t, r)
	})
}

// FuzzParse is the loader's other path: Parse (gzip layers under the
// limits, then pprof's decoder), DetectKind and Analyze on whatever pprof
// accepts, which may be a profile the runtime never writes.
func FuzzParse(f *testing.F) {
	for _, rc := range recorded {
		f.Add(readProfile(f, rc.prog, rc.kind))
	}
	pprofSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data, "fuzz", Options{})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: ") {
				t.Errorf("error %q does not name the input", err)
			}
			return
		}
		kind, err := DetectKind(context.Background(), p)
		if err != nil {
			return
		}
		r, err := Analyze(context.Background(), p, kind)
		if err != nil {
			return
		}
		checkResult(t, r)
	})
}
