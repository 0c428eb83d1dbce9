package report

import (
	"encoding/json"
	"os"
	"os/exec"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/mapwrites"
)

// TestWriteDeadlockFixture writes the report of the deadlock program
// (testdata/stuck/deadlock, run to its end with the agent) as JSON to the
// file named by LOCKSCOPE_DEADLOCK_FIXTURE, for scripts/gen-fixtures.sh:
// the extension's unit tests need a real report with the stuck and
// deadlocks sections while `lockscope analyze` does not yet fill them. It
// is a generator, not a check (TestBuilderDeadlock checks the same path),
// so without the variable it does nothing and says so.
func TestWriteDeadlockFixture(t *testing.T) {
	out := os.Getenv("LOCKSCOPE_DEADLOCK_FIXTURE")
	if out == "" {
		t.Skip("a fixture generator: set LOCKSCOPE_DEADLOCK_FIXTURE=FILE (scripts/gen-fixtures.sh does)")
	}
	inj, bin, dir := buildWithAgent(t, "stuck/deadlock")
	cmd := exec.Command(bin)
	cmd.Env = inj.Environ(os.Environ())
	if err := cmd.Run(); err == nil {
		t.Fatal("the deadlock exited 0")
	}
	files, _, err := inj.Final()
	if err != nil {
		t.Fatal(err)
	}
	at, blocked, err := inj.Blocked()
	if err != nil || !blocked {
		t.Fatalf("Blocked: %v %v", blocked, err)
	}
	ix, err := mapwrites.LoadProgram(dir, mapwrites.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := NewBuilder()
	b.SetIndex(ix, contention.Source{Kind: contention.KindSource, Path: dir})
	err = b.SetGoroutines([]GoroutineDump{{At: at, Dump: files["goroutines"], Block: files["block"]}},
		StuckOptions{AllBlocked: true, Source: contention.Source{Origin: contention.OriginAgent}})
	if err != nil {
		t.Fatal(err)
	}
	r := b.Build()
	if len(r.Deadlocks) == 0 {
		t.Fatalf("no deadlock in the report: stuck %+v", r.Stuck)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, append(js, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
