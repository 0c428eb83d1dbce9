package capture

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/testutil"
)

// runOps runs the ledgerbench binary for d, with its default eight
// depositors and lock hold (see runLedger), and returns its deposits per
// wall-clock second and per CPU second (user + system). The CPU figure
// holds up when other processes load the machine: it is the cost per
// deposit, which is where profiling overhead shows.
func runOps(b *testing.B, bin string, env []string, d time.Duration) (wall, cpu float64) {
	b.Helper()
	return runLedger(b, bin, env, 8, 2000, d)
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
// every variant alike. Reported per wall-clock second and per CPU second:
// each variant's median, and the median over rounds of its ratio to the
// plain run of the same round. The paired ratio is the figure to read: on
// a shared machine the load drifts between rounds, and a ratio within one
// round cancels most of that drift.
func BenchmarkAgentOverhead(b *testing.B) {
	dir := filepath.Join(testutil.ModuleRoot(b), "testdata", "capture", "ledgerbench")
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
		cpu  []float64
	}
	runs := []*run{{name: "plain", bin: plain, env: os.Environ()}}
	for _, v := range variants {
		inj, bin := buildAgent(b, v.opts)
		runs = append(runs, &run{name: v.name, bin: bin, env: inj.Environ(os.Environ())})
	}
	const rounds = 11
	d := 500 * time.Millisecond
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for r := 0; r < rounds; r++ {
			for _, ru := range runs {
				w, c := runOps(b, ru.bin, ru.env, d)
				ru.ops = append(ru.ops, w)
				ru.cpu = append(ru.cpu, c)
			}
		}
	}
	b.StopTimer()
	base, baseCPU := median(runs[0].ops), median(runs[0].cpu)
	b.ReportMetric(base, "plain-ops/s")
	b.ReportMetric(baseCPU, "plain-ops/cpu-s")
	var msg []string
	for _, ru := range runs[1:] {
		m, c := median(ru.ops), median(ru.cpu)
		var wallR, cpuR []float64
		for i := range ru.ops {
			wallR = append(wallR, ru.ops[i]/runs[0].ops[i])
			cpuR = append(cpuR, ru.cpu[i]/runs[0].cpu[i])
		}
		b.ReportMetric(median(wallR), ru.name+"/plain")
		b.ReportMetric(median(cpuR), ru.name+"/plain-cpu")
		msg = append(msg, fmt.Sprintf("%s %.0f ops/s (paired %.3fx), %.0f ops/cpu-s (paired %.3fx)", ru.name, m, median(wallR), c, median(cpuR)))
	}
	b.Logf("plain %.0f ops/s, %.0f ops/cpu-s; %s", base, baseCPU, strings.Join(msg, "; "))
}
