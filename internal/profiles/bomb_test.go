package profiles

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
	"github.com/lockscope/lockscope/internal/capture"
	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
)

// ratioBomb returns a gzipped mutex profile that inflates to about
// inflated bytes at a ratio below DefaultMaxRatio (about 79:1, as in the
// probe that found the gap): a real profile's header followed by many
// samples on its stacks, with a little noise in the values so that it does
// not compress like zeros. pprof's and lockscope's decoders both take it:
// repeated protobuf fields concatenate.
func ratioBomb(t testing.TB, base []byte, inflated int) []byte {
	t.Helper()
	// One record in noise changes stack or value: about 79:1 once gzipped.
	const noise = 72
	p, err := profile.ParseData(base)
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	if err := p.WriteUncompressed(&raw); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	// One MiB of records, repeated: deflate looks back 32 KiB only, so the
	// repeats compress no better than the block, and building is cheap.
	var block []byte
	s := p.Sample[0]
	for i := 0; len(block) < 1<<20; i++ {
		if i%noise == 0 {
			s = p.Sample[rng.Intn(len(p.Sample))]
		}
		// Sample (field 2): location_id (1, packed), value (2, packed).
		var ids, vals, body []byte
		for _, l := range s.Location {
			ids = binary.AppendUvarint(ids, l.ID)
		}
		body = append(body, 0x0a)
		body = binary.AppendUvarint(body, uint64(len(ids)))
		body = append(body, ids...)
		v := uint64(1000)
		if rng.Intn(noise) == 0 {
			v = uint64(rng.Intn(1 << 20))
		}
		vals = binary.AppendUvarint(binary.AppendUvarint(vals, 1), v)
		body = append(body, 0x12)
		body = binary.AppendUvarint(body, uint64(len(vals)))
		body = append(body, vals...)
		block = append(block, 0x12)
		block = binary.AppendUvarint(block, uint64(len(body)))
		block = append(block, body...)
	}
	// Gzip members concatenate, as the repeated fields do: compress the
	// header and the block once each, and repeat the block's member.
	member := func(b []byte) []byte {
		var out bytes.Buffer
		zw := gzip.NewWriter(&out)
		if _, err := zw.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	out := bytes.NewBuffer(member(raw.Bytes()))
	blockGz := member(block)
	for n := raw.Len(); n < inflated; n += len(block) {
		out.Write(blockGz)
	}
	return out.Bytes()
}

// A bomb at about 79:1 passes the ratio check (200:1); before the absolute
// bound was lowered from 256 MiB it inflated whole, and lockscope analyze
// peaked at 640 MB of RSS on one such file (BenchmarkBombPeakRSS). Now it
// is refused at DefaultMaxDecompressed, while a real profile of 65k
// samples (2.4 MB inflated) still loads under the defaults.
func TestRatioBombRefusedByDefault(t *testing.T) {
	bomb := ratioBomb(t, readProfile(t, "ledger", contention.KindMutex), 72<<20)
	if r := float64(72<<20) / float64(len(bomb)); r >= DefaultMaxRatio {
		t.Fatalf("the bomb compresses %.0f:1; it must pass the ratio check to test the bound", r)
	}
	if _, err := AnalyzeData(context.Background(), bomb, "bomb79", contention.KindMutex, Options{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("AnalyzeData of a 72 MiB bomb: %v, want %v", err, ErrTooLarge)
	}
	var real bytes.Buffer
	if err := synthProfile(benchSamples, 1).Write(&real); err != nil {
		t.Fatal(err)
	}
	if _, err := AnalyzeData(context.Background(), real.Bytes(), "synthetic", contention.KindMutex, Options{}); err != nil {
		t.Errorf("a real-sized profile (%d bytes gzipped) no longer loads: %v", real.Len(), err)
	}
}

// rssInputEnv names the file a child of BenchmarkBombPeakRSS analyzes, in
// a process of its own, so that its peak RSS is the input's alone.
const rssInputEnv = "LOCKSCOPE_RSS_INPUT"

// TestMain runs the benchmark's child instead of the tests when rssInputEnv
// is set: a helper that is not a test cannot be skipped by one.
func TestMain(m *testing.M) {
	if path := os.Getenv(rssInputEnv); path != "" {
		os.Exit(peakRSSChild(path))
	}
	os.Exit(m.Run())
}

// peakRSSChild takes the path lockscope analyze --mutex takes: read with
// the file caps, then the fast decoder under the default limits. It prints
// its own peak RSS in KiB on stdout (testutil.PeakRSSKB says why the
// parent cannot take it from wait4's rusage), 0 when unknown.
func peakRSSChild(path string) int {
	data, _, err := capture.ReadInput(path)
	if err == nil {
		_, err = AnalyzeData(context.Background(), data, path, contention.KindMutex, Options{})
	}
	fmt.Fprintf(os.Stderr, "analyze: %v\n", err)
	kb, _ := testutil.PeakRSSKB()
	fmt.Println(kb)
	return 0
}

// BenchmarkBombPeakRSS reports the peak RSS of analyzing one ~79:1 bomb
// that inflates to 250 MiB (the probe's case), in a child process, next to
// a real-sized 65k-sample profile for scale. Run with -benchtime 1x.
func BenchmarkBombPeakRSS(b *testing.B) {
	dir := b.TempDir()
	bombPath := filepath.Join(dir, "bomb79.pb.gz")
	if err := os.WriteFile(bombPath, ratioBomb(b, readProfile(b, "ledger", contention.KindMutex), 250<<20), 0o644); err != nil {
		b.Fatal(err)
	}
	realPath, _ := writeSynth(b, dir, benchSamples)
	if _, ok := testutil.PeakRSSKB(); !ok {
		b.Skip("no VmHWM in /proc/self/status on this platform")
	}
	for i := 0; i < b.N; i++ {
		for _, in := range []struct{ name, path string }{{"bomb79", bombPath}, {"real65k", realPath}} {
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), rssInputEnv+"="+in.path)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				b.Fatalf("helper: %v\n%s", err, stderr.Bytes())
			}
			kb, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
			if err != nil || kb <= 0 {
				b.Fatalf("helper printed %q, want its peak RSS in KiB (%v)\n%s", out, err, stderr.Bytes())
			}
			b.ReportMetric(float64(kb)/1024, in.name+"-peakRSS-MB")
		}
	}
}
