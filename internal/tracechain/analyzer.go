// Package tracechain turns a Go execution trace (read with
// golang.org/x/exp/trace) into blocking chains and trace hotspots of the
// [contention] model: who blocked whom, hop by hop, and on which lines.
//
// The [Analyzer] is a streaming summariser in the shape of Go's
// internal/trace summary.go: [NewAnalyzer], then [Analyzer.Event] for each
// event in order, then [Analyzer.Finalize]. It keeps only the current state
// of each live goroutine and aggregates keyed by interned source locations,
// so its memory follows the largest generation of the trace, not the size of
// the file. [Analyze] drives a [trace.Reader] over an io.Reader, one
// generation at a time (generations.go), and on more than one core on a
// goroutine of its own, ahead of the analyser (pipeline.go); a file is
// analysed one generation per core, by an analyser each, merged in order
// into the same result (parallel.go).
//
// How a wait is read from the trace (facts measured on Go 1.26 traces):
//   - A wait begins at the blocked goroutine's own Running->Waiting
//     transition; its stack ends in the primitive, e.g. sync.(*Mutex).Lock
//     then the user frame.
//   - It ends at Waiting->Runnable. The goroutine that emits that transition
//     is the unblocker, and the event's stack is the unblocker's (e.g.
//     sync.(*Mutex).Unlock then the user frame). Timer, netpoll and scheduler
//     wake-ups carry no goroutine.
//   - Waiting->Waiting is re-emitted at every generation boundary and carries
//     no reason, so state survives generations. Undetermined->Waiting means
//     the goroutine was blocked before tracing began: its start is unknown,
//     and a wait that ends in the trace is not counted (as in
//     `go tool trace -pprof=sync`).
//   - A lock wait still open when the trace ends is charged to its line up
//     to the trace's end (from the trace's start when it began before it),
//     and marked open (contention.Hotspot.OpenWaits): a lock held for the
//     whole window is the worst stall there is, and neither profile has it
//     until the lock is released. Open channel, select and WaitGroup waits
//     are mostly idle goroutines; they are only counted in
//     Result.OpenWaits.
//
// A wait is charged to its first frame in the user's code or a
// dependency's (internal/usercode decides, Options.Code); a lock taken
// inside the standard library (a log.Logger's) goes to the caller, and the
// hotspot and link name it (Via); a dependency's line carries the main
// module's call site (CallSite).
//
// Traces carry no lock address, so a chain names lines, and the lock comes
// from the source. Goroutines queued on one lock, each released by the one
// before, are one link with a queue length, not a chain (queue.go).
package tracechain

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/usercode"
	"golang.org/x/exp/trace"
)

// Options tune the analysis. The zero value is usable.
type Options struct {
	// Name names the input in errors and notes (a file path, say).
	Name string
	// MaxDepth caps the number of edges in one chain (default 6).
	MaxDepth int
	// MaxChains caps the number of chains returned (default 50).
	MaxChains int
	// MaxStackFrames caps the frames kept for each hotspot's stack
	// (default 8).
	MaxStackFrames int
	// Code says whose code a frame is (the program's modules). A wait is
	// charged to its first frame in the user's code or a dependency's; a
	// lock taken inside the standard library is charged to the caller
	// and named in Via. The zero value decides by paths and names.
	Code usercode.Rules
}

func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = "trace"
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = 6
	}
	if o.MaxChains <= 0 {
		o.MaxChains = 50
	}
	if o.MaxStackFrames <= 0 {
		o.MaxStackFrames = 8
	}
	return o
}

// Edge is one aggregated "blocked here, released there" pair.
type Edge struct {
	Reason    string           `json:"reason"`
	Primitive string           `json:"primitive"` // e.g. sync.Mutex, chan
	Blocked   contention.Frame `json:"blocked"`   // first user frame of the waiter
	// BlockedIn is the primitive frame of the waiter, e.g. sync.(*Mutex).Lock.
	BlockedIn string `json:"blockedIn,omitempty"`
	// Unblocker is the first user frame of the goroutine that made the
	// waiter runnable; zero when the runtime did (timer, netpoll).
	Unblocker   contention.Frame `json:"unblocker"`
	UnblockedIn string           `json:"unblockedIn,omitempty"` // e.g. sync.(*Mutex).Unlock
	ByRuntime   bool             `json:"byRuntime,omitempty"`   // no goroutine unblocked it
	WaitNs      int64            `json:"waitNs"`
	Count       int64            `json:"count"`
}

// Result is what one trace says.
type Result struct {
	// Chains are ordered for display: lock waits first, then other sync
	// waits (WaitGroup), then channel and select waits, each by wait time.
	// Links run from the first waiter to the last holder.
	Chains []contention.Chain `json:"chains"`
	// Hotspots are of kinds contention.KindTraceBlocked (waiters were
	// blocked at this line) and contention.KindTraceBlocks (this line
	// released waiters: it held what they waited for).
	Hotspots []contention.Hotspot `json:"hotspots"`
	// Edges are every distinct (reason, blocked line, unblocker line), by
	// wait time.
	Edges []Edge `json:"edges"`
	// Truncated is true when the trace ended inside a generation; the
	// complete generations before it were analysed.
	Truncated bool     `json:"truncated"`
	Notes     []string `json:"notes"`
	// TotalSyncWaitNs is the wait time of every completed wait whose reason
	// `go tool trace -pprof=sync` counts (channel, select, sync).
	TotalSyncWaitNs int64 `json:"totalSyncWaitNs"`
	// LockWaitNs is the part of TotalSyncWaitNs spent in sync.Mutex and
	// sync.RWMutex.
	LockWaitNs int64 `json:"lockWaitNs"`
	// Waits counts the completed waits behind TotalSyncWaitNs.
	Waits int64 `json:"waits"`
	// OpenWaits counts followed waits still open when the trace ended.
	// The lock waits among them are charged to their hotspots up to the
	// trace's end (OpenLockWaitNs); the others are not counted anywhere
	// else. None of them is in TotalSyncWaitNs, LockWaitNs or Waits.
	OpenWaits int64 `json:"openWaits"`
	// OpenLockWaitNs is the time charged to hotspots for lock waits still
	// open when the trace ended, each up to the trace's end.
	OpenLockWaitNs int64 `json:"openLockWaitNs,omitempty"`
	// Generations counts the complete generations read; Events counts
	// every event.
	Generations int   `json:"generations"`
	Events      int64 `json:"events"`
	// DurationNs spans the first to the last event.
	DurationNs int64 `json:"durationNs"`
}

// loc is one interned source line.
type loc struct {
	fn, file string
	line     int
	// stack is the first stack seen with this line as its first user
	// frame, user frames first.
	stack []contention.Frame
	// viaFn is the standard-library function that took the lock for this
	// line on that stack (contention.Hotspot.Via names it with the
	// primitive), callSite the main module's line that called it when this
	// line is a dependency's.
	viaFn    string
	callSite *contention.Site
	// stackLock: stack is a lock wait's. A line's first lock stack
	// replaces a first stack of another kind (see labelAgg).
	stackLock bool
}

type siteKey struct {
	fn, file string
	line     uint64
}

// stackInfo is what the analyser needs from one stack. It is cached per
// generation, because trace.Stack handles are only valid in theirs.
type stackInfo struct {
	loc      int32   // first user frame; -1 if none (a runtime-only stack)
	top      int32   // loc, or the first frame of a runtime-only stack; -1 if empty
	primFunc string  // frame just above the first frame past the runtime, e.g. sync.(*Mutex).Lock
	prim     int32   // primFunc interned
	cum      []int32 // distinct locations of every user frame

	// One-entry edge cache, for this stack as the waiter's: the edge
	// last made with releaser stack ecUnb (nil: the runtime).
	ecValid  bool
	ecReason uint8
	ecUnb    *stackInfo
	ecEdge   int32

	// timed is 1 + the stack's index in the timed waits' stacks of a
	// generation's analyser (parallel.go), 0 before it is needed.
	timed int32
}

type edgeKey struct {
	reason             uint8
	byRuntime          bool  // no goroutine released the wait
	blocked, unblocker int32 // -1: no stack
	blockedIn          int32 // interned primitive frames
	unblockedIn        int32
}

type edgeAgg struct {
	key           edgeKey
	waitNs, count int64
	// One-entry cache of cons(this edge, consTail).
	consTail, consNode int32
}

// chainNode is an interned chain as a cons list: edge then tail.
type chainNode struct {
	edge          int32
	tail          int32 // 0: end
	waitNs, count int64
}

type nodeKey struct{ edge, tail int32 }

// gstate is the current state of one live goroutine.
type gstate struct {
	waiting bool // in a followed wait
	// sinceStart: the wait began before the trace did (waitStart is the
	// trace's start); it counts only if it is still open at the end.
	sinceStart bool
	reason     uint8
	waitStart  trace.Time
	stack      *stackInfo
	// The goroutine's last completed followed wait and its chain; a
	// goroutine that releases another is part of the other's chain when
	// this wait overlaps the other's.
	lastStart, lastEnd trace.Time
	lastChain          int32

	// For the analyser of one generation among several (parallel.go):
	// the positions in the generation of waitStart, lastStart and lastEnd
	// (startPos -1: a wait since before the trace), and pending: the
	// goroutine's state at the generation's start is unknown, and its
	// events are kept for the merge. lastChain < 0 names the kept event
	// whose replay leaves the goroutine's last wait.
	startPos, lastStartPos, lastEndPos int64
	pending                            bool
}

type agg struct {
	delay, count int64
	// Lock waits still open at the end of the trace (in delay and count
	// too), and the longest of them.
	open, openMax int64
	prim          string // primitive of the first wait seen (see label)
	reason        uint8
	method        string
}

// label names the primitive of an aggregate as its waits come: the first
// wait's, until a lock wait comes to a line whose first wait was of
// another kind. On a loaded machine a line that waits on a lock thousands
// of times can first wait elsewhere (a goroutine that starts the first GC
// in log.getBuffer's allocation waits for the mark workers on a channel),
// and that one wait must not name the line.
func (ag *agg) label(prim string, reason uint8, method string) {
	if ag.relabels(prim) {
		ag.prim, ag.reason, ag.method = prim, reason, method
	}
}

// relabels reports whether a wait in prim names the aggregate (label).
func (ag *agg) relabels(prim string) bool {
	return ag.count == 0 || (!contention.IsLockPrimitive(ag.prim) && contention.IsLockPrimitive(prim))
}

// Analyzer follows waits through a trace. It is not safe for concurrent use.
type Analyzer struct {
	opts Options

	locs       []loc
	locIdx     map[siteKey]int32
	reasons    []string
	reasonSync []bool // SyncReason of each reason
	noStack    *stackInfo
	stacks     map[trace.Stack]*stackInfo

	gs map[trace.GoID]*gstate

	edges   []edgeAgg
	edgeIdx map[edgeKey]int32
	nodes   []chainNode // nodes[0] is the empty chain
	nodeIdx map[nodeKey]int32

	prims   []string // interned primitive frames; prims[0] is ""
	primIdx map[string]int32

	// Aggregates indexed by location; count 0 means none.
	blocked []agg // by blocked location
	blocks  []agg // by unblocker location
	cum     []int64

	// code classifies frames; its GOROOT is the trace's own once a
	// standard-library frame has shown it (gorootSeen).
	code       usercode.Rules
	gorootSeen bool

	res        Result
	openNs     int64 // charged for open lock waits at the end
	syncs      int
	first, end trace.Time
	seen       bool

	// pos is the current event's position (Events-1).
	pos int64
	// w is set on the analyser of one generation among several
	// (parallel.go); track, on the merging analyser while it replays a
	// generation's kept events.
	w     *genWork
	track *replayTrack
}

// NewAnalyzer returns an analyser ready for the first event.
func NewAnalyzer(opts Options) *Analyzer {
	return &Analyzer{
		opts:    opts.withDefaults(),
		code:    opts.Code,
		locIdx:  map[siteKey]int32{},
		noStack: &stackInfo{loc: -1, top: -1},
		stacks:  map[trace.Stack]*stackInfo{},
		gs:      map[trace.GoID]*gstate{},
		edgeIdx: map[edgeKey]int32{},
		nodes:   []chainNode{{}},
		nodeIdx: map[nodeKey]int32{},
		prims:   []string{""},
		primIdx: map[string]int32{"": 0},
	}
}

// Event feeds the next event of the trace, in the reader's order.
func (a *Analyzer) Event(ev *trace.Event) {
	a.eventAt(ev, ev.Time())
}

// eventAt is Event, with the event's time given: analyzeEvents makes the
// times of a trace read one generation at a time increase across
// generations, as one reader over the whole trace does.
func (a *Analyzer) eventAt(ev *trace.Event, t trace.Time) {
	a.pos = a.res.Events
	a.res.Events++
	if !a.seen {
		a.first, a.seen = t, true
	}
	if t > a.end {
		a.end = t
	}
	if w := a.w; w != nil && w.windowPos == noWindow {
		if a.pos == 0 {
			w.key0 = timeKey(0, t)
		}
		if t-a.first >= timeWindow {
			w.closeWindow(a.pos, t)
		}
	}
	switch ev.Kind() {
	case trace.EventSync:
		// A new generation: its stacks are new handles, so the old cache
		// can only grow. Per-goroutine state stays.
		a.syncs++
		clear(a.stacks)
		return
	case trace.EventStateTransition:
	default:
		return
	}
	st := ev.StateTransition()
	if st.Resource.Kind != trace.ResourceGoroutine {
		return
	}
	from, to := st.Goroutine()
	if from != trace.GoWaiting && to != trace.GoWaiting && to != trace.GoNotExist {
		// A followed wait ends only out of Waiting: nothing to do, and
		// this is most transitions, so skip the lookup.
		return
	}
	a.transition(st.Resource.Goroutine(), from, to, st.Reason, st.Stack, ev.Stack(), ev.Goroutine(), t)
}

// transition is eventAt for a goroutine's transition into or out of
// Waiting, or out of existence: the goroutine, its states, the wait
// reason and stack of the transition, the stack and goroutine of the
// event (the goroutine that emitted it: the unblocker of a wait that
// ends), and the event's time. The merge of generations analysed apart
// replays kept transitions through it (parallel.go).
func (a *Analyzer) transition(id trace.GoID, from, to trace.GoState, reason string, stStack, evStack trace.Stack, by trace.GoID, t trace.Time) {
	g := a.gs[id]
	if to == trace.GoNotExist {
		// The goroutine is gone; it can release no one any more.
		if a.w != nil && !a.w.fresh {
			// Its state from before the generation goes too, at the
			// merge.
			a.gs[id] = &gstate{}
			return
		}
		delete(a.gs, id)
		return
	}
	if a.w != nil && !a.w.fresh && (g == nil || g.pending) {
		// What this does depends on the goroutine's state at the
		// generation's start: kept for the merge.
		a.w.keep(a, id, g, from, to, reason, stStack, evStack, by, t)
		return
	}
	if g != nil && g.waiting {
		if to == trace.GoWaiting {
			// Re-emitted at a generation boundary: the same wait.
			return
		}
		if g.sinceStart {
			// Its start is unknown: not counted, as go tool trace does.
			g.waiting, g.sinceStart = false, false
			return
		}
		a.endWait(id, g, by, evStack, t, to)
		return
	}
	if to != trace.GoWaiting {
		return
	}
	if from == trace.GoUndetermined {
		// First sight of a goroutine blocked since before the trace: its
		// status carries no reason, but its stack names the primitive.
		// Only a lock wait is followed, to be charged if it is still open
		// at the end.
		si := a.stackInfo(stStack)
		if si.loc >= 0 && contention.IsLockPrimitive(primitiveOf(si.primFunc, "")) {
			if g == nil {
				g = &gstate{}
				a.gs[id] = g
			}
			g.waiting, g.sinceStart = true, true
			g.waitStart, g.startPos = a.first, -1
			g.reason = a.reason(reason)
			g.stack = si
		}
		return
	}
	if r := a.reason(reason); a.reasonSync[r] {
		if g == nil {
			g = &gstate{}
			a.gs[id] = g
		}
		g.waiting = true
		g.waitStart, g.startPos = t, a.pos
		g.reason = r
		g.stack = a.stackInfo(evStack)
	}
}

func (a *Analyzer) endWait(id trace.GoID, g *gstate, by trace.GoID, evStack trace.Stack, t trace.Time, to trace.GoState) {
	g.waiting = false
	d := int64(t - g.waitStart)
	if d <= 0 {
		// go tool trace drops empty waits too; a negative one would be a
		// reader bug, and must not poison the totals.
		return
	}
	a.res.Waits++
	a.res.TotalSyncWaitNs += d
	bl := g.stack.loc
	reason := a.reasons[g.reason]
	prim := primitiveOf(g.stack.primFunc, reason)
	if contention.IsLockPrimitive(prim) {
		a.res.LockWaitNs += d
	}
	if bl >= 0 {
		ag := &a.blocked[bl]
		if a.track != nil && ag.relabels(prim) {
			// A replay named the line (parallel.go): so may the
			// generation's own waits.
			a.track.blocked[bl] = true
		}
		ag.label(prim, g.reason, methodOf(g.stack.primFunc))
		ag.delay += d
		ag.count++
	}
	for _, c := range g.stack.cum {
		a.cum[c] += d
	}

	// Who released it? Only a Waiting->Runnable made by another goroutine
	// names one; the runtime's wake-ups (timers, netpoll) have none.
	unb := int32(-1)
	unbPrim := int32(0)
	byRuntime := true
	var usi *stackInfo
	var tail int32
	if to == trace.GoRunnable && by != trace.NoGoroutine && by != id {
		byRuntime = false
		si := a.stackInfo(evStack)
		usi = si
		unb, unbPrim = si.top, si.prim
		if si.loc >= 0 && bl >= 0 {
			ag := &a.blocks[unb]
			p := primitiveOf(si.primFunc, "")
			if p == contention.PrimOther {
				p = prim
			}
			if a.track != nil && ag.relabels(p) {
				a.track.blocks[unb] = true
			}
			ag.label(p, g.reason, methodOf(si.primFunc))
			ag.delay += d
			ag.count++
		}
		// The releaser was itself blocked during this wait: its wait is
		// the next hop.
		if h := a.gs[by]; h != nil && h.lastChain != 0 && h.lastEnd > g.waitStart && h.lastStart < t {
			tail = h.lastChain
		}
	}
	if bl < 0 {
		// No user frame (a runtime goroutine's own wait): nothing a person
		// can act on, and no chain to extend through it.
		g.lastChain = 0
		if a.w != nil {
			a.w.timed(a, g, -1, 0, unbCharged(usi, bl, unb), t)
		}
		return
	}
	// Most waits at one stack are released by one stack: a one-entry
	// cache on the waiter's stack saves hashing the edge key.
	bs := g.stack
	var e int32
	if bs.ecValid && bs.ecUnb == usi && bs.ecReason == g.reason {
		e = bs.ecEdge
	} else {
		e = a.edge(edgeKey{reason: g.reason, byRuntime: byRuntime, blocked: bl, unblocker: unb, blockedIn: bs.prim, unblockedIn: unbPrim})
		bs.ecValid, bs.ecUnb, bs.ecReason, bs.ecEdge = true, usi, g.reason, e
	}
	a.edges[e].waitNs += d
	a.edges[e].count++
	ea := &a.edges[e]
	n := ea.consNode
	if n == 0 || ea.consTail != tail {
		if a.w != nil {
			// The tail may be a wait the merge has yet to replay:
			// chains are made there (parallel.go).
			n = a.w.rawNode(a, e, tail)
		} else {
			n = a.cons(e, tail)
		}
		ea.consTail, ea.consNode = tail, n
	}
	a.nodes[n].waitNs += d
	a.nodes[n].count++
	if a.w != nil {
		a.w.timed(a, g, e, n, unbCharged(usi, bl, unb), t)
	}
	g.lastStart, g.lastEnd, g.lastChain = g.waitStart, t, n
	g.lastStartPos, g.lastEndPos = g.startPos, a.pos
}

// unbCharged is the line a wait's releaser was charged in blocks, or -1.
func unbCharged(usi *stackInfo, bl, unb int32) int32 {
	if usi != nil && usi.loc >= 0 && bl >= 0 {
		return unb
	}
	return -1
}

// cons interns the chain "edge e, then the chain tail". A hop that repeats
// an edge already in the tail is a queue on one lock (or a cycle): the tail
// is cut there, so a queue stays one edge with a count.
func (a *Analyzer) cons(e, tail int32) int32 {
	if tail != 0 && a.nodes[tail].edge == e {
		return tail
	}
	keep := a.opts.MaxDepth - 1
	i := 0
	for n := tail; n != 0; n = a.nodes[n].tail {
		if a.nodes[n].edge == e && i < keep {
			keep = i
		}
		i++
	}
	if i > keep {
		tail = a.truncate(tail, keep)
	}
	n, _ := a.internNode(e, tail)
	return n
}

// internNode returns the node "edge e, then tail", and whether it is new.
func (a *Analyzer) internNode(e, tail int32) (int32, bool) {
	k := nodeKey{e, tail}
	if n, ok := a.nodeIdx[k]; ok {
		return n, false
	}
	n := int32(len(a.nodes))
	a.nodes = append(a.nodes, chainNode{edge: e, tail: tail})
	a.nodeIdx[k] = n
	return n, true
}

func (a *Analyzer) truncate(n int32, keep int) int32 {
	if n == 0 || keep <= 0 {
		return 0
	}
	return a.cons(a.nodes[n].edge, a.truncate(a.nodes[n].tail, keep-1))
}

func (a *Analyzer) edge(k edgeKey) int32 {
	if e, ok := a.edgeIdx[k]; ok {
		return e
	}
	e := int32(len(a.edges))
	a.edges = append(a.edges, edgeAgg{key: k})
	a.edgeIdx[k] = e
	return e
}

// reason interns a wait reason. The runtime has a score of them, so a
// linear scan beats hashing the string on every wait.
func (a *Analyzer) reason(r string) uint8 {
	for i, s := range a.reasons {
		if s == r {
			return uint8(i)
		}
	}
	if len(a.reasons) >= 255 {
		// Only a hostile trace has this many: fold the rest into the
		// last slot.
		return 254
	}
	i := uint8(len(a.reasons))
	a.reasons = append(a.reasons, strings.Clone(r))
	a.reasonSync = append(a.reasonSync, SyncReason(r))
	return i
}

func (a *Analyzer) stackInfo(s trace.Stack) *stackInfo {
	if s == trace.NoStack {
		return a.noStack
	}
	if si, ok := a.stacks[s]; ok {
		return si
	}
	si := &stackInfo{loc: -1}
	var frames []trace.StackFrame
	for f := range s.Frames() {
		frames = append(frames, f)
	}
	if !a.gorootSeen {
		for _, f := range frames {
			if r, ok := a.code.WithGOROOTFrom(f.Func, f.File); ok {
				a.code, a.gorootSeen = r, true
				if a.w != nil {
					a.w.discovered(a)
				}
				if a.track != nil {
					a.track.discovered = true
				}
				break
			}
		}
	}
	// The primitive is the frame just above the first frame past the
	// runtime side; a standard-library frame there (log.(*Logger).output)
	// took the lock for the user's line below it.
	past := -1
	charged := -1
	var classes []usercode.Class
	for i, f := range frames {
		c := a.code.Class(f.Func, f.File)
		classes = append(classes, c)
		if c != usercode.Runtime && past < 0 {
			past = i
		}
		if !c.Chargeable() {
			continue
		}
		l := a.intern(f)
		if si.loc < 0 {
			si.loc = l
			charged = i
			prev := ""
			if past > 0 {
				prev = frames[past-1].Func
			}
			si.prim = a.internPrim(prev)
			si.primFunc = a.prims[si.prim]
		}
		if !slices.Contains(si.cum, l) {
			si.cum = append(si.cum, l)
		}
	}
	si.top = si.loc
	if si.loc < 0 && len(frames) > 0 {
		// A stack with no line of the user's or a dependency's (a system
		// goroutine, or the standard library's own): no line to charge,
		// but as a releaser it is still named by its first frame.
		si.top = a.intern(frames[0])
	}
	// A line's stack (and the library function that took its lock) is
	// its first, or its first lock stack when the first was of another
	// kind, as agg.label names its primitive.
	isLock := contention.IsLockPrimitive(primitiveOf(si.primFunc, ""))
	if si.loc >= 0 && (a.locs[si.loc].stack == nil || isLock && !a.locs[si.loc].stackLock) {
		lc := &a.locs[si.loc]
		lc.stackLock, lc.viaFn, lc.callSite = isLock, "", nil
		st := []contention.Frame{}
		for _, f := range frames[charged:] {
			if len(st) >= a.opts.MaxStackFrames {
				break
			}
			st = append(st, contention.Frame{Function: strings.Clone(f.Func), File: strings.Clone(f.File), Line: int(f.Line)})
		}
		lc.stack = st
		if a.track != nil {
			a.track.stack[si.loc] = true
		}
		if past >= 0 && past < charged {
			lc.viaFn = strings.Clone(frames[past].Func)
		}
		if classes[charged] != usercode.User {
			for i := charged + 1; i < len(frames); i++ {
				if classes[i] == usercode.User {
					f := frames[i]
					lc.callSite = &contention.Site{Function: strings.Clone(f.Func), File: strings.Clone(f.File), Line: int(f.Line)}
					break
				}
			}
		}
	}
	a.stacks[s] = si
	return si
}

// viaHotspot is via for a hotspot's line, with its primitive.
func viaHotspot(libFunc string, ag *agg) string {
	switch {
	case libFunc == "":
		return ""
	case ag.method != "" && strings.HasPrefix(ag.prim, "sync."):
		return libFunc + " → " + ag.prim + "." + ag.method
	}
	return libFunc + " → " + ag.prim
}

// via names the library lock a wait was in: the standard-library function
// that took it, and the primitive ("log.(*Logger).output →
// sync.Mutex.Lock").
func via(libFunc, primFunc string) string {
	if libFunc == "" {
		return ""
	}
	p := primitiveOf(primFunc, "")
	if p == contention.PrimOther {
		if primFunc == "" {
			return libFunc
		}
		return libFunc + " → " + primFunc
	}
	if m := methodOf(primFunc); m != "" {
		p += "." + m
	}
	return libFunc + " → " + p
}

func (a *Analyzer) internPrim(fn string) int32 {
	if p, ok := a.primIdx[fn]; ok {
		return p
	}
	p := int32(len(a.prims))
	a.prims = append(a.prims, strings.Clone(fn))
	a.primIdx[a.prims[p]] = p
	return p
}

func (a *Analyzer) intern(f trace.StackFrame) int32 {
	return a.internSite(siteKey{f.Func, f.File, f.Line})
}

func (a *Analyzer) internSite(k siteKey) int32 {
	if l, ok := a.locIdx[k]; ok {
		return l
	}
	// Clone: the strings may point into the generation's tables, which
	// must be freed when the generation is done.
	k = siteKey{strings.Clone(k.fn), strings.Clone(k.file), k.line}
	l := int32(len(a.locs))
	a.locs = append(a.locs, loc{fn: k.fn, file: k.file, line: int(k.line)})
	a.blocked = append(a.blocked, agg{})
	a.blocks = append(a.blocks, agg{})
	a.cum = append(a.cum, 0)
	a.locIdx[k] = l
	return l
}

func (a *Analyzer) frame(l int32) contention.Frame {
	if l < 0 {
		return contention.Frame{}
	}
	return contention.Frame{Function: a.locs[l].fn, File: a.locs[l].file, Line: a.locs[l].line}
}

// Finalize returns the result. Lock waits still open are charged to
// their lines up to the end of the trace; every open wait is counted in
// OpenWaits. The analyser must not be used afterwards.
func (a *Analyzer) Finalize() Result {
	res := a.res
	// The reader emits a Sync before each generation and one at the end.
	res.Generations = max(a.syncs-1, 0)
	openOther := int64(0)
	// In goroutine order: the first open wait charged to a line names its
	// primitive, whatever order the map gives.
	ids := make([]trace.GoID, 0, len(a.gs))
	for id, g := range a.gs {
		if g.waiting {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		g := a.gs[id]
		res.OpenWaits++
		if !a.chargeOpen(g) {
			openOther++
		}
	}
	res.OpenLockWaitNs = a.openNs
	if a.seen {
		res.DurationNs = int64(a.end - a.first)
	}

	hs := make([]contention.Hotspot, 0, len(a.blocked)+len(a.blocks))
	add := func(kind string, l int32, ag *agg, cum int64) {
		lc := a.locs[l]
		h := contention.Hotspot{
			Kind: kind, File: lc.file, Line: lc.line, Function: lc.fn,
			Primitive: ag.prim, Method: ag.method,
			DelayNs: ag.delay, CumDelayNs: cum, Count: ag.count,
			Lock:      contention.IsLockPrimitive(ag.prim),
			OpenWaits: int(ag.open), StillWaitingNs: ag.openMax,
			Via: viaHotspot(lc.viaFn, ag), CallSite: lc.callSite,
		}
		if lc.stack != nil {
			h.Stacks = [][]contention.Frame{lc.stack}
		}
		hs = append(hs, h)
	}
	for l := range a.locs {
		if ag := &a.blocked[l]; ag.count > 0 {
			add(contention.KindTraceBlocked, int32(l), ag, max(a.cum[l], ag.delay))
		}
		if ag := &a.blocks[l]; ag.count > 0 {
			add(contention.KindTraceBlocks, int32(l), ag, ag.delay)
		}
	}
	contention.ComputeShares(hs)
	// SortHotspots leaves lines of one file and number in the order
	// given: by function, not by when the analysis met them (the merge of
	// generations analysed apart meets them in another order).
	sort.Slice(hs, func(i, j int) bool { return hs[i].Function < hs[j].Function })
	contention.SortHotspots(hs)
	res.Hotspots = hs

	res.Edges = make([]Edge, 0, len(a.edges))
	for _, e := range a.edges {
		r := a.reasons[e.key.reason]
		res.Edges = append(res.Edges, Edge{
			Reason:      r,
			Primitive:   primitiveOf(a.prims[e.key.blockedIn], r),
			Blocked:     a.frame(e.key.blocked),
			BlockedIn:   a.prims[e.key.blockedIn],
			Unblocker:   a.frame(e.key.unblocker),
			UnblockedIn: a.prims[e.key.unblockedIn],
			ByRuntime:   e.key.byRuntime,
			WaitNs:      e.waitNs,
			Count:       e.count,
		})
	}
	// Ties in wait time go by what the edges are, not by when the
	// analysis met them.
	sort.Slice(res.Edges, func(i, j int) bool { return edgeBefore(&res.Edges[i], &res.Edges[j]) })

	chains, keys := a.chains() // queue.go
	order := make([]int, len(chains))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(x, y int) bool {
		i, j := order[x], order[y]
		if chains[i].Lock != chains[j].Lock {
			return chains[i].Lock
		}
		if chains[i].Sync() != chains[j].Sync() {
			return chains[i].Sync()
		}
		if chains[i].WaitNs != chains[j].WaitNs {
			return chains[i].WaitNs > chains[j].WaitNs
		}
		if len(chains[i].Links) != len(chains[j].Links) {
			return len(chains[i].Links) > len(chains[j].Links)
		}
		return keys[i] < keys[j]
	})
	sorted := make([]contention.Chain, len(chains))
	for x, i := range order {
		sorted[x] = chains[i]
	}
	chains = sorted
	if len(chains) > a.opts.MaxChains {
		chains = chains[:a.opts.MaxChains]
	}
	res.Chains = chains

	res.Notes = append(res.Notes, a.openNotes(hs)...)
	if openOther > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%s: %d channel, select or WaitGroup wait(s) still open when the trace ended are not counted (most are idle goroutines)", a.opts.Name, openOther))
	}
	for _, ag := range a.blocked {
		if ag.count > 0 && ag.prim == contention.PrimRWMutex && ag.method == "RLock" {
			res.Notes = append(res.Notes, rlockNote)
			break
		}
	}
	return res
}

// edgeBefore orders edges by wait time, then by count and what they are
// (an edge is one reason, blocked line and primitive, unblocker line and
// primitive, by the runtime or not).
func edgeBefore(a, b *Edge) bool {
	if a.WaitNs != b.WaitNs {
		return a.WaitNs > b.WaitNs
	}
	if a.Count != b.Count {
		return a.Count > b.Count
	}
	if c := frameCompare(a.Blocked, b.Blocked); c != 0 {
		return c < 0
	}
	if c := frameCompare(a.Unblocker, b.Unblocker); c != 0 {
		return c < 0
	}
	if a.Reason != b.Reason {
		return a.Reason < b.Reason
	}
	if a.BlockedIn != b.BlockedIn {
		return a.BlockedIn < b.BlockedIn
	}
	if a.UnblockedIn != b.UnblockedIn {
		return a.UnblockedIn < b.UnblockedIn
	}
	return !a.ByRuntime && b.ByRuntime
}

func frameCompare(a, b contention.Frame) int {
	if c := strings.Compare(a.File, b.File); c != 0 {
		return c
	}
	if a.Line != b.Line {
		return a.Line - b.Line
	}
	return strings.Compare(a.Function, b.Function)
}

// chargeOpen charges a lock wait still open at the end of the trace to
// its line, up to the end. It reports false for a wait it does not charge:
// not on a lock, or with no user frame.
func (a *Analyzer) chargeOpen(g *gstate) bool {
	prim := primitiveOf(g.stack.primFunc, a.reasons[g.reason])
	bl := g.stack.loc
	if !contention.IsLockPrimitive(prim) || bl < 0 {
		return false
	}
	d := int64(a.end - g.waitStart)
	if d <= 0 {
		// Began at the last event: nothing to charge, but it is a lock
		// wait, not an idle one.
		return true
	}
	ag := &a.blocked[bl]
	ag.label(prim, g.reason, methodOf(g.stack.primFunc))
	ag.delay += d
	ag.count++
	ag.open++
	ag.openMax = max(ag.openMax, d)
	a.openNs += d
	for _, c := range g.stack.cum {
		a.cum[c] += d
	}
	return true
}

// openNotes says, for the lines with the longest open lock waits, how
// long they had waited when the trace ended.
func (a *Analyzer) openNotes(hs []contention.Hotspot) []string {
	var open []contention.Hotspot
	for _, h := range hs {
		if h.OpenWaits > 0 {
			open = append(open, h)
		}
	}
	sort.SliceStable(open, func(i, j int) bool { return open[i].StillWaitingNs > open[j].StillWaitingNs })
	var notes []string
	for i, h := range open {
		if i == maxOpenNotes {
			notes = append(notes, fmt.Sprintf("%s: %d more line(s) with lock waits still open when the trace ended", a.opts.Name, len(open)-i))
			break
		}
		notes = append(notes, fmt.Sprintf("%s: %s:%d (%s): still waiting after %v when the trace ended (%d goroutine(s) waiting there); charged up to its end",
			a.opts.Name, filepath.Base(h.File), h.Line, h.Function, roundWait(h.StillWaitingNs), h.OpenWaits))
	}
	return notes
}

// roundWait rounds a wait for a note: to the millisecond from a second
// up, to the microsecond below.
func roundWait(ns int64) time.Duration {
	d := time.Duration(ns)
	if d >= time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}

// maxOpenNotes caps the per-line notes about open lock waits.
const maxOpenNotes = 5

// Link roles (contention.Link.Role).
const (
	RoleWaits   = "waits"
	RoleHolds   = "holds"
	RoleRuntime = "runtime"
)

// rlockNote explains why the block profile's RLock delay exceeds the
// trace's. runtime.semacquire1 takes its start time once, then loops: a
// reader woken by Unlock can find the semaphore count already taken by a
// reader that just arrived (the "easy case" cansemacquire), and parks again.
// The trace records each park as a new wait and leaves out the time between
// them; the block profile charges the whole RLock once, from the first park
// to the last wake-up. TestRLockBlockProfile checks this on a recorded pair.
const rlockNote = "sync.RWMutex.RLock: trust the block profile's delay over the trace's, because a reader woken by Unlock often loses the semaphore to a newly arriving reader and parks again inside the same RLock, which the trace counts as several shorter waits (missing the time in between) while the block profile charges the whole RLock once."
