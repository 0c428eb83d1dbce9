// Package stuck finds goroutines that wait for a lock and do not get it:
// the deadlocks and the locks held for a whole capture window that
// neither profile shows (a wait is recorded when it ends) and a trace
// window drops (its wait is still open when the trace ends).
//
// Its input is goroutine dumps ([ParseDump]: the goroutine profile with
// debug=2, runtime.Stack, a crash's dump) and the source index. The
// runtime prints a goroutine's wait time only from one minute on, and only
// once a garbage collection has seen the goroutine waiting, so the wait
// time of shorter waits comes from comparing dumps ([Sample]): a goroutine
// found in the very same wait (same id, state, and frames down to the
// instruction) in two dumps, with no lock wait at its line ended in
// between (the block profile's count of ended waits did not move), has
// waited at least the time between them. The second condition is what
// keeps a hot lock out: eight goroutines taking turns on one mutex are
// found waiting on the same line in every dump, but their waits end by
// the thousand.
//
// The holder of the lock is the goroutine whose stack sits inside a
// critical section of that lock, as the source index ([Index]) knows
// them; a cycle of waiters and holders is a [contention.Deadlock].
//
// The package does no I/O and knows nothing of DAP.
package stuck

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
)

// DefaultThreshold is how long a goroutine must wait for a lock before it
// is reported: 2 s. Healthy lock waits last microseconds, and even a lock
// that eight goroutines fight over (testdata/ledger) hands over within
// milliseconds; the continuity rule (no wait ended at the line in between)
// already keeps such queues out, so the threshold only has to be long
// enough that a holder descheduled on a loaded machine, or paused by a
// garbage collection, is not reported, and short enough that a lock held
// for a whole capture window of a few seconds is.
const DefaultThreshold = 2 * time.Second

// AgentFileName is the file of lockscope's injected agent
// (internal/capture.AgentFileName); goroutines that run its code are
// lockscope's, not the program's.
const AgentFileName = "zz_lockscope_agent.go"

// Sample is one goroutine dump and what is known of the moment it was
// taken.
type Sample struct {
	At         time.Time
	Goroutines []Goroutine
	// WaitsEnded counts the lock waits that had ended by then, by every
	// line on their stacks (see [CountWaits]); nil when unknown. Waits
	// shorter than a minute are found only between two samples that both
	// have it.
	WaitsEnded map[Line]int64
}

// Line is a source line.
type Line struct {
	File string
	Line int
}

// Lock is a lock as the source index knows it.
type Lock struct {
	Expr string // the mutex expression as written, e.g. reg.mu
	ID   string // names the mutex variable or field (mapwrites.LockSite.MutexID)
	Kind string // contention.PrimMutex or contention.PrimRWMutex
	Read bool   // held or taken with RLock
	// LockedAt is the Lock or RLock call that took it (for Held).
	LockedAt contention.Site
}

// Index is what the analysis needs from the source index; see
// [FromMapwrites].
type Index interface {
	// LockCall returns the lock that a Lock or RLock call on file:line
	// takes.
	LockCall(file string, line int) (Lock, bool)
	// Held returns the locks certainly held at file:line, before the
	// line's own statement runs, each with the call that took it.
	Held(file string, line int) []Lock
}

// Options tunes [Analyze].
type Options struct {
	// Threshold is how long a wait must have lasted; 0 means
	// DefaultThreshold.
	Threshold time.Duration
	// AllBlocked says that the last sample was taken while every
	// goroutine of the program was blocked (the agent found it so and
	// stepped aside): every lock wait in it is for good, whatever its
	// length.
	AllBlocked bool
}

// Result is the analysis: the stuck waits, longest first, and the cycles
// among them.
type Result struct {
	Stuck     []contention.StuckWait
	Deadlocks []contention.Deadlock
}

// lockReasons are the runtime's wait reasons of a goroutine in Lock.
var lockReasons = map[string]string{
	"sync.Mutex.Lock":    contention.PrimMutex,
	"sync.RWMutex.Lock":  contention.PrimRWMutex,
	"sync.RWMutex.RLock": contention.PrimRWMutex,
}

// Analyze finds the goroutines of the last sample that wait for a lock
// past the threshold, their holders, and the cycles among them. Samples
// are in the order they were taken. ix may be nil: the lines are then
// still named, but no lock expression and no holder.
func Analyze(samples []Sample, ix Index, opts Options) Result {
	res := Result{Stuck: []contention.StuckWait{}, Deadlocks: []contention.Deadlock{}}
	if len(samples) == 0 {
		return res
	}
	threshold := opts.Threshold
	if threshold <= 0 {
		threshold = DefaultThreshold
	}
	last := samples[len(samples)-1]
	prog := program(last.Goroutines)
	for _, g := range prog {
		prim, ok := lockReason(g)
		if !ok {
			continue
		}
		at, ok := waitFrame(g)
		if !ok {
			continue
		}
		waited := since(samples, g, Line{at.File, at.Line})
		if m := time.Duration(g.Minutes) * time.Minute; m > waited {
			waited = m
		}
		if waited < threshold && !opts.AllBlocked {
			continue
		}
		w := contention.StuckWait{
			Goroutine: g.ID, File: at.File, Line: at.Line, Function: at.Function,
			Reason: g.State, Primitive: prim, LockAddr: lockAddr(g),
			WaitNs: int64(waited), Forever: opts.AllBlocked,
			Holders: []contention.LockHolder{}, Stack: frames(g.Frames),
		}
		if g.CreatedBy != nil {
			f := contention.Frame{Function: g.CreatedBy.Function, File: g.CreatedBy.File, Line: g.CreatedBy.Line}
			w.CreatedBy = &f
		}
		if ix != nil {
			if l, ok := ix.LockCall(at.File, at.Line); ok {
				w.Lock, w.LockID = l.Expr, l.ID
				w.Holders = holders(prog, ix, l.ID)
				if g.State == "sync.RWMutex.RLock" {
					w.PendingWriters = writers(prog, ix, g.ID, l.ID)
				}
			}
		}
		res.Stuck = append(res.Stuck, w)
	}
	sort.SliceStable(res.Stuck, func(i, j int) bool {
		a, b := res.Stuck[i], res.Stuck[j]
		if a.WaitNs != b.WaitNs {
			return a.WaitNs > b.WaitNs
		}
		return a.Goroutine < b.Goroutine
	})
	res.Deadlocks = cycles(res.Stuck, opts.AllBlocked)
	return res
}

// program leaves out lockscope's own goroutines: those that run the
// agent's code.
func program(gs []Goroutine) []Goroutine {
	out := make([]Goroutine, 0, len(gs))
	for _, g := range gs {
		if !agent(g) {
			out = append(out, g)
		}
	}
	return out
}

func agent(g Goroutine) bool {
	for _, f := range g.Frames {
		if agentFrame(f) {
			return true
		}
	}
	return g.CreatedBy != nil && agentFrame(*g.CreatedBy)
}

func agentFrame(f Frame) bool {
	return filepath.Base(f.File) == AgentFileName || strings.Contains(f.Function, ".lockscopeAgent")
}

// lockReason reports whether g waits in Lock or RLock, and the primitive.
// Runtimes before Go 1.24 say "semacquire" for every semaphore; the
// frames tell a lock from the rest there.
func lockReason(g Goroutine) (string, bool) {
	if p, ok := lockReasons[g.State]; ok {
		return p, true
	}
	if g.State != "semacquire" {
		return "", false
	}
	for _, f := range g.Frames {
		switch f.Function {
		case "sync.(*Mutex).Lock", "sync.(*Mutex).lockSlow":
			return contention.PrimMutex, true
		case "sync.(*RWMutex).Lock", "sync.(*RWMutex).RLock":
			return contention.PrimRWMutex, true
		}
	}
	return "", false
}

// machinery reports whether a frame belongs to the runtime or the sync
// packages, which a wait passes through on its way to the caller's line.
func machinery(fn string) bool {
	for _, p := range []string{"runtime.", "sync.", "internal/sync.", "internal/runtime/"} {
		if strings.HasPrefix(fn, p) {
			return true
		}
	}
	return false
}

// waitFrame is g's first frame outside the runtime and sync: the line
// that called Lock (or the library function that did).
func waitFrame(g Goroutine) (Frame, bool) {
	for _, f := range g.Frames {
		if !machinery(f.Function) {
			return f, true
		}
	}
	return Frame{}, false
}

// lockAddr is the mutex address the lock slow path was called with.
func lockAddr(g Goroutine) string {
	for _, f := range g.Frames {
		switch f.Function {
		case "internal/sync.(*Mutex).lockSlow", "sync.(*Mutex).lockSlow", "sync.(*RWMutex).Lock", "sync.(*RWMutex).RLock":
			return f.Arg0
		}
	}
	return ""
}

// since is how long g has certainly been in its present wait: from the
// earliest sample from which every sample shows the same wait, as long as
// no lock wait at its line ended in between.
func since(samples []Sample, g Goroutine, at Line) time.Duration {
	last := samples[len(samples)-1]
	if last.WaitsEnded == nil {
		return 0
	}
	ended := last.WaitsEnded[at]
	start := -1
	for i := len(samples) - 2; i >= 0; i-- {
		s := samples[i]
		if s.WaitsEnded == nil || s.WaitsEnded[at] != ended || !sameWait(s.Goroutines, g) {
			break
		}
		start = i
	}
	if start < 0 {
		return 0
	}
	return max(last.At.Sub(samples[start].At), 0)
}

// sameWait reports whether gs holds g in the very same wait.
func sameWait(gs []Goroutine, g Goroutine) bool {
	for _, h := range gs {
		if h.ID != g.ID {
			continue
		}
		if h.State != g.State || len(h.Frames) != len(g.Frames) {
			return false
		}
		for i := range h.Frames {
			a, b := h.Frames[i], g.Frames[i]
			if a.Function != b.Function || a.File != b.File || a.Line != b.Line || a.PC != b.PC {
				return false
			}
		}
		return true
	}
	return false
}

// holders are the goroutines whose stacks sit inside a critical section
// of lock id: some frame of theirs is on a line where the index says the
// lock is held. One holder per goroutine, at its innermost such frame.
func holders(prog []Goroutine, ix Index, id string) []contention.LockHolder {
	out := []contention.LockHolder{}
	for _, h := range prog {
	frames:
		for _, f := range h.Frames {
			if machinery(f.Function) {
				continue
			}
			for _, l := range ix.Held(f.File, f.Line) {
				if l.ID != id {
					continue
				}
				lh := contention.LockHolder{
					Goroutine: h.ID, LockedAt: l.LockedAt, File: f.File, Line: f.Line,
					Function: f.Function, Read: l.Read, State: h.State,
				}
				if h.State != "running" && h.State != "runnable" {
					if wf, ok := waitFrame(h); ok {
						lh.WaitsAt = &contention.Site{File: wf.File, Line: wf.Line, Function: wf.Function}
					}
				}
				out = append(out, lh)
				break frames
			}
		}
	}
	return out
}

// writers are the goroutines other than self waiting in Lock of lock id.
func writers(prog []Goroutine, ix Index, self int64, id string) []contention.Waiter {
	var out []contention.Waiter
	for _, h := range prog {
		if h.ID == self || h.State != "sync.RWMutex.Lock" {
			continue
		}
		if f, ok := waitFrame(h); ok {
			if l, ok := ix.LockCall(f.File, f.Line); ok && l.ID == id {
				out = append(out, contention.Waiter{Goroutine: h.ID, File: f.File, Line: f.Line, Function: f.Function})
			}
		}
	}
	return out
}

func frames(fs []Frame) []contention.Frame {
	out := make([]contention.Frame, len(fs))
	for i, f := range fs {
		out[i] = contention.Frame{Function: f.Function, File: f.File, Line: f.Line}
	}
	return out
}

// maxCycles bounds the cycles reported, and maxSteps the search for them:
// a hostile dump with thousands of waiters on one field must not make the
// search exponential.
const (
	maxCycles = 32
	maxSteps  = 100000
)

// cycles finds the elementary cycles of the waits-for graph among the
// stuck waits (an edge from each waiter to each holder of its lock that is
// itself stuck), each once, starting from its smallest goroutine id.
func cycles(stuck []contention.StuckWait, forever bool) []contention.Deadlock {
	byID := map[int64]*contention.StuckWait{}
	var ids []int64
	for i := range stuck {
		if byID[stuck[i].Goroutine] == nil {
			byID[stuck[i].Goroutine] = &stuck[i]
			ids = append(ids, stuck[i].Goroutine)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	next := func(g int64) []int64 {
		var out []int64
		for _, h := range byID[g].Holders {
			if byID[h.Goroutine] != nil {
				out = append(out, h.Goroutine)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
		return out
	}
	out := []contention.Deadlock{}
	steps := 0
	for _, start := range ids {
		var path []int64
		onPath := map[int64]bool{}
		var dfs func(g int64)
		dfs = func(g int64) {
			if len(out) >= maxCycles || steps >= maxSteps {
				return
			}
			steps++
			path = append(path, g)
			onPath[g] = true
			for _, h := range next(g) {
				switch {
				case h == start:
					out = append(out, deadlock(path, byID, forever))
				case h > start && !onPath[h]:
					dfs(h)
				}
			}
			onPath[g] = false
			path = path[:len(path)-1]
		}
		dfs(start)
	}
	return out
}

// deadlock describes one cycle: path[k] waits for a lock path[k+1] holds.
func deadlock(path []int64, byID map[int64]*contention.StuckWait, forever bool) contention.Deadlock {
	d := contention.Deadlock{Goroutines: append([]int64{}, path...), Forever: forever}
	n := len(path)
	var text []string
	for k, g := range path {
		w := byID[g]
		prev := byID[path[(k+n-1)%n]] // waits for the lock g holds
		link := contention.DeadlockLink{
			Goroutine: g, Holds: lockName(*prev), WaitsFor: lockName(*w),
			WaitsAt: contention.Site{File: w.File, Line: w.Line, Function: w.Function},
		}
		for _, h := range prev.Holders {
			if h.Goroutine == g {
				link.LockedAt = h.LockedAt
				break
			}
		}
		d.Links = append(d.Links, link)
		if n == 1 {
			t := fmt.Sprintf("goroutine %d holds %s (%s) and waits for it again at %s",
				g, link.Holds, short(link.LockedAt), short(link.WaitsAt))
			for _, pw := range w.PendingWriters {
				t += fmt.Sprintf(", behind goroutine %d, which waits to write-lock it at %s", pw.Goroutine, short(contention.Site{File: pw.File, Line: pw.Line}))
			}
			text = append(text, t)
			continue
		}
		text = append(text, fmt.Sprintf("goroutine %d holds %s (%s) and waits for %s at %s",
			g, link.Holds, short(link.LockedAt), link.WaitsFor, short(link.WaitsAt)))
	}
	d.Text = strings.Join(text, "; ")
	return d
}

func lockName(w contention.StuckWait) string {
	if w.Lock != "" {
		return w.Lock
	}
	return "a " + w.Primitive
}

func short(s contention.Site) string {
	if s.File == "" {
		return "?"
	}
	return fmt.Sprintf("%s:%d", filepath.Base(s.File), s.Line)
}
