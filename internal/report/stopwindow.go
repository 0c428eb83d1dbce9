package report

import (
	"context"
	"io"
	"slices"
	"strings"

	"github.com/lockscope/lockscope/internal/contention"
)

// StopNotePrefix starts every note about the window before a stop, so
// that the next stop replaces them.
const StopNotePrefix = "Before the stop: "

// AnalyzeStopWindow analyses the flight recorder's window before a stop
// (a trace read from the stopped program) without adding it. The part
// brings only chains, each marked with label(the window's duration) in
// Chain.BeforeStop, and notes: note, which says what the window covers,
// and the trace analysis's own, all starting with StopNotePrefix. The
// window's hotspots are left out: they would count again the waits that
// the profiles and trace windows of the running program count. src.Origin
// is set to contention.OriginStopWindow.
func (b *Builder) AnalyzeStopWindow(ctx context.Context, r io.Reader, src contention.Source, label func(durationNs int64) string, note string) (*Part, error) {
	src.Origin = contention.OriginStopWindow
	p, err := b.AnalyzeTrace(ctx, r, src)
	if err != nil {
		return nil, err
	}
	p.hotspots, p.runtime = nil, nil
	text := label(p.source.DurationNs)
	for i := range p.chains {
		p.chains[i].BeforeStop = text
	}
	notes := []string{StopNotePrefix + note}
	for _, n := range p.notes {
		notes = append(notes, StopNotePrefix+n)
	}
	p.notes = notes
	p.kinds = nil
	return p, nil
}

// ReplaceStopWindow drops the chains and the source of the last stop's
// window and adds those of this one (from AnalyzeStopWindow): the report
// shows what led to the latest stop. Trace windows of the running program
// (Replace) leave them alone.
func (b *Builder) ReplaceStopWindow(p *Part) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clearStopWindow()
	b.add(p)
}

// ClearStopWindow drops the last stop's window and notes why this stop
// has none (note, after StopNotePrefix): the chains before an older stop
// must not pass for this one's.
func (b *Builder) ClearStopWindow(note string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clearStopWindow()
	b.notes = append(b.notes, StopNotePrefix+note)
}

func (b *Builder) clearStopWindow() {
	b.chains = slices.DeleteFunc(b.chains, func(c contention.Chain) bool { return c.BeforeStop != "" })
	b.sources = slices.DeleteFunc(b.sources, func(s contention.Source) bool { return s.Origin == contention.OriginStopWindow })
	b.notes = slices.DeleteFunc(b.notes, func(n string) bool { return strings.HasPrefix(n, StopNotePrefix) })
}
