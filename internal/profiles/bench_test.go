package profiles

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/lockscope/lockscope/internal/contention"
)

// benchSamples is the size of the synthetic profile: the issue asks for 60k+
// samples across many call paths.
const benchSamples = 65000

// writeSynth writes the synthetic profile, gzipped as the runtime writes
// it, and returns its path and bytes.
func writeSynth(b testing.TB, dir string, samples int) (string, []byte) {
	b.Helper()
	p := synthProfile(samples, 1)
	if err := p.CheckValid(); err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "synth.mutex.pb.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	return path, buf.Bytes()
}

// BenchmarkVersusPprof measures, in the same run and on the same file:
//   - parse: profile.Parse alone (pprof's own decoder; the floor);
//   - ours: AnalyzeBytes, from the file's bytes to the hotspots (the fast
//     decoder);
//   - viaparse: Parse + Analyze, the same through pprof's parser;
//   - pprof: the pprof binary's -top, built from the module cache.
//
// It reports medians and the ratios ours/parse (target <= 1.3) and
// ours/pprof (target <= 0.5). Each b.N round runs all three once; at least
// 5 rounds run so that medians mean something under -benchtime 1x.
func BenchmarkVersusPprof(b *testing.B) {
	dir := b.TempDir()
	path, data := writeSynth(b, dir, benchSamples)
	pprofBin := filepath.Join(dir, "pprof")
	build := exec.Command(goTool(b), "build", "-o", pprofBin, "github.com/google/pprof")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building pprof: %v\n%s", err, out)
	}
	b.Logf("profile: %d samples, %d bytes gzipped", benchSamples, len(data))

	var parseT, oursT, slowT, pprofT []time.Duration
	var parseC, oursC, pprofC []time.Duration // CPU time
	var hotspots int
	rounds := max(b.N, 5)
	b.ResetTimer()
	for i := 0; i < rounds; i++ {
		start, cpu := time.Now(), processCPU()
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := profile.Parse(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
		parseT = append(parseT, time.Since(start))
		parseC = append(parseC, processCPU()-cpu)

		start, cpu = time.Now(), processCPU()
		raw, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		r, err := AnalyzeBytes(context.Background(), raw, path, contention.KindMutex)
		if err != nil {
			b.Fatal(err)
		}
		oursT = append(oursT, time.Since(start))
		oursC = append(oursC, processCPU()-cpu)
		hotspots = len(r.Hotspots)

		// The same analysis over pprof's parser (Parse + Analyze), for
		// comparison with the fast decoder.
		start = time.Now()
		raw, err = os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		p, err := Parse(raw, path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Analyze(context.Background(), p, contention.KindMutex); err != nil {
			b.Fatal(err)
		}
		slowT = append(slowT, time.Since(start))

		start = time.Now()
		cmd := exec.Command(pprofBin, "-top", path)
		cmd.Env = append(os.Environ(), "PPROF_TMPDIR="+dir, "PPROF_BINARY_PATH="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("pprof -top: %v\n%s", err, out)
		}
		pprofT = append(pprofT, time.Since(start))
		pprofC = append(pprofC, childCPU(cmd.ProcessState))
	}
	b.StopTimer()
	mp, mo, ms, mt := median(parseT), median(oursT), median(slowT), median(pprofT)
	b.ReportMetric(float64(ms.Microseconds())/1000, "viaparse-ms")
	b.ReportMetric(float64(mp.Microseconds())/1000, "parse-ms")
	b.ReportMetric(float64(mo.Microseconds())/1000, "ours-ms")
	b.ReportMetric(float64(mt.Microseconds())/1000, "pprof-ms")
	b.ReportMetric(float64(mo)/float64(mp), "ours/parse")
	b.ReportMetric(float64(mo)/float64(mt), "ours/pprof")
	b.Logf("%d rounds, %d hotspots: median profile.Parse %v; AnalyzeBytes (fast decoder) %v; Parse+Analyze (pprof's parser) %v; pprof -top %v",
		rounds, hotspots, mp, mo, ms, mt)
	if cp, co, ct := median(parseC), median(oursC), median(pprofC); cp > 0 && ct > 0 {
		b.ReportMetric(float64(co)/float64(cp), "cpu-ours/parse")
		b.ReportMetric(float64(co)/float64(ct), "cpu-ours/pprof")
		b.Logf("CPU time (less sensitive to a loaded machine): profile.Parse %v, AnalyzeBytes %v, pprof -top %v; ours/parse %.2fx, ours/pprof %.2fx",
			cp, co, ct, float64(co)/float64(cp), float64(co)/float64(ct))
	}
	b.Logf("AnalyzeBytes/profile.Parse %.2fx (target <= 1.3); AnalyzeBytes/pprof %.2fx (target <= 0.5); Parse+Analyze/profile.Parse %.2fx",
		float64(mo)/float64(mp), float64(mo)/float64(mt), float64(ms)/float64(mp))
}

// BenchmarkAnalyze measures the aggregation alone on the parsed profile.
func BenchmarkAnalyze(b *testing.B) {
	p := synthProfile(benchSamples, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Analyze(context.Background(), p, contention.KindMutex); err != nil {
			b.Fatal(err)
		}
	}
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// BenchmarkAnalyzeBytes measures the fast path alone, from gzipped bytes.
func BenchmarkAnalyzeBytes(b *testing.B) {
	var buf bytes.Buffer
	if err := synthProfile(benchSamples, 1).Write(&buf); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := AnalyzeBytes(context.Background(), buf.Bytes(), "synthetic", contention.KindMutex); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProfileParse measures pprof's profile.Parse on the same bytes.
func BenchmarkProfileParse(b *testing.B) {
	var buf bytes.Buffer
	if err := synthProfile(benchSamples, 1).Write(&buf); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := profile.ParseData(buf.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}
