//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

// The agent takes its commands through a named pipe (fifo_unix.go).

package capture

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/lockscope/lockscope/internal/testutil"
)

// Every profile the agent writes says what it covers, on the clock of
// lockscope's own process: the span starts after the program started (when
// the agent set the rates) and ends while lockscope waited for the answer,
// the next profile has the same start and a later end, and the profiles
// saved at exit end after the last live one and before the program was
// found gone. pprof reads the same span as the profile's duration.
func TestAgentProfileSpan(t *testing.T) {
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "ledger")
	inj, bin := buildAgent(t, PrepareOptions{Program: dir, Snapshot: -1})
	cmd := exec.Command(bin, "-d", "1s")
	cmd.Env = inj.Environ(os.Environ())
	launched := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	ctx := ctxTimeout(t, 60*time.Second)
	ag, err := inj.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ag.Span("mutex"); ok {
		t.Errorf("a span before any profile was fetched")
	}
	fetch := func(kind string) (Span, []byte) {
		t.Helper()
		before := time.Now()
		data, err := ag.Profile(ctx, kind)
		after := time.Now()
		if err != nil {
			t.Fatal(err)
		}
		span, ok := ag.Span(kind)
		if !ok {
			t.Fatalf("no span recorded for the %s profile", kind)
		}
		if read, ok := ProfileSpan(data); !ok || read != span {
			t.Errorf("ProfileSpan of the %s profile: %+v %v, want %+v", kind, read, ok, span)
		}
		if span.Start().Before(launched) || !span.Start().Before(span.End()) {
			t.Errorf("%s span %v to %v: it must start after the launch (%v) and before it ends",
				kind, span.Start(), span.End(), launched)
		}
		if span.End().Before(before) || span.End().After(after) {
			t.Errorf("%s snapshot at %v, outside the request's %v to %v: the clocks do not line up",
				kind, span.End(), before, after)
		}
		return span, data
	}
	first, data := fetch("mutex")
	p, err := profile.ParseData(data)
	if err != nil {
		t.Fatal(err)
	}
	if p.DurationNanos != int64(first.Duration()) {
		t.Errorf("pprof reads a duration of %v, want the span's %v", time.Duration(p.DurationNanos), first.Duration())
	}
	if at := time.Unix(0, p.TimeNanos); at.Before(launched.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("pprof reads the profile's time as %v, not about now", at)
	}
	if len(p.Comments) != 1 || !strings.HasPrefix(p.Comments[0], "lockscope: profile rates set at ") {
		t.Errorf("comments %q: want the span", p.Comments)
	}
	time.Sleep(100 * time.Millisecond)
	second, _ := fetch("block")
	if second.From != first.From || second.To <= first.To {
		t.Errorf("the second profile covers %+v, the first %+v: want the same start and a later end", second, first)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	gone := time.Now()
	final, ok := inj.FinalSpan()
	if !ok {
		t.Fatal("no span in the profiles saved at exit")
	}
	if final.From != first.From || final.To <= second.To || final.End().After(gone) {
		t.Errorf("the profiles saved at exit cover %+v; want from %d, past the live %d, before the program was gone", final, first.From, second.To)
	}
	// ledger runs for 1 s after its start: the span covers that, not the
	// seconds a loaded machine may take to start the process.
	if d := final.Duration(); d < time.Second || d > gone.Sub(launched) {
		t.Errorf("the final span lasts %v: want at least the program's 1 s and at most the %v from launch to exit", d, gone.Sub(launched))
	}
}

// ProfileSpan reads only the agent's own comment: not a profile of
// runtime/pprof's (which has none, and is gzipped), not garbage, and not a
// profile cut short before its string table ends; it never panics on a
// truncated one.
func TestProfileSpanRejects(t *testing.T) {
	var gz bytes.Buffer
	runtime.SetMutexProfileFraction(1)
	defer runtime.SetMutexProfileFraction(0)
	if err := pprof.Lookup("mutex").WriteTo(&gz, 0); err != nil {
		t.Fatal(err)
	}
	if _, ok := ProfileSpan(gz.Bytes()); ok {
		t.Errorf("a span in runtime/pprof's gzipped profile")
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	if _, err := raw.ReadFrom(zr); err != nil {
		t.Fatal(err)
	}
	if _, ok := ProfileSpan(raw.Bytes()); ok {
		t.Errorf("a span in runtime/pprof's uncompressed profile")
	}
	for _, junk := range []string{"", "\x00", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", "\x32\xff\xff\xff\xff\x0f"} {
		if _, ok := ProfileSpan([]byte(junk)); ok {
			t.Errorf("a span in %q", junk)
		}
	}

	// A profile the agent wrote, as lockscope's tests keep one.
	dir := filepath.Join(testutil.ModuleRoot(t), "testdata", "short")
	inj, bin := buildAgent(t, PrepareOptions{Program: dir, Snapshot: -1})
	cmd := exec.Command(bin)
	cmd.Env = inj.Environ(os.Environ())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("short: %v\n%s", err, out)
	}
	files, _, err := inj.Final()
	if err != nil {
		t.Fatal(err)
	}
	full, ok := ProfileSpan(files["mutex"])
	if !ok {
		t.Fatal("no span in the agent's profile saved at exit")
	}
	data := files["mutex"]
	for n := range len(data) {
		if s, ok := ProfileSpan(data[:n]); ok && s != full {
			t.Fatalf("the first %d of %d bytes read as %+v, want nothing or %+v", n, len(data), s, full)
		}
	}
	if s, ok := ProfileSpan(data[:len(data)-1]); ok {
		t.Errorf("a profile cut in its last string read as %+v", s)
	}
}
