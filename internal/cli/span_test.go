//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

// The test runs a program with the capture agent, which needs a named
// pipe (capture's fifo_unix.go).

package cli

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/pipeline"
)

// A saved capture's seconds are those its profiles cover, from when the
// agent set the profile rates to the last snapshot: a program whose start
// takes 1.5 s before that (package variables, set before any init) and
// then counts for 1 s records about 1 s, not the 2.5 s from its start to
// its exit, and diff divides by that.
func TestSaveRecordsWhatTheProfilesCover(t *testing.T) {
	t.Setenv("SHARDS_STARTUP", "1500ms")
	dir := fixture(t, "shards")
	file := filepath.Join(t.TempDir(), "run.zip")
	began := time.Now()
	mustOK(t, analyze(t, "--json", "--save", file, "--trace-seconds", "0", dir, "--", "-d", "1s"))
	c, err := pipeline.OpenCapture(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{contention.KindMutex, contention.KindBlock} {
		ps := c.ProfilesOf(kind)
		if len(ps) != 1 {
			t.Fatalf("%d %s profiles saved, want 1", len(ps), kind)
		}
		d := time.Duration(ps[0].Source.DurationNs)
		t.Logf("the %s profile covers %v (the build and the run took %v)", kind, d, time.Since(began))
		if d < time.Second-50*time.Millisecond || d > 2*time.Second {
			t.Errorf("the saved %s profile covers %v, want about the 1 s the program counts", kind, d)
		}
	}
	d := diff(t, "--json", file, file)
	if d.code != ExitOK {
		t.Fatalf("diff: exit %d\n%s", d.code, d.stderr)
	}
	if cmp := d.report.Comparison; cmp == nil || cmp.Unit != contention.UnitSecond || cmp.Units < 0.95 || cmp.Units > 2 {
		t.Errorf("diff of the capture with itself: %+v, want per second of about 1 s", cmp)
	}
}
