// Attribution to sites: charging each sample to its first user frame (or
// to the runtime, or to the excluded root waits), and accumulating the
// hotspots with their primitives and heaviest stacks.

package profiles

import (
	"math"
	"sort"

	"github.com/lockscope/lockscope/internal/contention"
)

// acc accumulates one hotspot.
type acc struct {
	line     int32
	delay    int64
	count    int64
	prims    []primVote
	top      [maxStacks]int64 // sample refs, heaviest first; -1 when unused
	topDelay [maxStacks]int64
}

// primVote is the weight of one primitive among a hotspot's samples.
type primVote struct {
	p     uint8
	delay int64
	n     int64
}

// sample charges one sample. ref finds the sample again for its stack; stk
// holds its location indices, leaf first.
func (a *analysis) sample(ref int64, stk []int32, delay, count int64) {
	if delay < 0 || count < 0 {
		a.negative++
		return
	}
	a.samples++
	a.total = addSat(a.total, delay)
	if len(stk) == 0 {
		return
	}
	seq := int32(a.samples)
	var prim, leafPrim uint8
	site := int32(-1)
	siteLoc, siteFrame := -1, -1
	for k, l := range stk {
		li := &a.locs[l]
		if li.prim != 0 {
			prim = li.prim
		}
		if leafPrim == 0 {
			leafPrim = li.leafPrim
		}
		if li.firstUser >= 0 {
			site = li.frames[li.firstUser].line
			siteLoc, siteFrame = k, int(li.firstUser)
			break
		}
	}
	if site < 0 && !a.symbolized(stk) {
		a.unsymbolized++
		return
	}
	cat := catUser
	w := weight(delay, count)
	if a.locs[stk[0]].runtimeLeaf {
		cat = catRuntime
		prim = primRuntimeUnlock
		a.mutexVotes += w
		if site < 0 {
			site = a.runtimeSite(stk)
		}
	} else {
		if m := prims[leafPrim].method; (m == "Unlock" || m == "RUnlock") && prims[prim].prim == contention.PrimCond {
			// sync.Cond.Wait unlocks its lock before it parks: in the
			// mutex profile that Unlock is the holder side of c.L, not a
			// wait on the Cond (every net/http server has one).
			prim = leafPrim
		}
		switch prims[prim].method {
		case "Unlock", "RUnlock":
			a.mutexVotes += w
		case "":
		default:
			a.blockVotes += w
		}
		if site < 0 && prim != 0 && !contention.IsLockPrimitive(prims[prim].prim) {
			// No frame of the user's or a dependency's, and no lock: an
			// idle goroutine of the standard library (net/http's
			// connections in select, a reader on a channel). It is neither
			// contention nor the user's; it stays in the total only.
			return
		}
		if site < 0 {
			// No user frame at all: a lock of the runtime or the
			// standard library. It is not the user's to fix.
			cat = catRuntime
			site = a.outerSite(stk)
		} else if prim != 0 && !contention.IsLockPrimitive(prims[prim].prim) && a.rootWait(stk, siteLoc, siteFrame) {
			cat = catExcluded
		}
	}
	if site < 0 {
		return
	}
	h := a.accs[cat][site]
	if h == nil {
		h = &acc{line: site, top: [maxStacks]int64{-1, -1, -1}}
		a.accs[cat][site] = h
	}
	h.delay = addSat(h.delay, delay)
	h.count = addSat(h.count, count)
	h.vote(prim, delay, count)
	h.keepTop(ref, delay)
	// Cumulative: every distinct user line on the stack, once per sample.
	cum := a.cum[cat]
	for _, l := range stk {
		for _, ln := range a.locs[l].userLines {
			if a.stamp[ln] != seq {
				a.stamp[ln] = seq
				cum[ln] = addSat(cum[ln], delay)
			}
		}
	}
	if a.stamp[site] != seq { // a non-user site (runtime-internal)
		a.stamp[site] = seq
		cum[site] = addSat(cum[site], delay)
	}
}

// symbolized reports whether any frame of the stack has a function.
func (a *analysis) symbolized(stk []int32) bool {
	for _, l := range stk {
		for _, fr := range a.locs[l].frames {
			if a.funcs[fr.fn].name != "?" && a.funcs[fr.fn].name != "" {
				return true
			}
		}
	}
	return false
}

// weight is what a sample adds to the kind vote: its delay, or its count
// when the delay is zero.
func weight(delay, count int64) int64 {
	if delay > 0 {
		return delay
	}
	return count
}

// runtimeSite is the frame that released a runtime lock: the first frame
// past the runtime.unlock chain.
func (a *analysis) runtimeSite(stk []int32) int32 {
	first := int32(-1)
	for _, l := range stk {
		for _, fr := range a.locs[l].frames {
			if first < 0 {
				first = fr.line
			}
			if !a.funcs[fr.fn].runtimeLock {
				return fr.line
			}
		}
	}
	return first
}

// outerSite is, for a stack without user frames, the caller of the
// outermost known primitive, or the leaf when there is none.
func (a *analysis) outerSite(stk []int32) int32 {
	site, afterPrim := int32(-1), false
	for _, l := range stk {
		for _, fr := range a.locs[l].frames {
			if site < 0 || afterPrim {
				site, afterPrim = fr.line, false
			}
			if a.funcs[fr.fn].prim != 0 {
				afterPrim = true
			}
		}
	}
	return site
}

// rootWait reports whether the user frame at (locIdx, frameIdx) is the root
// of the program or of a test: main.main, or a function called by the
// testing package's runner.
func (a *analysis) rootWait(stk []int32, locIdx, frameIdx int) bool {
	frames := a.locs[stk[locIdx]].frames
	if a.funcs[frames[frameIdx].fn].name == "main.main" {
		return true
	}
	// The caller of the site: the next frame outward.
	if frameIdx+1 < len(frames) {
		return a.funcs[frames[frameIdx+1].fn].testRoot
	}
	if locIdx+1 < len(stk) {
		next := a.locs[stk[locIdx+1]].frames
		return len(next) > 0 && a.funcs[next[0].fn].testRoot
	}
	return false
}

// vote adds a sample's delay and count to primitive p.
func (h *acc) vote(p uint8, delay, count int64) {
	for i := range h.prims {
		if h.prims[i].p == p {
			h.prims[i].delay = addSat(h.prims[i].delay, delay)
			h.prims[i].n = addSat(h.prims[i].n, count)
			return
		}
	}
	h.prims = append(h.prims, primVote{p, delay, count})
}

// settle orders the primitive votes, heaviest first, so prims[0] is the
// hotspot's primitive, and makes sure there is one.
func (h *acc) settle() {
	sort.SliceStable(h.prims, func(i, j int) bool {
		if h.prims[i].delay != h.prims[j].delay {
			return h.prims[i].delay > h.prims[j].delay
		}
		return h.prims[i].n > h.prims[j].n
	})
	if len(h.prims) == 0 {
		h.prims = append(h.prims, primVote{})
	}
}

// keepTop keeps the sample among the hotspot's maxStacks heaviest.
func (h *acc) keepTop(ref int64, delay int64) {
	for i := range h.top {
		if h.top[i] < 0 || delay > h.topDelay[i] {
			copy(h.top[i+1:], h.top[i:len(h.top)-1])
			copy(h.topDelay[i+1:], h.topDelay[i:len(h.topDelay)-1])
			h.top[i], h.topDelay[i] = ref, delay
			return
		}
	}
}

// addSat adds two non-negative int64s, saturating instead of wrapping: a
// hostile profile must not turn a huge delay negative.
func addSat(x, y int64) int64 {
	if y > 0 && x > math.MaxInt64-y {
		return math.MaxInt64
	}
	return x + y
}
