package report

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/capture"
	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/mapwrites"
	"github.com/lockscope/lockscope/internal/testutil"
)

// buildWithAgent builds testdata/<rel> with lockscope's agent.
func buildWithAgent(t *testing.T, rel string) (*capture.Injection, string, string) {
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
	return inj, bin, dir
}

// The deadlock reaches the report: from the files the agent saved when it
// stepped aside, the builder names the cycle in the deadlocks section
// (JSON "deadlocks"), the two waits in "stuck", a note, and the text
// headline; Clear drops them and the sections are [] again.
func TestBuilderDeadlock(t *testing.T) {
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
	if len(r.Deadlocks) != 1 || len(r.Stuck) != 2 {
		t.Fatalf("deadlocks %+v, stuck %+v", r.Deadlocks, r.Stuck)
	}
	main := filepath.Join(dir, "main.go")
	if !strings.Contains(r.Deadlocks[0].Text, "holds a (main.go:") || !strings.Contains(r.Deadlocks[0].Text, "waits for a at main.go:") {
		t.Errorf("cycle text %q", r.Deadlocks[0].Text)
	}
	lines := StuckText(r, nil)
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "Deadlock (every goroutine of the program was blocked): goroutine ") {
		t.Errorf("text:\n%s", strings.Join(lines, "\n"))
	}
	wantNote := false
	for _, n := range r.Notes {
		wantNote = wantNote || strings.Contains(n, "agent stepped aside")
	}
	if !wantNote {
		t.Errorf("no note that every goroutine was blocked: %q", r.Notes)
	}
	var kinds []string
	for _, s := range r.Sources {
		kinds = append(kinds, s.Kind)
	}
	if !strings.Contains(strings.Join(kinds, ","), KindGoroutines) {
		t.Errorf("sources %v lack the goroutine dump", kinds)
	}
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"deadlocks":[{"goroutines":[`, `"stuck":[{"goroutine":`, `"lockedAt":{"file":"` + main} {
		if !strings.Contains(string(js), want) {
			t.Errorf("the JSON lacks %s:\n%s", want, js)
		}
	}

	b.Clear(KindGoroutines)
	r = b.Build()
	js, _ = json.Marshal(r)
	if !strings.Contains(string(js), `"stuck":[]`) || !strings.Contains(string(js), `"deadlocks":[]`) || StuckText(r, nil) != nil {
		t.Errorf("after Clear: %s", js)
	}
}

// No stuck goroutine gives empty sections: two dumps of the stalled
// holdlock program 300 ms apart, under the default threshold (its waits
// are real, but not yet proved long). A dump that cannot be read is an
// error that names it, and the good ones are kept.
func TestBuilderNothingStuck(t *testing.T) {
	inj, bin, _ := buildWithAgent(t, "stuck/holdlock")
	cmd := exec.Command(bin, "-hold", "60s")
	cmd.Env = inj.Environ(os.Environ())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ag, err := inj.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var dumps []GoroutineDump
	for range 2 {
		at := time.Now()
		d, err := ag.Goroutines(ctx)
		if err != nil {
			t.Fatal(err)
		}
		blk, err := ag.Profile(ctx, "block")
		if err != nil {
			t.Fatal(err)
		}
		dumps = append(dumps, GoroutineDump{At: at, Dump: d, Block: blk})
		time.Sleep(300 * time.Millisecond)
	}
	b := NewBuilder()
	err = b.SetGoroutines(append(dumps, GoroutineDump{At: time.Now(), Dump: []byte("not a dump")}), StuckOptions{})
	if err == nil || !strings.Contains(err.Error(), "goroutine dump 3") {
		t.Errorf("a bad dump: %v, want an error naming dump 3", err)
	}
	r := b.Build()
	if len(r.Stuck) != 0 || len(r.Deadlocks) != 0 {
		t.Errorf("stuck %+v, deadlocks %+v, want none", r.Stuck, r.Deadlocks)
	}
	js, _ := json.Marshal(r)
	if !strings.Contains(string(js), `"stuck":[]`) || !strings.Contains(string(js), `"deadlocks":[]`) {
		t.Errorf("the sections are not []: %s", js)
	}
}

// Each stuck wait is one line: what it waits for, where and how long,
// then what is known of the lock: a queued writer, each holder and what
// it does, or that nobody holds it in the source's view.
func TestStuckText(t *testing.T) {
	r := contention.Empty()
	r.Stuck = []contention.StuckWait{
		{Goroutine: 7, File: "/p/c.go", Line: 20, Function: "main.get", Primitive: contention.PrimRWMutex, Lock: "c.mu", WaitNs: int64(2500 * time.Millisecond),
			PendingWriters: []contention.Waiter{{Goroutine: 9, File: "/p/c.go", Line: 30}},
			Holders: []contention.LockHolder{{Goroutine: 8, LockedAt: contention.Site{File: "/p/c.go", Line: 10}, File: "/p/c.go", Line: 12, State: "running"},
				{Goroutine: 3, LockedAt: contention.Site{File: "/p/c.go", Line: 10}, State: "chan receive", WaitsAt: &contention.Site{File: "/p/c.go", Line: 14}}}},
		{Goroutine: 5, File: "/p/d.go", Line: 4, Function: "main.put", Primitive: contention.PrimMutex, Lock: "d.mu", Forever: true, Holders: []contention.LockHolder{}},
	}
	got := StuckText(r, nil)
	want := []string{
		"Stuck: goroutine 7 waits for c.mu at c.go:20 (main.get) for 2.5s at least; behind goroutine 9, which waits to write-lock it at c.go:30; " +
			"held by goroutine 8, locked at c.go:10, running at c.go:12; held by goroutine 3, locked at c.go:10, which waits (chan receive) at c.go:14",
		"Stuck: goroutine 5 waits for d.mu at d.go:4 (main.put), for good; no goroutine is inside a critical section of it (running, or left locked by a return without Unlock?)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
