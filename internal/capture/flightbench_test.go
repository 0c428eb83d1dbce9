package capture

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/testutil"
)

// runLedger runs the ledgerbench binary with workers depositors, each
// holding the lock for hold loop iterations per deposit, for d and returns
// its deposits per wall-clock second and per CPU second.
func runLedger(b *testing.B, bin string, env []string, workers, hold int, d time.Duration) (wall, cpu float64) {
	b.Helper()
	cmd := exec.Command(bin, "-d", d.String(), "-workers", strconv.Itoa(workers), "-work", strconv.Itoa(hold))
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
	st := cmd.ProcessState
	return n / d.Seconds(), n / (st.UserTime() + st.SystemTime()).Seconds()
}

// BenchmarkFlightCurve measures how the flight recorder's cost grows with
// its window and with the number of goroutines, which is what the default
// (DefaultFlight) is chosen from. For each goroutine count it runs the
// ledger workload built plain and with the agent, the agent without the
// flight recorder, with windows of 1, 2, 5 and 10 s, and as a debug
// session runs it by default (DefaultFlight, stopped above
// DefaultFlightMaxRate blocks a second: "default"), each variant
// paired with a plain run right before or after it, for a duration of at
// least 1.2 windows (so that the recorder holds a full window and drops
// old generations, as it does in a long run), and at least 2 s. It reports
// the median over rounds of each pair's ratio, per CPU second (the cost
// per deposit, which holds up on a loaded machine) and per wall-clock
// second. LOCKSCOPE_FLIGHT_ROUNDS sets the rounds (default 7),
// LOCKSCOPE_FLIGHT_WORKERS the goroutine counts (default "10 100 1000"),
// LOCKSCOPE_FLIGHT_WINDOWS the windows in seconds (default "1 2 5 10")
// and LOCKSCOPE_FLIGHT_HOLD the work done with the lock held, in loop
// iterations (default "2000", about a microsecond: a million contended
// deposits a second, the worst case for a tracer, which records every
// block and unblock with its stack).
func BenchmarkFlightCurve(b *testing.B) {
	dir := filepath.Join(testutil.ModuleRoot(b), "testdata", "capture", "ledgerbench")
	plain := filepath.Join(b.TempDir(), "plain")
	cmd := exec.Command("go", "build", "-o", plain, ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	rounds := 7
	if n, err := strconv.Atoi(os.Getenv("LOCKSCOPE_FLIGHT_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	workers := intsFromEnv(b, "LOCKSCOPE_FLIGHT_WORKERS", "10 100 1000")
	windows := intsFromEnv(b, "LOCKSCOPE_FLIGHT_WINDOWS", "1 2 5 10")
	holds := intsFromEnv(b, "LOCKSCOPE_FLIGHT_HOLD", "2000")
	type variant struct {
		name   string
		window int // seconds; 0: the agent without the flight recorder
		bin    string
		env    []string
	}
	// One build: the window is an environment variable.
	inj, bin := buildAgent(b, PrepareOptions{Program: dir, Flight: -1})
	var variants []variant
	withEnv := func(ms, maxRate int) []string {
		env := inj.Environ(os.Environ())
		for i, kv := range env {
			switch {
			case strings.HasPrefix(kv, EnvFlightMs+"="):
				env[i] = EnvFlightMs + "=" + strconv.Itoa(ms)
			case strings.HasPrefix(kv, EnvFlightMaxRate+"="):
				env[i] = EnvFlightMaxRate + "=" + strconv.Itoa(maxRate)
			}
		}
		return env
	}
	for _, w := range append([]int{0}, windows...) {
		name := "agent"
		if w > 0 {
			name = fmt.Sprintf("flight%ds", w)
		}
		variants = append(variants, variant{name: name, window: w, bin: bin, env: withEnv(w*1000, 0)})
	}
	// What a debug session runs by default: the default window, stopped
	// by the guard when the program blocks too often for it.
	variants = append(variants, variant{name: "default", window: int(DefaultFlight / time.Second), bin: bin,
		env: withEnv(int(DefaultFlight.Milliseconds()), DefaultFlightMaxRate)})
	type key struct {
		workers, hold int
		name          string
	}
	wallR, cpuR, plainOps := map[key][]float64{}, map[key][]float64{}, map[key][]float64{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for r := 0; r < rounds; r++ {
			for _, g := range workers {
				for _, h := range holds {
					for _, v := range variants {
						d := max(2*time.Second, time.Duration(v.window)*1200*time.Millisecond)
						// Alternate which of the pair runs first, so that
						// neither always inherits the other's warm caches.
						var pw, pc, vw, vc float64
						if r%2 == 0 {
							pw, pc = runLedger(b, plain, os.Environ(), g, h, d)
							vw, vc = runLedger(b, v.bin, v.env, g, h, d)
						} else {
							vw, vc = runLedger(b, v.bin, v.env, g, h, d)
							pw, pc = runLedger(b, plain, os.Environ(), g, h, d)
						}
						k := key{g, h, v.name}
						wallR[k] = append(wallR[k], vw/pw)
						cpuR[k] = append(cpuR[k], vc/pc)
						plainOps[k] = append(plainOps[k], pw)
					}
				}
			}
		}
	}
	b.StopTimer()
	var lines []string
	for _, g := range workers {
		for _, h := range holds {
			for _, v := range variants {
				k := key{g, h, v.name}
				b.ReportMetric(median(cpuR[k]), fmt.Sprintf("%s-g%d-h%d/plain-cpu", v.name, g, h))
				b.ReportMetric(median(wallR[k]), fmt.Sprintf("%s-g%d-h%d/plain", v.name, g, h))
				lines = append(lines, fmt.Sprintf("goroutines %4d hold %6d %-9s cpu %.3fx wall %.3fx (plain %.0f ops/s; cpu ratios %s)",
					g, h, v.name, median(cpuR[k]), median(wallR[k]), median(plainOps[k]), fmtRatios(cpuR[k])))
			}
		}
	}
	// On stderr: a benchmark's log is cut after ten lines.
	fmt.Fprintf(os.Stderr, "flight recorder cost, median of %d paired rounds:\n%s\n", rounds, strings.Join(lines, "\n"))
}

func intsFromEnv(b *testing.B, name, def string) []int {
	s := os.Getenv(name)
	if s == "" {
		s = def
	}
	var out []int
	for _, f := range strings.Fields(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			b.Fatalf("%s: %q is not a count", name, f)
		}
		out = append(out, n)
	}
	return out
}

func fmtRatios(xs []float64) string {
	var s []string
	for _, x := range xs {
		s = append(s, strconv.FormatFloat(x, 'f', 3, 64))
	}
	return strings.Join(s, " ")
}
