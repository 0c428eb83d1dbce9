package report

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/contention"
)

// The window before a stop brings marked chains and no hotspots; a trace
// window of the running program replacing the traces leaves them, the
// next stop replaces them (chains, source and notes), and a stop with no
// window drops them and says why.
func TestStopWindowReplacesOnlyItself(t *testing.T) {
	ctx := context.Background()
	_, _, tr := realInputs(t)
	b := NewBuilder()
	running, err := b.AnalyzeTrace(ctx, bytes.NewReader(tr), contention.Source{Origin: contention.OriginAgent})
	if err != nil {
		t.Fatal(err)
	}
	b.Replace(running)
	base := b.Build()
	if len(base.Chains) == 0 {
		t.Fatal("the recorded trace gives no chain")
	}
	label := func(d int64) string { return fmt.Sprintf("in the %d ns before the stop", d) }
	stop := func(note string) {
		t.Helper()
		p, err := b.AnalyzeStopWindow(ctx, bytes.NewReader(tr), contention.Source{Path: "mem"}, label, note)
		if err != nil {
			t.Fatal(err)
		}
		b.ReplaceStopWindow(p)
	}
	stop("first")
	check := func(what string, wantStop int, wantNote string) *contention.Report {
		t.Helper()
		r := b.Build()
		marked, srcs, notes := 0, 0, []string{}
		for _, c := range r.Chains {
			if c.BeforeStop != "" {
				marked++
				if !strings.HasSuffix(c.BeforeStop, "before the stop") {
					t.Errorf("%s: chain label %q", what, c.BeforeStop)
				}
			}
		}
		for _, s := range r.Sources {
			if s.Origin == contention.OriginStopWindow {
				srcs++
				if s.Kind != contention.KindTrace {
					t.Errorf("%s: stop source of kind %q, want trace", what, s.Kind)
				}
			}
		}
		for _, n := range r.Notes {
			if strings.HasPrefix(n, StopNotePrefix) {
				notes = append(notes, strings.TrimPrefix(n, StopNotePrefix))
			}
		}
		if marked != wantStop || len(r.Chains) != len(base.Chains)+wantStop {
			t.Errorf("%s: %d chains, %d before the stop; want %d and %d", what, len(r.Chains), marked, len(base.Chains)+wantStop, wantStop)
		}
		if wantStop > 0 && srcs != 1 {
			t.Errorf("%s: %d stop sources, want 1", what, srcs)
		}
		if len(notes) == 0 || notes[0] != wantNote {
			t.Errorf("%s: stop notes %q, want %q first", what, notes, wantNote)
		}
		if len(r.Hotspots) != len(base.Hotspots) {
			t.Errorf("%s: %d hotspots, want the running trace's %d alone", what, len(r.Hotspots), len(base.Hotspots))
		}
		return r
	}
	check("after the first stop", len(base.Chains), "first")
	b.Replace(running)
	check("after a trace window", len(base.Chains), "first")
	stop("second")
	check("after the second stop", len(base.Chains), "second")
	b.ClearStopWindow("unreadable")
	check("after a stop with no window", 0, "unreadable")
}
