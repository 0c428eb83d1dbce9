package profiles

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/pprof/profile"
	"github.com/lockscope/lockscope/internal/contention"
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
	// Notes are plain sentences for a person.
	Notes []string `json:"notes"`
}

// maxStacks and maxStackFrames bound the stacks kept per hotspot.
const (
	maxStacks      = 3
	maxStackFrames = 10
	maxWithStacks  = 200
)

// AnalyzeBytes analyzes the bytes of a profile as kind ("" to detect it),
// with the default [Options]. Errors name the input.
func AnalyzeBytes(data []byte, name string, kind string) (Result, error) {
	return AnalyzeData(data, name, kind, Options{})
}

// AnalyzeData is [AnalyzeBytes] with options. It gives the same result as
// [Parse] followed by [Analyze], faster: it decodes the protobuf itself,
// keeping only what the analysis reads (sample stacks and values,
// locations, functions, strings), and walks the samples without building a
// profile.Profile. Input that this fast decoder does not accept (pprof's
// legacy text formats, or anything malformed) goes through [Parse], so
// legacy profiles still work and errors read the same.
func AnalyzeData(data []byte, name string, kind string, opts Options) (r Result, err error) {
	if name == "" {
		name = "profile"
	}
	// The decoder checks every offset it reads; this is the last line of
	// defence, so that hostile input can never take the session down.
	defer func() {
		if e := recover(); e != nil {
			r, err = Result{}, fmt.Errorf("%s: malformed profile (the decoder panicked: %v)", name, e)
		}
	}()
	if err := checkKindArg(kind); err != nil {
		return Result{}, fmt.Errorf("%s: %w", name, err)
	}
	raw, err := decompress(data, name, opts)
	if err != nil {
		return Result{}, err
	}
	a, err := decodeFast(raw)
	if err != nil {
		if errors.Is(err, ErrWrongKind) {
			return Result{}, fmt.Errorf("%s: %w", name, err)
		}
		// Not a protobuf this decoder takes: let pprof's parser have it,
		// for the legacy formats and for its error messages.
		p, perr := parseRaw(raw, name)
		if perr != nil {
			return Result{}, perr
		}
		r, err = Analyze(p, kind)
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", name, err)
		}
		return r, nil
	}
	r, err = a.finish(kind)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", name, err)
	}
	return r, nil
}

// ErrWrongKind is wrapped by errors about a profile of another kind than
// asked for (a CPU profile given as a mutex profile, a block profile given
// as a mutex profile).
var ErrWrongKind = errors.New("wrong kind of profile")

// ErrNoSymbols is wrapped by the error for a profile without function names.
var ErrNoSymbols = errors.New("profile has no symbols")

// DetectKind tells a mutex profile from a block profile. Both carry the
// sample types contentions/count and delay/nanoseconds; they differ in the
// leaf frames: the mutex profile charges Unlock (and runtime.unlock), the
// block profile charges Lock, RLock, Wait, channel operations and select.
func DetectKind(p *profile.Profile) (string, error) {
	a, err := fromProfile(p)
	if err != nil {
		return "", err
	}
	k := a.detected()
	if k == "" {
		return "", fmt.Errorf("cannot tell a mutex profile from a block profile: none of its %d samples ends in a lock, channel or select frame", len(p.Sample))
	}
	return k, nil
}

// Analyze charges every sample of p to a source line. kind is
// contention.KindMutex (holder side: Unlock stacks), contention.KindBlock
// (waiter side: Lock, Wait, channel and select stacks) or "" to detect it.
//
// A sample is charged to its first user frame, walking from the leaf: the
// standard library (runtime, sync, internal/..., sync/atomic, and also fmt's
// sync.Pool or testing) and <autogenerated> frames are skipped. Inlined
// frames count as frames: a Location lists its inlined callees first.
// DelayNs is that flat charge; CumDelayNs adds every sample of the same
// list (hotspots, runtime-internal or excluded) in which the line appears
// anywhere on the user stack.
func Analyze(p *profile.Profile, kind string) (Result, error) {
	if err := checkKindArg(kind); err != nil {
		return Result{}, err
	}
	a, err := fromProfile(p)
	if err != nil {
		return Result{}, err
	}
	return a.finish(kind)
}

func checkKindArg(kind string) error {
	if kind != "" && kind != contention.KindMutex && kind != contention.KindBlock {
		return fmt.Errorf("unknown profile kind %q: want %q or %q", kind, contention.KindMutex, contention.KindBlock)
	}
	return nil
}

// fromProfile runs the analysis over a decoded profile.Profile.
func fromProfile(p *profile.Profile) (*analysis, error) {
	if p == nil {
		return nil, errors.New("no profile")
	}
	var types []valueType
	for _, st := range p.SampleType {
		types = append(types, valueType{st.Type, st.Unit})
	}
	a, err := newAnalysis(types)
	if err != nil {
		return nil, err
	}
	funcs := make([]funcRec, 0, len(p.Function))
	for _, f := range p.Function {
		funcs = append(funcs, funcRec{f.ID, f.Name, f.Filename})
	}
	locs := make([]locRec, 0, len(p.Location))
	for _, l := range p.Location {
		lr := locRec{id: l.ID, lines: make([]lineRec, 0, len(l.Line))}
		for _, ln := range l.Line {
			var fid uint64
			if ln.Function != nil {
				fid = ln.Function.ID
			}
			lr.lines = append(lr.lines, lineRec{fid, ln.Line})
		}
		locs = append(locs, lr)
	}
	a.index(funcs, locs)
	a.stackOf = func(ref int64, buf []int32) []int32 {
		for _, l := range p.Sample[ref].Location {
			i, _ := a.resolve(l.ID)
			buf = append(buf, i)
		}
		return buf
	}
	var stk []int32
	for si, s := range p.Sample {
		if len(s.Value) <= a.delayIdx || len(s.Value) <= a.countIdx {
			continue // CheckValid rejects this; keep the walk safe anyway
		}
		stk = a.stackOf(int64(si), stk[:0])
		a.sample(int64(si), stk, s.Value[a.delayIdx], s.Value[a.countIdx])
	}
	return a, nil
}

// finish settles the kind and builds the result.
func (a *analysis) finish(kind string) (Result, error) {
	if a.unsymbolized > 0 && a.unsymbolized == a.samples {
		return Result{}, fmt.Errorf("%w: none of its %d samples has function names (a legacy text profile written with debug=1, or an unsymbolized one); write it with debug=0, or symbolize it with go tool pprof -proto BINARY PROFILE", ErrNoSymbols, a.samples)
	}
	if a.unsymbolized > 0 {
		a.notes = append(a.notes, fmt.Sprintf("%d of %d samples have no function names and were left out", a.unsymbolized, a.samples))
	}
	got := a.detected()
	switch {
	case kind == "" && got == "":
		if a.samples > 0 {
			return Result{}, fmt.Errorf("cannot tell a mutex profile from a block profile: none of its %d samples ends in a lock, channel or select frame; say which it is", a.samples)
		}
		kind = contention.KindMutex // nothing to charge; the kind does not matter
		a.notes = append(a.notes, "the profile is empty, so its kind (mutex or block) could not be told")
	case kind == "":
		kind = got
	case got != "" && got != kind && a.vote(kind) == 0:
		return Result{}, fmt.Errorf("%w: asked for a %s profile, but this is a %s profile (%s)", ErrWrongKind, kind, got, kindEvidence(got))
	}
	if a.mutexVotes > 0 && a.blockVotes > 0 {
		a.notes = append(a.notes, fmt.Sprintf("the profile mixes holder-side (Unlock) and waiter-side (Lock/Wait) stacks, as a merged profile would; it was read as a %s profile", kind))
	}
	return a.result(kind), nil
}

func kindEvidence(k string) string {
	if k == contention.KindMutex {
		return "its stacks end in Unlock: the holder side"
	}
	return "its stacks end in Lock, Wait, channel or select: the waiter side"
}

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
	// whole location when it has no user frame), as an index into prims.
	prim uint8
	// runtimeLeaf is true when the innermost frame is a runtime lock.
	runtimeLeaf bool
}

// lineKey names one source line of one function.
type lineKey struct {
	fn   int32
	line int64
}

// acc accumulates one hotspot.
type acc struct {
	line     int32
	delay    int64
	count    int64
	prims    []primVote
	top      [maxStacks]int64 // sample refs, heaviest first; -1 when unused
	topDelay [maxStacks]int64
}

type primVote struct {
	p     uint8
	delay int64
	n     int64
}

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
	notes        []string
}

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
func (a *analysis) index(funcs []funcRec, locs []locRec) {
	c := newClassifier(funcs)
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

func containsLine(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
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
	var prim uint8
	site := int32(-1)
	siteLoc, siteFrame := -1, -1
	for k, l := range stk {
		li := &a.locs[l]
		if li.prim != 0 {
			prim = li.prim
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
		switch prims[prim].method {
		case "Unlock", "RUnlock":
			a.mutexVotes += w
		case "":
		default:
			a.blockVotes += w
		}
		if site < 0 {
			// No user frame at all: a goroutine of the runtime or the
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

func (a *analysis) vote(kind string) int64 {
	if kind == contention.KindMutex {
		return a.mutexVotes
	}
	return a.blockVotes
}

// detected is the kind the stacks vote for, or "" when they do not vote.
func (a *analysis) detected() string {
	m, b := a.mutexVotes, a.blockVotes
	switch {
	case m == 0 && b == 0:
		return ""
	case m >= b:
		return contention.KindMutex
	default:
		return contention.KindBlock
	}
}

func (a *analysis) result(kind string) Result {
	r := Result{Kind: kind, TotalDelayNs: a.total, Samples: a.samples}
	r.Hotspots = a.hotspots(catUser, kind, true)
	r.RuntimeInternal = a.hotspots(catRuntime, kind, true)
	r.Excluded = a.hotspots(catExcluded, kind, false) // no shares: they are not hotspots
	r.Notes = append([]string{}, a.notes...)
	if a.samples == 0 && a.negative == 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("the %s profile has no samples: nothing was recorded as contended (is the profiling rate set?)", kind))
	}
	if a.negative > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d samples with negative values were skipped", a.negative))
	}
	for _, h := range r.Hotspots {
		if h.File != "" && !filepath.IsAbs(h.File) && !strings.HasPrefix(h.File, "/") {
			r.Notes = append(r.Notes, fmt.Sprintf("source paths are not absolute (e.g. %s): the program was built with -trimpath; resolve them against the module root", h.File))
			break
		}
	}
	for _, h := range r.Excluded {
		r.Notes = append(r.Notes, fmt.Sprintf("%s at %s:%d waited %v in %s.%s: the root goroutine waiting for its workers, left out of the hotspots", h.Function, h.File, h.Line, time.Duration(h.DelayNs), h.Primitive, h.Method))
	}
	if len(r.RuntimeInternal) > 0 {
		var t int64
		for _, h := range r.RuntimeInternal {
			t = addSat(t, h.DelayNs)
		}
		r.Notes = append(r.Notes, fmt.Sprintf("%v of contention on the runtime's own locks (%d sites) is listed apart from the user hotspots", time.Duration(t), len(r.RuntimeInternal)))
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
		}
		out = append(out, hs)
	}
	if shares {
		contention.ComputeShares(out)
	}
	return out
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

// addSat adds two non-negative int64s, saturating instead of wrapping: a
// hostile profile must not turn a huge delay negative.
func addSat(x, y int64) int64 {
	if y > 0 && x > math.MaxInt64-y {
		return math.MaxInt64
	}
	return x + y
}
