// The result types, and how the accumulated samples become them.

package profiles

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/usercode"
)

// Result is what one mutex or block profile says about the program.
type Result struct {
	// Kind is contention.KindMutex or contention.KindBlock.
	Kind string `json:"kind"`
	// Hotspots are the user lines, one per line, in display order, with
	// Share computed over this list.
	Hotspots []contention.Hotspot `json:"hotspots"`
	// RuntimeInternal is contention on the runtime's own locks
	// (runtime.unlock, runtime._LostContendedRuntimeLock), and any stack
	// without a user frame. Each entry sits on the first user frame of its
	// stack when there is one, otherwise on the runtime function that
	// released the lock (or the caller of the outermost sync frame).
	// Primitive is PrimRuntime for the runtime's locks; Lock is false.
	RuntimeInternal []contention.Hotspot `json:"runtimeInternal"`
	// Excluded are waits that are not hotspots: a program's root goroutine
	// (main.main, or a test function) parked on a WaitGroup, channel,
	// select or sync.Cond. They mostly wait for the workers for the whole
	// run, so their delay says how long the program ran, not where it
	// contended. Locks are never excluded.
	Excluded []contention.Hotspot `json:"excluded"`
	// TotalDelayNs is the delay of every sample in the profile, as pprof
	// reports it as the total (hotspots + runtime-internal + excluded).
	TotalDelayNs int64 `json:"totalDelayNs"`
	// Samples is the number of samples read.
	Samples int `json:"samples"`
	// Notes are plain sentences for a person, each with a code to choose
	// them by.
	Notes []Note `json:"notes"`
}

// maxStacks and maxStackFrames bound the stacks kept per hotspot.
const (
	maxStacks      = 3
	maxStackFrames = 10
	maxWithStacks  = 200
)

// result builds the Result of a profile read as kind, with its notes.
func (a *analysis) result(kind string) Result {
	r := Result{Kind: kind, TotalDelayNs: a.total, Samples: a.samples}
	r.Hotspots = a.hotspots(catUser, kind, true)
	r.RuntimeInternal = a.hotspots(catRuntime, kind, true)
	r.Excluded = a.hotspots(catExcluded, kind, false) // no shares: they are not hotspots
	r.Notes = append([]Note{}, a.notes...)
	if a.samples == 0 && a.negative == 0 {
		r.Notes = append(r.Notes, Note{
			Code: NoteNoSamples,
			Text: fmt.Sprintf("the %s profile has no samples: nothing was recorded as contended", kind),
			Hint: "is the profiling rate set?",
		})
	}
	if a.negative > 0 {
		r.Notes = append(r.Notes, Note{Code: NoteNegativeValues, Text: fmt.Sprintf("%d samples with negative values were skipped", a.negative)})
	}
	for _, h := range r.Hotspots {
		if h.File != "" && !filepath.IsAbs(h.File) && !strings.HasPrefix(h.File, "/") {
			r.Notes = append(r.Notes, Note{Code: NoteTrimpath, Text: fmt.Sprintf("source paths are not absolute (e.g. %s): the program was built with -trimpath; resolve them against the module root", h.File)})
			break
		}
	}
	for _, h := range r.Excluded {
		r.Notes = append(r.Notes, Note{Code: NoteRootWait, Text: fmt.Sprintf("%s at %s:%d waited %v in %s.%s: the root goroutine waiting for its workers, left out of the hotspots", h.Function, h.File, h.Line, time.Duration(h.DelayNs), h.Primitive, h.Method)})
	}
	if len(r.RuntimeInternal) > 0 {
		var t int64
		for _, h := range r.RuntimeInternal {
			t = addSat(t, h.DelayNs)
		}
		r.Notes = append(r.Notes, Note{Code: NoteRuntimeInternal, Text: fmt.Sprintf("%v of contention on the runtime's own locks (%d sites) is listed apart from the user hotspots", time.Duration(t), len(r.RuntimeInternal))})
	}
	return r
}

// hotspots builds the hotspots of one category in display order, with
// shares when asked, and stacks for the first maxWithStacks of them: a
// person reads the top of the list, and rendering stacks for every line of
// a profile with thousands of contended lines would cost more than the
// rest of the analysis.
func (a *analysis) hotspots(cat int, kind string, shares bool) []contention.Hotspot {
	var accs []*acc
	for _, h := range a.accs[cat] {
		if h != nil {
			h.settle()
			accs = append(accs, h)
		}
	}
	primOf := func(h *acc) primitive {
		p := prims[h.prims[0].p]
		if p.prim == "" {
			p.prim = contention.PrimOther
		}
		return p
	}
	// Sort the small accumulators, not the large Hotspot values, in
	// contention.SortHotspots's order (TestSortedAsContention checks).
	sort.Slice(accs, func(i, j int) bool {
		x, y := accs[i], accs[j]
		if lx, ly := contention.IsLockPrimitive(primOf(x).prim), contention.IsLockPrimitive(primOf(y).prim); lx != ly {
			return lx
		}
		if x.delay != y.delay {
			return x.delay > y.delay
		}
		fx, fy := a.funcs[a.lines[x.line].fn].file, a.funcs[a.lines[y.line].fn].file
		if fx != fy {
			return fx < fy
		}
		if lx, ly := a.lines[x.line].line, a.lines[y.line].line; lx != ly {
			return lx < ly
		}
		return a.funcs[a.lines[x.line].fn].name < a.funcs[a.lines[y.line].fn].name
	})
	out := make([]contention.Hotspot, 0, len(accs))
	for i, h := range accs {
		lk := a.lines[h.line]
		f := a.funcs[lk.fn]
		p := primOf(h)
		hs := contention.Hotspot{
			Kind:       kind,
			File:       f.file,
			Line:       int(lk.line),
			Function:   f.display,
			Primitive:  p.prim,
			Method:     p.method,
			DelayNs:    h.delay,
			CumDelayNs: max(a.cum[cat][h.line], h.delay),
			Count:      h.count,
			Lock:       contention.IsLockPrimitive(p.prim),
		}
		if f.display != f.name {
			hs.PprofFunction = f.name
		}
		if i < maxWithStacks {
			hs.Stacks = a.stacks(h)
			if cat == catUser {
				hs.Via, hs.CallSite = a.viaAndCallSite(h, p)
			}
		}
		out = append(out, hs)
	}
	if shares {
		contention.ComputeShares(out)
	}
	return out
}

// viaAndCallSite reads the hotspot's heaviest stack: the standard-library
// function that took the lock for the charged line, when there is one
// ("log.(*Logger).output → sync.Mutex.Lock"), and, for a dependency's line,
// the main module's line that called into it.
func (a *analysis) viaAndCallSite(h *acc, p primitive) (via string, call *contention.Site) {
	if h.top[0] < 0 {
		return "", nil
	}
	past, charged := false, false
	for _, l := range a.stackOf(h.top[0], nil) {
		for _, fr := range a.locs[l].frames {
			f := &a.funcs[fr.fn]
			switch {
			case charged:
				if f.class == usercode.User {
					return via, &contention.Site{File: f.file, Line: int(a.lines[fr.line].line), Function: f.display}
				}
			case fr.line == h.line && f.user:
				if f.class == usercode.User {
					return via, nil
				}
				charged = true
			case !past && f.class != usercode.Runtime:
				past = true
				if f.class == usercode.Std {
					via = viaText(f.display, p)
				}
			}
		}
	}
	return via, nil
}

// viaText names a library lock: the function that took it, and the
// primitive as a person writes it ("sync.Mutex.Lock", "chan").
func viaText(fn string, p primitive) string {
	switch {
	case p.prim == "":
		return fn
	case strings.HasPrefix(p.prim, "sync.") && p.method != "":
		return fn + " → " + p.prim + "." + p.method
	}
	return fn + " → " + p.prim
}

// stacks renders the heaviest samples of a hotspot, from its site outward,
// user frames only (all frames when the site is not user code), merging
// samples that look the same once runtime frames are dropped.
func (a *analysis) stacks(h *acc) [][]contention.Frame {
	var out [][]contention.Frame
	seen := map[string]bool{}
	siteUser := a.funcs[a.lines[h.line].fn].user
	var stk []int32
	for _, ref := range h.top {
		if ref < 0 {
			break
		}
		stk = a.stackOf(ref, stk[:0])
		var st []contention.Frame
		started := false
		key := make([]byte, 0, 64)
	walk:
		for _, l := range stk {
			for _, fr := range a.locs[l].frames {
				if !started && fr.line != h.line {
					continue
				}
				started = true
				f := a.funcs[fr.fn]
				if siteUser && !f.user {
					continue
				}
				lk := a.lines[fr.line]
				st = append(st, contention.Frame{Function: f.name, File: f.file, Line: int(lk.line)})
				key = strconv.AppendInt(key, int64(fr.line), 10)
				key = append(key, ',')
				if len(st) == maxStackFrames {
					break walk
				}
			}
		}
		if len(st) == 0 || seen[string(key)] {
			continue
		}
		seen[string(key)] = true
		out = append(out, st)
	}
	return out
}
