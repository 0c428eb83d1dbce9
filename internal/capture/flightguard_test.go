package capture

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/testutil"
)

// The agent stops the flight recorder for good when the program blocks
// more often than FlightMaxRate a second, and says so; under the limit it
// keeps recording to the end (trace.out at exit).
func TestAgentFlightGuard(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "capture", "ledgerbench")
	for _, tc := range []struct {
		name    string
		maxRate int
		off     bool
	}{
		// ledgerbench blocks hundreds of thousands of times a second.
		{"over", 1000, true},
		{"under", 1 << 30, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inj, bin := buildAgent(t, PrepareOptions{Program: dir, Flight: 2 * time.Second, FlightMaxRate: tc.maxRate})
			cmd := exec.Command(bin, "-d", "3s")
			cmd.Env = inj.Environ(os.Environ())
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("ledgerbench: %v\n%s", err, out)
			}
			at, rate, off := inj.FlightOff()
			if off != tc.off {
				t.Fatalf("flight recorder stopped: %v (at %v, %d blocks a second); want %v", off, at, rate, tc.off)
			}
			tr, err := inj.OpenFinalTrace(FinalFlight)
			if err != nil {
				t.Fatal(err)
			}
			if tr != nil {
				tr.Close()
			}
			if off {
				if rate <= int64(tc.maxRate) {
					t.Errorf("stopped at %d blocks a second, not over the limit %d", rate, tc.maxRate)
				}
				if tr != nil {
					t.Errorf("a stopped recorder still saved its window at exit")
				}
			} else if tr == nil {
				t.Errorf("the recorder did not save its window at exit")
			}
		})
	}
}
