package capture

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/lockscope/lockscope/internal/testutil"
)

// MaxAgentGrowth is what the agent may add to a program's binary. It links
// no network package: net/http alone made a small program about 5 MB
// larger, and a binary's size is deterministic for one toolchain, so this
// is checked as a bound, not measured as a benchmark.
const MaxAgentGrowth = 300 << 10

// The agent adds at most MaxAgentGrowth to a small program, built as a
// user builds it and as Delve builds it (optimisations off).
func TestAgentBinaryGrowth(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "ledger")
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"go build", nil},
		{"Delve's build", []string{"-gcflags=all=-N -l"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plain := filepath.Join(t.TempDir(), "plain")
			args := append(append([]string{"build", "-o", plain}, tc.flags...), ".")
			cmd := exec.Command("go", args...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go %v: %v\n%s", args, err, out)
			}
			_, withAgent := buildAgent(t, PrepareOptions{Program: dir, UserBuildFlags: tc.flags})
			ps, as := fileSize(t, plain), fileSize(t, withAgent)
			t.Logf("plain %d bytes, with the agent %d bytes: %+d bytes (%.1f KiB)", ps, as, as-ps, float64(as-ps)/1024)
			if as-ps > MaxAgentGrowth {
				t.Errorf("the agent adds %d bytes (%.1f KiB) to %s, more than %d KiB", as-ps, float64(as-ps)/1024, filepath.Base(dir), MaxAgentGrowth>>10)
			}
		})
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
