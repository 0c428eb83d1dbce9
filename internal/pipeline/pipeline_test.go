package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/report"
	"github.com/lockscope/lockscope/internal/testutil"
)

// The source index is built with the build's own flags: a map write in a
// file behind a build tag is in the report exactly when the build has the
// tag. (The session once indexed without the launch's buildFlags, and
// reported other writes than `analyze --build-flags` did.)
func TestIndexUsesTheBuildFlags(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "tagged")
	extra := filepath.Join(dir, "extra.go")
	tagged := testutil.MarkerLine(t, extra, "tagged-write")
	untagged := testutil.MarkerLine(t, filepath.Join(dir, "main.go"), "untagged-write")
	for _, tc := range []struct {
		flags      []string
		wantTagged bool
	}{
		{nil, false},
		{[]string{"-tags=lockscope_extra"}, true},
	} {
		p := New()
		p.StartIndex(dir, IndexOptions{BuildFlags: tc.flags}, nil)
		if !p.WaitIndex(context.Background()) {
			t.Fatal("WaitIndex gave up")
		}
		r := p.Build()
		gotTagged, gotUntagged := false, false
		for _, w := range r.MapWrites {
			gotTagged = gotTagged || (w.File == extra && w.Line == tagged)
			gotUntagged = gotUntagged || (filepath.Base(w.File) == "main.go" && w.Line == untagged)
		}
		if !gotUntagged || gotTagged != tc.wantTagged {
			t.Errorf("flags %q: write at extra.go:%d found %v (want %v), main.go:%d found %v; writes %+v",
				tc.flags, tagged, gotTagged, tc.wantTagged, untagged, gotUntagged, r.MapWrites)
		}
		p.Close()
	}
}

// A Go version with no known runtime layout is said plainly in the
// report, and no breakpoint is guessed.
func TestUnknownGoVersionIsSaid(t *testing.T) {
	p := New()
	p.SetGoVersion("go1.40.1")
	r := p.Build()
	if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "no known runtime layout") {
		t.Fatalf("notes %q: want one saying the layout is unknown", r.Notes)
	}
	w := contention.MapWrite{File: "/x/main.go", Line: 3, Function: "main.f", Map: "m", Unguarded: true}
	if bps, _ := p.suggest([]contention.MapWrite{w}); len(bps) != 0 {
		t.Fatalf("suggested %v for an unknown runtime", bps)
	}
	p.SetGoVersion("")
	if r := p.Build(); !strings.Contains(strings.Join(r.Notes, "\n"), "Go version is unknown") {
		t.Fatalf("notes %q: want one saying the version is unknown", r.Notes)
	}
}

// A file of the wrong kind, or a kind lockscope does not know, is an
// input error naming the file; nothing joins the report.
func TestLoadFileRefusesTheWrongKind(t *testing.T) {
	root := testutil.ModuleRoot(t)
	profile := filepath.Join(root, "testdata", "profiles", "ledger.mutex.pb.gz")
	trace := filepath.Join(root, "testdata", "traces", "ledger.trace")
	for _, tc := range []struct{ path, kind, want string }{
		{profile, contention.KindTrace, "given as a trace but it is a pprof profile"},
		{trace, contention.KindMutex, "given as a mutex profile but it is an execution trace"},
		{trace, "cpu", `unknown kind "cpu"`},
		{filepath.Join(root, "testdata", "nope.pb.gz"), "", "no such file"},
		{root, "", "is a directory"},
	} {
		p := New()
		_, err := p.LoadFile(context.Background(), tc.path, tc.kind)
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadFile(%s, %q): err %v, want an InputError saying %q", filepath.Base(tc.path), tc.kind, err, tc.want)
		}
	}
	// The right kinds, and "" telling from the file.
	p := New()
	for _, tc := range []struct{ path, kind, want string }{
		{profile, "", contention.KindMutex},
		{profile, "profile", contention.KindMutex},
		{trace, "", contention.KindTrace},
	} {
		part, err := p.LoadFile(context.Background(), tc.path, tc.kind)
		if err != nil || part.Kind() != tc.want {
			t.Fatalf("LoadFile(%s, %q): kind %v, err %v; want %s", filepath.Base(tc.path), tc.kind, part, err, tc.want)
		}
	}
}

// A cancelled load leaves the report as it was.
func TestCancelledLoadChangesNothing(t *testing.T) {
	trace := filepath.Join(testutil.ModuleRoot(t), "testdata", "traces", "ledger.trace")
	p := New()
	before := p.Build()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	part, err := p.LoadFile(ctx, trace, "")
	if !errors.Is(err, context.Canceled) || part != nil {
		t.Fatalf("cancelled load: part %v, err %v; want context.Canceled and no part", part, err)
	}
	if after := p.Build(); len(after.Sources) != len(before.Sources) || len(after.Hotspots) != 0 {
		t.Fatalf("a cancelled load changed the report: %d sources, %d hotspots", len(after.Sources), len(after.Hotspots))
	}
}

// The program's output is read as it comes: a race report joins the
// report when it completes, once, and a crash at the end is found on
// Close. The texts are recorded from real runs (testdata/crashrace).
func TestOutputRacesAndCrash(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "crashrace")
	race, err := os.ReadFile(filepath.Join(dir, "crashread-race.txt"))
	if err != nil {
		t.Fatal(err)
	}
	crash, err := os.ReadFile(filepath.Join(dir, "crashmap.txt"))
	if err != nil {
		t.Fatal(err)
	}
	p := New()
	out := p.NewOutput(contention.Source{Path: "/prog"})
	// In odd pieces, as pipes deliver it.
	for rest := race; len(rest) > 0; {
		n := min(len(rest), 777)
		out.Write(rest[:n])
		rest = rest[n:]
	}
	first := out.Races()
	if first == 0 {
		t.Fatal("no race after the whole report was written")
	}
	if n := out.Races(); n != 0 {
		t.Fatalf("the same races added again (%d more)", n)
	}
	out.Write(crash)
	crashed, races := out.Close()
	r := p.Build()
	if !crashed || r.Crash == nil || r.Crash.Reason != "concurrent map writes" {
		t.Fatalf("crash %v, report crash %+v; want the concurrent map writes", crashed, r.Crash)
	}
	if races != first || len(r.Races) != first {
		t.Fatalf("%d races in all, %d in the report; want %d", races, len(r.Races), first)
	}
}

// A chatty program's output is not kept: only the text from its last
// "fatal error:" line on. A crash after 24 MiB of output is still found.
func TestOutputKeepsOnlyTheCrash(t *testing.T) {
	crash, err := os.ReadFile(filepath.Join(testutil.ModuleRoot(t), "testdata", "crashrace", "crashmap.txt"))
	if err != nil {
		t.Fatal(err)
	}
	p := New()
	out := p.NewOutput(contention.Source{Path: "/prog"})
	line := []byte(strings.Repeat("x", 1023) + "\n")
	for i := 0; i < 24<<10; i++ {
		out.Write(line)
	}
	out.Write(crash)
	if crashed, _ := out.Close(); !crashed {
		t.Fatal("the crash after 24 MiB of output was not found")
	}
	if r := p.Build(); r.Crash == nil || r.Crash.Reason != "concurrent map writes" {
		t.Fatalf("crash %+v", r.Crash)
	}
}

// The kept goroutine dumps stay spread over the run: the oldest, the
// newest and even gaps, so that a wait that began early is still proven
// long.
func TestGoroutineDumpsThinEvenly(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var kept []report.GoroutineDump
	for i := 0; i < 30; i++ {
		kept = thin(append(kept, report.GoroutineDump{At: t0.Add(time.Duration(i) * time.Second), Dump: []byte("x")}))
	}
	if len(kept) != maxSamples || !kept[0].At.Equal(t0) || !kept[len(kept)-1].At.Equal(t0.Add(29*time.Second)) {
		t.Fatalf("kept %d dumps from %v to %v; want %d from the first to the last", len(kept), kept[0].At, kept[len(kept)-1].At, maxSamples)
	}
	for i := 1; i < len(kept); i++ {
		if gap := kept[i].At.Sub(kept[i-1].At); gap > 8*time.Second {
			t.Errorf("a gap of %s between kept dumps %d and %d: not spread", gap, i-1, i)
		}
	}
}

// The session holds the index's type-checking until Delve has built and
// loaded the program (IndexOptions.HoldTypeCheck): the go commands finish,
// and the index joins the report only once it is resumed, with the same
// map writes as an index never held.
func TestHoldTypeCheckUntilResumed(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "ledger")
	free := New()
	free.StartIndex(dir, IndexOptions{}, nil)
	if !free.WaitIndex(context.Background()) {
		t.Fatal("WaitIndex gave up")
	}
	want := free.Build().MapWrites
	free.Close()
	if len(want) == 0 {
		t.Fatal("no map writes in ledger")
	}

	// A load, not the cached index the first one left.
	freshCache(t)
	p := New()
	defer p.Close()
	loaded := make(chan struct{})
	p.StartIndex(dir, IndexOptions{HoldTypeCheck: true}, func() { close(loaded) })
	if !p.WaitIndexCommands(context.Background()) {
		t.Fatal("WaitIndexCommands gave up")
	}
	// Unheld, ledger's index loads in well under a second.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if p.WaitIndex(ctx) {
		t.Fatal("the index loaded while held")
	}
	if r := p.Build(); len(r.MapWrites) != 0 {
		t.Fatalf("map writes in the report while the index is held: %+v", r.MapWrites)
	}
	p.ResumeIndex()
	if !p.WaitIndex(context.Background()) {
		t.Fatal("WaitIndex gave up after ResumeIndex")
	}
	<-loaded
	got := p.Build().MapWrites
	if len(got) != len(want) {
		t.Fatalf("held index: %d map writes, unheld: %d", len(got), len(want))
	}
	for i := range got {
		if got[i].File != want[i].File || got[i].Line != want[i].Line || got[i].Guard != want[i].Guard {
			t.Errorf("write %d: held %+v, unheld %+v", i, got[i], want[i])
		}
	}
}

// A held index that nobody resumes (the launch failed, the client went
// away before configurationDone) does not keep Close waiting, and leaves
// no note: nobody asked for it.
func TestCloseAbandonsAHeldIndex(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "ledger")
	freshCache(t) // a load to hold, not a cached index
	p := New()
	called := false
	p.StartIndex(dir, IndexOptions{HoldTypeCheck: true}, func() { called = true })
	if !p.WaitIndexCommands(context.Background()) {
		t.Fatal("WaitIndexCommands gave up")
	}
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(2 * time.Minute):
		t.Fatal("Close still waits for a held index")
	}
	r := p.Build()
	if called || len(r.MapWrites) != 0 || len(r.Notes) != 0 {
		t.Errorf("an abandoned index: loaded called %v, %d map writes, notes %q", called, len(r.MapWrites), r.Notes)
	}
}

// A restart starts a new index: the old one, held and never resumed, ends
// rather than waiting for the pipeline's Close, and the new one is the
// one resumed.
func TestRestartAbandonsTheHeldIndex(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "ledger")
	freshCache(t) // a load to hold, not a cached index
	p := New()
	defer p.Close()
	p.StartIndex(dir, IndexOptions{HoldTypeCheck: true}, nil)
	p.mu.Lock()
	old := p.index
	p.mu.Unlock()
	p.StartIndex(dir, IndexOptions{HoldTypeCheck: true}, nil)
	select {
	case <-old.done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the replaced index is still held")
	}
	p.ResumeIndex()
	if !p.WaitIndex(context.Background()) {
		t.Fatal("WaitIndex gave up")
	}
	if r := p.Build(); len(r.MapWrites) == 0 {
		t.Errorf("no map writes after the restart's index was resumed; notes %q", r.Notes)
	}
}
