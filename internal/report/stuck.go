package report

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/profiles"
	"github.com/lockscope/lockscope/internal/stuck"
)

// KindGoroutines is the source kind of goroutine dumps, and the kind
// [Builder.Clear] takes to drop them.
const KindGoroutines = "goroutines"

// GoroutineDump is one goroutine dump for [Builder.SetGoroutines].
type GoroutineDump struct {
	// At is when it was taken.
	At time.Time
	// Dump is every goroutine's stack as runtime.Stack(buf, true) writes
	// it (the goroutine profile with debug=2): capture.Agent.Goroutines,
	// or the agent's final "goroutines" file.
	Dump []byte
	// Block is the block profile taken right after the dump, or nil. A
	// wait shorter than a minute is measured between two dumps that both
	// have one: it proves that no lock wait at the waiting line ended in
	// between (see internal/stuck).
	Block []byte
}

// StuckOptions tunes [Builder.SetGoroutines].
type StuckOptions struct {
	// Threshold is how long a lock wait must last to be reported; 0
	// means stuck.DefaultThreshold (2 s).
	Threshold time.Duration
	// AllBlocked says that the last dump was taken when every goroutine
	// of the program was blocked: capture.Injection.Blocked reported it,
	// and the agent stepped aside for the runtime to end the program.
	// Every lock wait in that dump is then reported, for good.
	AllBlocked bool
	// Source describes where the dumps came from (Path, Origin); its Kind
	// is set to KindGoroutines.
	Source contention.Source
}

// stuckInput is what SetGoroutines keeps: the dumps are analysed in Build,
// against the index known then.
type stuckInput struct {
	samples []stuck.Sample
	opts    StuckOptions
}

// SetGoroutines takes goroutine dumps, oldest first, for the report's
// stuck and deadlocks sections (replacing the dumps given before). The
// holders of the locks come from the source index (SetIndex), whenever it
// arrives. A dump or block profile that cannot be read is left out, and
// the error says which; the others are kept.
func (b *Builder) SetGoroutines(dumps []GoroutineDump, opts StuckOptions) error {
	in := &stuckInput{opts: opts}
	var errs []string
	for i, d := range dumps {
		gs, err := stuck.ParseDump(d.Dump)
		if err != nil {
			errs = append(errs, fmt.Sprintf("goroutine dump %d: %v", i+1, err))
			continue
		}
		s := stuck.Sample{At: d.At, Goroutines: gs}
		if d.Block != nil {
			p, err := profiles.Parse(d.Block, "block profile", profiles.Options{})
			if err != nil {
				errs = append(errs, fmt.Sprintf("goroutine dump %d: %v", i+1, err))
			} else {
				s.WaitsEnded = stuck.CountWaits(p)
			}
		}
		in.samples = append(in.samples, s)
	}
	b.mu.Lock()
	b.stuck = in
	if len(in.samples) > 0 {
		src := opts.Source
		src.Kind = KindGoroutines
		if src.Time.IsZero() {
			src.Time = in.samples[len(in.samples)-1].At
		}
		b.addSource(src)
	}
	b.mu.Unlock()
	if len(errs) > 0 {
		return fmt.Errorf("report: %s", strings.Join(errs, "; "))
	}
	return nil
}

// addStuck fills the report's stuck and deadlocks sections; b.mu is held.
func (b *Builder) addStuck(r *contention.Report) {
	if b.stuck == nil || len(b.stuck.samples) == 0 {
		return
	}
	var ix stuck.Index
	if b.index != nil {
		ix = stuck.FromMapwrites(b.index)
	}
	o := b.stuck.opts
	res := stuck.Analyze(b.stuck.samples, ix, stuck.Options{Threshold: o.Threshold, AllBlocked: o.AllBlocked})
	r.Stuck, r.Deadlocks = res.Stuck, res.Deadlocks
	if o.AllBlocked {
		r.Notes = append(r.Notes, "every goroutine of the program was blocked: lockscope's agent stepped aside so that the runtime could end it, as it would without lockscope (\"all goroutines are asleep - deadlock!\")")
	}
}

// clearStuck drops the dumps when kinds asks for it (all, or
// KindGoroutines); b.mu is held.
func (b *Builder) clearStuck(all bool, drop map[string]bool) {
	if all || drop[KindGoroutines] {
		b.stuck = nil
	}
}

// StuckText is the stuck and deadlocks sections of r for a person, one
// line each, deadlocks first; place prints a file and line (for example
// relative to the working directory). Nil when both sections are empty.
// The text report prints it as a headline, right after a crash.
func StuckText(r *contention.Report, place func(file string, line int) string) []string {
	if place == nil {
		place = func(file string, line int) string { return fmt.Sprintf("%s:%d", filepath.Base(file), line) }
	}
	var out []string
	for _, d := range r.Deadlocks {
		head := "Deadlock"
		if d.Forever {
			head = "Deadlock (every goroutine of the program was blocked)"
		}
		out = append(out, head+": "+d.Text)
	}
	for _, w := range r.Stuck {
		lock := w.Lock
		if lock == "" {
			lock = "a " + w.Primitive
		}
		s := fmt.Sprintf("Stuck: goroutine %d waits for %s at %s (%s)", w.Goroutine, lock, place(w.File, w.Line), w.Function)
		switch {
		case w.Forever:
			s += ", for good"
		default:
			s += fmt.Sprintf(" for %s at least", time.Duration(w.WaitNs).Round(100*time.Millisecond))
		}
		if len(w.Holders) == 0 && w.Lock != "" {
			s += "; no goroutine is inside a critical section of it (running, or left locked by a return without Unlock?)"
		}
		for _, pw := range w.PendingWriters {
			s += fmt.Sprintf("; behind goroutine %d, which waits to write-lock it at %s", pw.Goroutine, place(pw.File, pw.Line))
		}
		for _, h := range w.Holders {
			if h.Goroutine == w.Goroutine {
				s += fmt.Sprintf("; it took the lock itself at %s", place(h.LockedAt.File, h.LockedAt.Line))
				continue
			}
			s += fmt.Sprintf("; held by goroutine %d, locked at %s", h.Goroutine, place(h.LockedAt.File, h.LockedAt.Line))
			if h.WaitsAt != nil {
				s += fmt.Sprintf(", which waits (%s) at %s", h.State, place(h.WaitsAt.File, h.WaitsAt.Line))
			} else {
				s += fmt.Sprintf(", %s at %s", h.State, place(h.File, h.Line))
			}
		}
		out = append(out, s)
	}
	return out
}
