package capture

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runOps runs the ledgerbench binary for d and returns its deposits per
// second.
func runOps(b *testing.B, bin string, env []string, d time.Duration) float64 {
	b.Helper()
	cmd := exec.Command(bin, "-d", d.String())
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("%s: %v", bin, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || f[0] != "ops" {
		b.Fatalf("ledgerbench printed %q", out)
	}
	n, err := strconv.ParseFloat(f[1], 64)
	if err != nil {
		b.Fatal(err)
	}
	return n / d.Seconds()
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkAgentOverhead measures what the agent costs a contended program:
// the throughput of a ledger-like workload (eight goroutines on one mutex)
// built without the agent, and with it at the default rates (with and
// without the flight recorder). Runs alternate so that machine noise hits
// every variant alike; the medians and their ratios are reported.
func BenchmarkAgentOverhead(b *testing.B) {
	dir := filepath.Join(repoRoot(b), "testdata", "capture", "ledgerbench")
	plain := filepath.Join(b.TempDir(), "plain")
	cmd := exec.Command("go", "build", "-o", plain, ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	variants := []struct {
		name string
		opts PrepareOptions
	}{
		{"agent", PrepareOptions{Program: dir}},
		{"agent+flight", PrepareOptions{Program: dir, Flight: 2 * time.Second}},
	}
	type run struct {
		name string
		bin  string
		env  []string
		ops  []float64
	}
	runs := []*run{{name: "plain", bin: plain, env: os.Environ()}}
	for _, v := range variants {
		inj, bin := buildAgent(b, v.opts)
		runs = append(runs, &run{name: v.name, bin: bin, env: inj.Environ(os.Environ())})
	}
	const rounds = 5
	d := 700 * time.Millisecond
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for r := 0; r < rounds; r++ {
			for _, ru := range runs {
				ru.ops = append(ru.ops, runOps(b, ru.bin, ru.env, d))
			}
		}
	}
	b.StopTimer()
	base := median(runs[0].ops)
	b.ReportMetric(base, "plain-ops/s")
	var msg []string
	for _, ru := range runs[1:] {
		m := median(ru.ops)
		b.ReportMetric(m/base, ru.name+"/plain")
		msg = append(msg, fmt.Sprintf("%s %.0f ops/s (%.3fx, %+.1f%%)", ru.name, m, m/base, (m/base-1)*100))
	}
	b.Logf("plain %.0f ops/s; %s", base, strings.Join(msg, "; "))
}
