package stuck

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/capture"
	"github.com/lockscope/lockscope/internal/mapwrites"
	"github.com/lockscope/lockscope/internal/profiles"
	"github.com/lockscope/lockscope/internal/testutil"
)

var (
	indexOnce sync.Once
	indexed   *mapwrites.Index
	indexErr  error
)

// stuckIndex is the source index of testdata/stuck, loaded once.
func stuckIndex(t *testing.T) Index {
	t.Helper()
	indexOnce.Do(func() {
		indexed, indexErr = mapwrites.Load(filepath.Join(testutil.ModuleRoot(t), "testdata", "stuck"), []string{"./..."}, nil)
	})
	if indexErr != nil {
		t.Fatal(indexErr)
	}
	return FromMapwrites(indexed)
}

// running is a program built with lockscope's agent and started.
type running struct {
	inj   *capture.Injection
	agent *capture.Agent
	cmd   *exec.Cmd
}

// start builds testdata/<rel> with the agent, runs it with args and
// connects to its agent.
func start(t *testing.T, rel string, args ...string) *running {
	t.Helper()
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", rel)
	inj, err := capture.Prepare(capture.PrepareOptions{Program: dir, Snapshot: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inj.Close() })
	bin := filepath.Join(t.TempDir(), "prog")
	build := exec.Command("go", append(append([]string{"build", "-o", bin}, inj.BuildFlags...), ".")...)
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = inj.Environ(os.Environ())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ag, err := inj.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &running{inj: inj, agent: ag, cmd: cmd}
}

// sample takes a goroutine dump and the block profile right after it.
func (r *running) sample(t *testing.T) Sample {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	at := time.Now()
	dump, err := r.agent.Goroutines(ctx)
	if err != nil {
		t.Fatal(err)
	}
	block, err := r.agent.Profile(ctx, "block")
	if err != nil {
		t.Fatal(err)
	}
	return sampleOf(t, at, dump, block)
}

func sampleOf(t *testing.T, at time.Time, dump, block []byte) Sample {
	t.Helper()
	gs, err := ParseDump(dump)
	if err != nil {
		t.Fatalf("ParseDump: %v\n%s", err, dump)
	}
	s := Sample{At: at, Goroutines: gs}
	if block != nil {
		p, err := profiles.Parse(block, "block", profiles.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.WaitsEnded = CountWaits(p)
	}
	return s
}

// line is the line of a marker in testdata/stuck.
func line(t *testing.T, file, marker string) int {
	t.Helper()
	return testutil.MarkerLine(t, filepath.Join("testdata", "stuck", file), marker)
}
