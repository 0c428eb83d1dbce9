package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/report"
)

func writeJSON(w io.Writer, r *contention.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// textWriter prints the report for a person; it remembers the first write
// error so that the printing code stays linear.
type textWriter struct {
	w     io.Writer
	cwd   string
	err   error
	names *funcNamer
}

func (t *textWriter) f(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

// place is file:line, relative to the working directory when below it.
func (t *textWriter) place(file string, line int) string {
	f := file
	if filepath.IsAbs(f) && t.cwd != "" {
		if rel, err := filepath.Rel(t.cwd, f); err == nil && !strings.HasPrefix(rel, "..") {
			f = rel
		}
	}
	return fmt.Sprintf("%s:%d", f, line)
}

// bar draws share (0..1) as a 20-cell bar.
func bar(share float64) string {
	const cells = 20
	n := int(share*cells + 0.5)
	n = max(0, min(cells, n))
	if n == 0 && share > 0 {
		n = 1
	}
	return strings.Repeat("█", n) + strings.Repeat("·", cells-n)
}

func dur(ns int64) string {
	d := time.Duration(ns)
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	case d >= time.Microsecond:
		return d.Round(10 * time.Nanosecond).String()
	}
	return d.String()
}

// writeText prints the top hotspots of each side, the chains, the map
// writes, a crash and races, and the notes.
func writeText(w io.Writer, r *contention.Report, cwd string, top int) error {
	t := &textWriter{w: w, cwd: cwd, names: newFuncNamer()}
	var inputs []string
	for _, s := range r.Sources {
		in := s.Kind
		if s.Origin != "" {
			in += " (" + s.Origin + ")"
		}
		inputs = append(inputs, in)
	}
	t.f("lockscope report — inputs: %s\n", orNone(strings.Join(dedup(inputs), ", ")))
	// A crash is the headline: it comes before the sections that may all
	// say "none".
	if c := r.Crash; c != nil {
		t.f("\nCrash: %s at %s (%s), goroutine %d\n", c.Reason, t.place(c.File, c.Line), t.fn(c.Function, c.File), c.Goroutine)
		for _, w := range c.Writers {
			t.f("  other writer: %s %s\n", t.place(w.File, w.Line), t.fn(w.Function, w.File))
		}
	}
	// So are a deadlock and the lock waits that never ended.
	if lines := report.StuckText(r, t.place); len(lines) > 0 {
		t.f("\n")
		for _, l := range lines {
			t.f("%s\n", l)
		}
	}

	sections := []struct {
		title, kind string
		lock        bool
	}{
		{"Lock contention, holder side (mutex profile: lines whose Unlock others waited for)", contention.KindMutex, true},
		{"Lock contention, waiter side (block profile: lines that waited to Lock)", contention.KindBlock, true},
		{"Blocked in the trace window (trace: lines where goroutines waited on a lock)", contention.KindTraceBlocked, true},
		{"Other waits, not lock contention (WaitGroup, channel, select, Cond)", contention.KindBlock, false},
	}
	for _, sec := range sections {
		var hs []contention.Hotspot
		for _, h := range r.Hotspots {
			if h.Kind == sec.kind && h.Lock == sec.lock {
				hs = append(hs, h)
			}
		}
		t.f("\n%s\n", sec.title)
		if len(hs) == 0 {
			t.f("  none\n")
			continue
		}
		for i, h := range hs {
			if i == top {
				t.f("  ... %d more (--top, or --json for all)\n", len(hs)-top)
				break
			}
			method := h.Primitive
			if h.Method != "" && h.Method != h.Primitive {
				method += "." + h.Method
			}
			t.f("  %s %5.1f%%  %9s  %6d×  %s  %s  %s%s\n", bar(h.Share), h.Share*100, dur(h.DelayNs), h.Count,
				t.place(h.File, h.Line), t.fn(h.Function, h.File), method, t.libraryLock(h.Via, h.CallSite))
		}
	}

	if len(r.Chains) > 0 {
		t.f("\nBlocking chains (trace: who waited on whom, first waiter to last holder)\n")
		for i, c := range r.Chains {
			if i == top {
				t.f("  ... %d more\n", len(r.Chains)-top)
				break
			}
			var hops []string
			for _, l := range c.Links {
				if l.File == "" && l.Function == "" {
					// Nobody's stack: the runtime woke the waiter (a timer,
					// the network poller).
					hops = append(hops, "the runtime ["+l.Reason+"]")
					continue
				}
				hop := fmt.Sprintf("%s (%s)", t.place(l.File, l.Line), t.fn(l.Function, l.File))
				if l.Reason != "" {
					hop += " [" + l.Reason + "]"
				}
				if l.Queue > 1 {
					hop += fmt.Sprintf(" (a queue of %d on this lock)", l.Queue)
				}
				// The hotspots name the library lock; a hop says where
				// the user's code called into it.
				hops = append(hops, hop+t.libraryLock("", l.CallSite))
			}
			t.f("  %9s %6d×  %s\n", dur(c.WaitNs), c.Count, strings.Join(hops, " → "))
		}
	}

	var shown []contention.MapWrite
	for _, m := range r.MapWrites {
		if m.Contended || m.Unguarded {
			shown = append(shown, m)
		}
	}
	if len(shown) > 0 {
		t.f("\nMap writes to look at\n")
		for i, m := range shown {
			if i == top {
				t.f("  ... %d more\n", len(shown)-top)
				break
			}
			why := "unguarded"
			if m.SometimesUnguarded && len(m.UnguardedVia) > 0 {
				why = "sometimes unguarded: entered without the lock " + t.sites(m.UnguardedVia)
			}
			if m.Guard != "" {
				why = "under " + m.Guard
				if len(m.GuardedVia) > 0 {
					why += " (taken by the caller " + t.sites(m.GuardedVia) + ")"
				}
			}
			if m.Contended {
				why += ", contended: " + dur(m.WaitNs) + " of waiting for it"
			}
			t.f("  %s  %s  %s (%s)  %s\n", t.place(m.File, m.Line), t.fn(m.Function, m.File), m.Map, m.Op, why)
		}
	}
	var same []contention.MapWrite
	for _, m := range r.MapWrites {
		if m.SameLockOnly {
			same = append(same, m)
		}
	}
	if len(same) > 0 {
		t.f("\nSame lock, not seen contended\n")
		for i, m := range same {
			if i == top {
				t.f("  ... %d more\n", len(same)-top)
				break
			}
			t.f("  %s  %s  %s (%s)  under %s\n", t.place(m.File, m.Line), t.fn(m.Function, m.File), m.Map, m.Op, m.Guard)
		}
	}
	if len(r.Breakpoints) > 0 {
		t.f("\nSuggested breakpoints\n")
		for i, b := range r.Breakpoints {
			if i == top {
				t.f("  ... %d more\n", len(r.Breakpoints)-top)
				break
			}
			t.f("  %s  if %s  — %s\n", t.place(b.File, b.Line), b.Condition, t.relPaths(b.Label))
		}
	}
	if len(r.Races) > 0 {
		t.f("\nData races: %d\n", len(r.Races))
		for i, rc := range r.Races {
			if i == top {
				t.f("  ... %d more\n", len(r.Races)-top)
				break
			}
			t.f("  %s %s (goroutine %d)  vs  previous %s %s (goroutine %d)\n",
				rc.Access.Op, t.place(rc.Access.File, rc.Access.Line), rc.Access.Goroutine,
				rc.Previous.Op, t.place(rc.Previous.File, rc.Previous.Line), rc.Previous.Goroutine)
		}
	}
	if len(r.RuntimeInternal) > 0 {
		var total int64
		for _, h := range r.RuntimeInternal {
			total += h.DelayNs
		}
		t.f("\nRuntime-internal contention (no user line to fix): %s over %d sites\n", dur(total), len(r.RuntimeInternal))
	}
	if len(r.Notes) > 0 {
		t.f("\nNotes\n")
		for _, n := range r.Notes {
			t.f("  - %s\n", n)
		}
	}
	return t.err
}

// sites names the first of ss "at file:line (function)", and how many more.
func (t *textWriter) sites(ss []contention.Site) string {
	out := fmt.Sprintf("at %s (%s)", t.place(ss[0].File, ss[0].Line), t.fn(ss[0].Function, ss[0].File))
	if len(ss) > 1 {
		out += fmt.Sprintf(" and %d more", len(ss)-1)
	}
	return out
}

// fn is a function's name as a Go developer writes it (see funcNamer).
func (t *textWriter) fn(fn, file string) string { return t.names.name(fn, file) }

// libraryLock says which library lock a line waited in ("inside
// log.(*Logger).output → sync.Mutex.Lock") and, for a dependency's line,
// where the user's code called it ("via main.go:29").
func (t *textWriter) libraryLock(via string, call *contention.Site) string {
	s := ""
	if via != "" {
		s += "  inside " + via
	}
	if call != nil {
		s += "  via " + t.place(call.File, call.Line)
	}
	return s
}

// relPaths makes the absolute paths in s below the working directory
// relative, as place does for the line column: a breakpoint's label names
// the lines it watches.
func (t *textWriter) relPaths(s string) string {
	if t.cwd == "" || t.cwd == string(filepath.Separator) {
		return s
	}
	return strings.ReplaceAll(s, t.cwd+string(filepath.Separator), "")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func dedup(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
