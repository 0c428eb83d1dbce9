package mapwrites

import (
	"path/filepath"

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

// Join marks the writes whose guard shows contention and returns them
// (the input is not changed).
//
// A write is contended when its guard — the same mutex object, wherever it
// is locked — has evidence: a mutex-profile or trace-blocks hotspot (the
// holder side) on one of the mutex's Unlock or RUnlock lines, deferred ones
// included, or a block-profile or trace-blocked hotspot (the waiter side)
// on one of its Lock or RLock lines. Only hotspots at or above the
// threshold count (see [JoinOptions]). WaitNs is the evidence's delay: the
// larger of the per-kind sums, since the holder and waiter views measure
// the same waits from two sides. Unguarded writes have no lock and are never
// contended; a program whose locks never wait gets no contended write.
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

	// evidence[mutexID][kind] is the delay charged to the mutex's lines.
	evidence := map[string]map[string]int64{}
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
			if evidence[s.MutexID] == nil {
				evidence[s.MutexID] = map[string]int64{}
			}
			evidence[s.MutexID][h.Kind] += h.DelayNs
		}
	}

	out := make([]contention.MapWrite, len(writes))
	for i, w := range writes {
		w.Writers = append([]contention.Site{}, w.Writers...)
		w.Contended, w.WaitNs, w.Waiters = false, 0, 0
		if ev := evidence[w.GuardID]; w.GuardID != "" && len(ev) > 0 {
			w.Contended = true
			for _, d := range ev {
				w.WaitNs = max(w.WaitNs, d)
			}
			if opts.WindowNs > 0 {
				waiting := ev[contention.KindBlock]
				if waiting == 0 {
					waiting = ev[contention.KindTraceBlocked]
				}
				w.Waiters = float64(waiting) / float64(opts.WindowNs)
			}
		}
		out[i] = w
	}
	return out
}
