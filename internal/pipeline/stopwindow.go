package pipeline

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
)

// StopWindow says where the window before a stop came from.
type StopWindow struct {
	// Reason is why the program stopped, as Delve said it ("breakpoint",
	// "exception", "pause"...).
	Reason string
	// Span is how much time the window covers; 0 takes the trace's own.
	Span time.Duration
	// Generations is how many complete generations of the flight
	// recorder it holds; 0 for a window the agent saved to a file.
	Generations int
	// Saved is set for the window the agent saved when it stepped aside
	// for a program whose goroutines were all blocked (the flight
	// recorder stops then), rather than one read from memory.
	Saved bool
	// Path names where it was read, for the report's sources.
	Path string
}

// AddStopWindow analyses the flight recorder's window before a stop and
// puts its chains in the report, marked "in the N s before the stop", in
// place of those of the last stop.
func (p *Pipeline) AddStopWindow(ctx context.Context, r io.Reader, w StopWindow) error {
	src := contention.Source{Path: w.Path, DurationNs: w.Span.Nanoseconds()}
	var note string
	if w.Saved {
		note = "the chains marked \"before the stop\" come from the flight recorder's window that the agent saved when it found every goroutine blocked, just before the runtime's deadlock report."
	} else {
		note = fmt.Sprintf("the chains marked \"before the stop\" come from the flight recorder's last %d complete generations, read from the stopped program's memory without resuming it; "+
			"the last moments before the stop (up to about a second, the generation the runtime was still recording) are not in them.", w.Generations)
	}
	part, err := p.b.AnalyzeStopWindow(ctx, r, src, stopLabel(w), note)
	if err != nil {
		return err
	}
	p.b.ReplaceStopWindow(part)
	return nil
}

// NoStopWindow drops the chains of an earlier stop and says why this stop
// has no window.
func (p *Pipeline) NoStopWindow(why error) {
	p.b.ClearStopWindow(fmt.Sprintf("no trace of the moments before the stop: %v", why))
}

// stopLabel is what a person reads on each chain of the window, with the
// span known before the analysis, or the trace's own (see
// report.AnalyzeStopWindow) when it is not.
func stopLabel(w StopWindow) func(durationNs int64) string {
	return func(d int64) string {
		if w.Span > 0 {
			d = w.Span.Nanoseconds()
		}
		what := "the stop"
		if w.Reason != "" {
			what += " (" + w.Reason + ")"
		}
		if d <= 0 {
			return "before " + what
		}
		return fmt.Sprintf("in the %.1f s before %s", time.Duration(d).Seconds(), what)
	}
}
