package mapwrites

import (
	"path/filepath"
	"strings"

	"github.com/lockscope/lockscope/internal/contention"
)

// DefaultMinShare is the share of its kind's total wait a hotspot must
// reach to count as contention: 1%. Below it, a lock that waited a few
// microseconds once in a quiet program would be called contended.
const DefaultMinShare = 0.01

// JoinOptions tunes [Join].
type JoinOptions struct {
	// MinShare is the least share (0..1] of the total DelayNs of its kind
	// (mutex, block, trace-blocked, trace-blocks) that a hotspot needs to
	// count as evidence. Zero means DefaultMinShare.
	MinShare float64
	// MinWaitNs is an absolute floor on a hotspot's DelayNs; zero means none.
	MinWaitNs int64
	// WindowNs is the length of the capture window the hotspots came from.
	// When set, each contended write gets Waiters: the waiter-side wait on
	// its guard divided by the window, the mean number of goroutines
	// waiting for it.
	WindowNs int64
}

// Join marks the writes whose guard shows contention, and where, and
// returns them (the input is not changed).
//
// Evidence for a mutex — the same mutex object, wherever it is locked — is
// a mutex-profile or trace-blocks hotspot (the holder side) on one of its
// Unlock or RUnlock lines, deferred ones included, or a block-profile or
// trace-blocked hotspot (the waiter side) on one of its Lock or RLock
// lines. Only hotspots at or above the threshold count (see
// [JoinOptions]).
//
// A write under such a mutex is contended when the contention was seen
// where the write is: when the write's function, or a function that takes
// the lock for it (a helper's GuardedVia), is the function of one of those
// hotspots or appears on their stacks. WaitNs is the delay of the hotspots
// seen there (the larger of the per-kind sums, since the holder and waiter
// views measure the same waits from two sides), so writes rank by the
// contention on their own paths. A write under the same mutex that the
// contention was not seen near (a method nobody called, a path that never
// waited) is SameLockOnly: not contended, and worth no breakpoint.
// Unguarded writes have no lock and are never contended; a program whose
// locks never wait gets no contended write.
//
// Waiters, for a contended write, is the waiter-side wait on its guard
// divided by the window: the mean number of goroutines waiting for the
// lock, wherever they wait.
//
// In optimised builds the runtime charges a deferred Unlock to the
// function's exit (its closing brace or a return), not to the defer line;
// the profiles package moves such hotspots back to the defer line
// (Hotspot.ExitLine), and the waiter side on the Lock line is unaffected.
func Join(writes []contention.MapWrite, sites []LockSite, hotspots []contention.Hotspot, opts JoinOptions) []contention.MapWrite {
	minShare := opts.MinShare
	if minShare <= 0 {
		minShare = DefaultMinShare
	}
	total := map[string]int64{}
	for _, h := range hotspots {
		if h.DelayNs > 0 {
			total[h.Kind] += h.DelayNs
		}
	}

	type lineKey struct {
		file string
		line int
	}
	byLine := map[lineKey][]LockSite{}
	for _, s := range sites {
		k := lineKey{filepath.Clean(s.File), s.Line}
		byLine[k] = append(byLine[k], s)
	}

	// evidence[mutexID] is the hotspots charged to the mutex's lines, with
	// the functions where each was seen.
	evidence := map[string][]seen{}
	for _, h := range hotspots {
		if h.DelayNs <= 0 || h.DelayNs < opts.MinWaitNs {
			continue
		}
		if float64(h.DelayNs) < minShare*float64(total[h.Kind]) {
			continue
		}
		var lockSide bool
		switch h.Kind {
		case contention.KindBlock, contention.KindTraceBlocked:
			lockSide = true
		case contention.KindMutex, contention.KindTraceBlocks:
			lockSide = false
		default:
			continue
		}
		// One line may hold several sites (two mutexes on one line);
		// charge each mutex once.
		charged := map[string]bool{}
		for _, s := range byLine[lineKey{filepath.Clean(h.File), h.Line}] {
			if s.Locks() != lockSide || charged[s.MutexID] {
				continue
			}
			charged[s.MutexID] = true
			funcs := map[string]bool{funcName(s.Function): true, funcName(h.Function): true}
			for _, st := range h.Stacks {
				for _, f := range st {
					funcs[funcName(f.Function)] = true
				}
			}
			evidence[s.MutexID] = append(evidence[s.MutexID], seen{kind: h.Kind, delay: h.DelayNs, funcs: funcs})
		}
	}

	out := make([]contention.MapWrite, len(writes))
	for i, w := range writes {
		w = copyWrite(w)
		w.Contended, w.WaitNs, w.Waiters, w.SameLockOnly = false, 0, 0, false
		ev := evidence[w.GuardID]
		if w.GuardID == "" || len(ev) == 0 {
			out[i] = w
			continue
		}
		where := map[string]bool{funcName(w.Function): true}
		for _, s := range w.GuardedVia {
			where[funcName(s.Function)] = true
		}
		near, all := map[string]int64{}, map[string]int64{}
		for _, e := range ev {
			all[e.kind] += e.delay
			for f := range where {
				if e.funcs[f] {
					near[e.kind] += e.delay
					break
				}
			}
		}
		if len(near) == 0 {
			w.SameLockOnly = true
			out[i] = w
			continue
		}
		w.Contended = true
		for _, d := range near {
			w.WaitNs = max(w.WaitNs, d)
		}
		if opts.WindowNs > 0 {
			waiting := all[contention.KindBlock]
			if waiting == 0 {
				waiting = all[contention.KindTraceBlocked]
			}
			w.Waiters = float64(waiting) / float64(opts.WindowNs)
		}
		out[i] = w
	}
	return out
}

// seen is one hotspot that is evidence for a mutex: its kind, its delay,
// and the functions where it was seen (the function of the lock call and
// those on its stacks), named by funcName.
type seen struct {
	kind  string
	delay int64
	funcs map[string]bool
}

// funcName names a function so that the index's names and the runtime's
// agree: type arguments dropped (the index writes (*LRU[...]).Add, pprof
// (*LRU[go.shape.string,go.shape.int]).Add), and a compiler wrapper
// (.deferwrap1, .gowrap2) counted as its function.
func funcName(name string) string {
	var sb strings.Builder
	depth := 0
	for _, r := range name {
		switch {
		case r == '[':
			depth++
		case r == ']' && depth > 0:
			depth--
		case depth == 0:
			sb.WriteRune(r)
		}
	}
	n := sb.String()
	if i := strings.LastIndex(n, "."); i >= 0 {
		last := strings.TrimRight(n[i+1:], "0123456789")
		if last == "deferwrap" || last == "gowrap" {
			n = n[:i]
		}
	}
	return n
}
