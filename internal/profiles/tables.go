// The tables: the profile's functions, lines and locations resolved once
// into dense slices, so that the walk over samples does slice lookups only.

package profiles

import (
	"fmt"

	"github.com/lockscope/lockscope/internal/usercode"
)

// Categories of a sample.
const (
	catUser = iota
	catRuntime
	catExcluded
	numCats
)

// The neutral input of the analysis, filled from a profile.Profile or by
// the fast decoder.
type (
	valueType struct{ typ, unit string }
	funcRec   struct {
		id         uint64
		name, file string
	}
	lineRec struct {
		fnID uint64 // 0: no function
		line int64
	}
	locRec struct {
		id    uint64
		lines []lineRec
	}
)

// frameRef is one frame of a location: a function and a line-table index.
type frameRef struct {
	fn   int32 // index into analysis.funcs
	line int32 // index into analysis.lines
}

// locInfo caches what one Location contributes, computed once per location.
type locInfo struct {
	frames []frameRef // innermost (inlined callee) first
	// userLines are the distinct user line indices, for cumulative delay.
	userLines []int32
	// firstUser is the index in frames of the first user frame, or -1.
	firstUser int32
	// prim is the outermost known primitive before firstUser (or in the
	// whole location when it has no user frame), as an index into prims;
	// leafPrim the innermost one.
	prim, leafPrim uint8
	// runtimeLeaf is true when the innermost frame is a runtime lock.
	runtimeLeaf bool
}

// lineKey names one source line of one function.
type lineKey struct {
	fn   int32
	line int64
}

// analysis is one profile's tables and the accumulators the samples are
// charged to. It is filled once and read once, by one goroutine.
type analysis struct {
	delayIdx int
	countIdx int
	nValues  int
	funcs    []funcInfo
	lines    []lineKey
	locs     []locInfo
	// locIdx maps a location ID to its index in locs, plus one (zero:
	// unknown), when IDs are dense; locByID otherwise.
	locIdx  []int32
	locByID map[uint64]int32
	// dupIDs is set when two locations or two functions share an ID,
	// which pprof rejects as malformed.
	dupIDs bool
	// stackOf returns the location indices of the sample with this ref.
	stackOf    func(ref int64, buf []int32) []int32
	accs       [numCats][]*acc // by line index
	cum        [numCats][]int64
	stamp      []int32
	mutexVotes int64 // weight of samples charged at Unlock or runtime.unlock
	blockVotes int64 // weight of samples charged at Lock, Wait, chan, select
	total      int64
	samples    int
	negative   int
	// unsymbolized counts samples without a single named frame.
	unsymbolized int
	notes        []Note
}

// newAnalysis finds the delay and count among the sample types, or says
// what kind of profile this is instead.
func newAnalysis(types []valueType) (*analysis, error) {
	a := &analysis{delayIdx: -1, countIdx: -1, nValues: len(types)}
	var names []string
	for i, st := range types {
		names = append(names, st.typ+"/"+st.unit)
		switch {
		case st.typ == "delay" && st.unit == "nanoseconds":
			a.delayIdx = i
		case st.typ == "contentions":
			a.countIdx = i
		}
	}
	if a.delayIdx < 0 || a.countIdx < 0 {
		hint := ""
		for _, t := range names {
			switch t {
			case "cpu/nanoseconds":
				hint = " (a CPU profile)"
			case "inuse_space/bytes", "alloc_space/bytes":
				hint = " (a heap profile)"
			case "goroutine/count":
				hint = " (a goroutine profile)"
			}
		}
		return nil, fmt.Errorf("%w: not a mutex or block profile: its sample types are %v%s, want contentions/count and delay/nanoseconds", ErrWrongKind, names, hint)
	}
	return a, nil
}

// index resolves functions and locations into dense tables, so the walk
// over samples does slice lookups only.
func (a *analysis) index(funcs []funcRec, locs []locRec, code usercode.Rules) {
	c := newClassifier(funcs, code)
	fnByID := make(map[uint64]int32, len(funcs))
	a.funcs = make([]funcInfo, 0, len(funcs))
	for _, f := range funcs {
		_, dup := fnByID[f.id]
		a.dupIDs = a.dupIDs || dup
		fnByID[f.id] = int32(len(a.funcs))
		a.funcs = append(a.funcs, c.info(f.name, f.file))
	}
	var maxID uint64
	for _, l := range locs {
		maxID = max(maxID, l.id)
	}
	if maxID <= uint64(4*len(locs)+64) {
		a.locIdx = make([]int32, maxID+1)
	} else {
		a.locByID = make(map[uint64]int32, len(locs))
	}
	a.locs = make([]locInfo, 0, len(locs))
	lineIdx := make(map[lineKey]int32, len(locs))
	unknown := int32(-1)
	for _, l := range locs {
		li := locInfo{firstUser: -1}
		li.frames = make([]frameRef, 0, len(l.lines))
		for _, ln := range l.lines {
			fi, ok := fnByID[ln.fnID]
			if !ok {
				if unknown < 0 {
					unknown = int32(len(a.funcs))
					a.funcs = append(a.funcs, funcInfo{name: "?", display: "?"})
				}
				fi = unknown
			}
			k := lineKey{fi, ln.line}
			idx, ok := lineIdx[k]
			if !ok {
				idx = int32(len(a.lines))
				lineIdx[k] = idx
				a.lines = append(a.lines, k)
			}
			li.frames = append(li.frames, frameRef{fi, idx})
		}
		for j, fr := range li.frames {
			f := &a.funcs[fr.fn]
			if j == 0 {
				li.runtimeLeaf = f.runtimeLock
			}
			if f.user {
				if li.firstUser < 0 {
					li.firstUser = int32(j)
				}
				if !containsLine(li.userLines, fr.line) {
					li.userLines = append(li.userLines, fr.line)
				}
				continue
			}
			if li.firstUser < 0 && f.prim != 0 {
				li.prim = f.prim
				if li.leafPrim == 0 {
					li.leafPrim = f.prim
				}
			}
		}
		n := int32(len(a.locs))
		a.locs = append(a.locs, li)
		if a.locIdx != nil {
			a.dupIDs = a.dupIDs || a.locIdx[l.id] != 0
			a.locIdx[l.id] = n + 1
		} else {
			_, dup := a.locByID[l.id]
			a.dupIDs = a.dupIDs || dup
			a.locByID[l.id] = n
		}
	}
	for c := range a.accs {
		a.accs[c] = make([]*acc, len(a.lines))
		a.cum[c] = make([]int64, len(a.lines))
	}
	a.stamp = make([]int32, len(a.lines))
}

// resolve maps a location ID to its index in a.locs.
func (a *analysis) resolve(id uint64) (int32, bool) {
	if a.locIdx != nil {
		if id < uint64(len(a.locIdx)) && a.locIdx[id] > 0 {
			return a.locIdx[id] - 1, true
		}
		return 0, false
	}
	i, ok := a.locByID[id]
	return i, ok
}

// containsLine reports whether v is in s (a location's few user lines).
func containsLine(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
