package tracechain

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"reflect"
	"sync"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/usercode"
	"golang.org/x/exp/trace"
)

// One analyser per generation, stitched at the merge.
//
// Most of an analysis goes to x/exp/trace handing out events one by one,
// in order (pipeline.go), so one analyser cannot use more than about one
// core and a half. A Go 1.26 trace read from an io.ReaderAt is analysed
// instead one generation per worker, GOMAXPROCS at a time, each by an
// [Analyzer] of its own over a trace.Reader of its own, and the results
// are merged in generation order into one analyser, whose Finalize gives
// the result. The merge gives exactly what the sequential analysis gives
// (TestParallelSameResult); where it cannot be sure, it says so and the
// trace is analysed again, sequentially.
//
// A generation's analyser does not know the goroutines' state at its
// start. It follows the goroutines it sees begin (or end) a wait in the
// generation as the sequential analyser does; the transitions of any
// other goroutine, until it leaves a wait, are kept, with what they need
// (the releaser's last wait when the worker knows it), and the merge
// replays them through the merging analyser, which holds the state at the
// boundary: a wait that crosses it becomes the one wait the sequential
// analysis sees, with its start, stack and blocker. Chains are made at the
// merge too (rawNode): a chain's tail may be a wait whose replay is yet to
// come.
//
// Times. The sequential analysis makes every event later than the one
// before across generations (analyzeEvents), and the runtime's
// generations overlap in time (up to 56 ms and 91,000 events on the
// benchmark's trace), so the first events of a generation take times that
// depend on the last time of the one before: with L that time, the event
// at position p of the generation, read at r by its own reader, is at
// max(r, L+p+1). A worker counts in its reader's times; the merge puts
// the kept transitions, the open waits and the last waits at their
// sequential times, and corrects the waits that began in the first
// timeWindow of the generation (the worker keeps their places, timedWait).
// A generation that overlaps the previous by more than that is analysed
// again, sequentially. Within a generation both the reader's times and the
// sequential ones grow with the position, so the comparisons the chains
// make between two events of one generation come out the same in either;
// one between generations is made at the merge, in sequential times.
//
// What else the sequential analysis takes from the order of the whole
// trace is checked at the merge: the GOROOT read from the first stack that
// shows it (each worker after the first waits for the first generation's),
// the first stack and primitive seen at a line, and the wait reasons
// (at most 255). A trace cut short before a generation's first event
// reads as the sequential analysis reads it; one that fails to decode
// anywhere else, or whose reader panics, is analysed again sequentially,
// which reports it as before.

// timeWindow is how far into a generation the workers keep the places of
// the waits that begin there, for the merge to correct their times: about
// twice the largest overlap measured. Each wait kept costs 28 bytes (a
// busy generation has a million waits a second).
const timeWindow = trace.Time(100e6)

// noWindow marks a window still open.
const noWindow = math.MaxInt64

// genWork is what the analyser of one generation among several keeps for
// the merge.
type genWork struct {
	// fresh: the first generation, with no state before it.
	fresh bool
	// The window of timed waits: the position and time key where it
	// closed (noWindow while open).
	windowPos, windowKey int64
	kept                 []keptEvent
	timedWaits           []timedWait
	// timedStacks are the stacks of the timed waits (timedWait.si);
	// key0 is the time key of the generation's first event, which the
	// timed waits' keys are kept from.
	timedStacks []*stackInfo
	key0        int64
	// nodePos is the position of the event that made each chain node.
	nodePos []int64
	// discoveredAt is the position of the event whose stack gave the
	// GOROOT (-1: none); startCode and startSeen are the rules the worker
	// began with.
	discoveredAt int64
	startCode    usercode.Rules
	startSeen    bool
	// publish, on the first generation's worker, hands its GOROOT to the
	// others.
	publish func(usercode.Rules, bool)
}

// keptEvent is a goroutine transition whose effect depends on the state
// at the generation's start, for the merge to replay.
type keptEvent struct {
	pos              int64
	t                trace.Time
	id, by           trace.GoID
	from, to         trace.GoState
	reason           string
	stStack, evStack trace.Stack
	// snap: the releaser's last wait as the worker knew it (hChain a
	// node of the worker's, or 0), to stand in for the merging
	// analyser's state of it during the replay.
	snap    bool
	hChain  int32
	hEnd    trace.Time
	hEndPos int64
}

// timedWait is a wait that began in the window: where its sums went (si
// indexes timedStacks), and the time keys (time - position - 1) of its
// start and end from key0, for the merge to move it to its sequential
// times. The end's is kept up to just past the window: a merge whose
// previous generation ends later does not use them.
type timedWait struct {
	si, e, n, unb int32
	ks, ke        int32
	reason        uint8
}

func timeKey(pos int64, t trace.Time) int64 { return int64(t) - pos - 1 }

func (w *genWork) closeWindow(pos int64, t trace.Time) {
	w.windowPos, w.windowKey = pos, timeKey(pos, t)
}

// keep keeps a transition of goroutine id, whose state at the
// generation's start is unknown (g nil), or was when its kept events
// began (g pending).
func (w *genWork) keep(a *Analyzer, id trace.GoID, g *gstate, from, to trace.GoState, reason string, stStack, evStack trace.Stack, by trace.GoID, t trace.Time) {
	k := keptEvent{pos: a.pos, t: t, id: id, by: by, from: from, to: to, reason: reason, stStack: stStack, evStack: evStack}
	end := from == trace.GoWaiting && to != trace.GoWaiting
	if end && by != id && by != trace.NoGoroutine {
		// A releaser whose last wait the worker made: the merging
		// analyser does not have it yet. One whose last wait is kept,
		// or from before, the merging analyser has by then.
		if h := a.gs[by]; h != nil && !h.pending && h.lastChain >= 0 {
			k.snap, k.hChain, k.hEnd, k.hEndPos = true, h.lastChain, h.lastEnd, h.lastEndPos
		}
	}
	j := int32(len(w.kept))
	w.kept = append(w.kept, k)
	switch {
	case end:
		// Out of a wait, whichever it was: from here on the worker
		// follows the goroutine, and its last wait is what the replay
		// leaves (lastEnd: the replayed end's time, if it ended one).
		a.gs[id] = &gstate{lastChain: -(j + 1), lastEnd: t, lastEndPos: a.pos}
	case g == nil:
		a.gs[id] = &gstate{pending: true}
	}
}

// rawNode interns the chain "edge e, then tail" as it is, tail a node of
// the worker's or a kept event's (negative); the merge makes the chain.
func (w *genWork) rawNode(a *Analyzer, e, tail int32) int32 {
	n, made := a.internNode(e, tail)
	if made {
		w.nodePos = append(w.nodePos, a.pos)
	}
	return n
}

// timed keeps a wait ending now whose start was in the window.
func (w *genWork) timed(a *Analyzer, g *gstate, e, n, unb int32, t trace.Time) {
	if g.startPos < 0 || g.startPos >= w.windowPos {
		return
	}
	si := g.stack
	if si.timed == 0 {
		w.timedStacks = append(w.timedStacks, si)
		si.timed = int32(len(w.timedStacks))
	}
	ke := min(timeKey(a.pos, t)-w.key0, int64(timeWindow)+1)
	w.timedWaits = append(w.timedWaits, timedWait{si: si.timed - 1, e: e, n: n, unb: unb, reason: g.reason, ks: int32(timeKey(g.startPos, g.waitStart) - w.key0), ke: int32(ke)})
}

func (w *genWork) discovered(a *Analyzer) {
	if w.discoveredAt < 0 {
		w.discoveredAt = a.pos
	}
	if w.publish != nil {
		w.publish(a.code, true)
		w.publish = nil
	}
}

// replayTrack records what the merging analyser's replays of one
// generation set first: a line's stack and its aggregates' primitive,
// which the worker may have set too, from another event.
type replayTrack struct {
	stack, blocked, blocks map[int32]bool
	discovered             bool
}

// sharedRules is the first generation's GOROOT, for the other workers.
type sharedRules struct {
	once  sync.Once
	ready chan struct{}
	code  usercode.Rules
	seen  bool
}

func (s *sharedRules) publish(code usercode.Rules, seen bool) {
	s.once.Do(func() {
		s.code, s.seen = code, seen
		close(s.ready)
	})
}

// genOffsets returns where each generation of a Go 1.26 trace begins,
// reading only the batch headers. A fault ends the list: the generation
// it is in is read by its worker, whose reader reports it.
func genOffsets(ra io.ReaderAt, start, size int64) []int64 {
	offs := []int64{start}
	var buf [2 + 4*binaryMaxVarintLen]byte
	for off := start; off < size; {
		n, _ := ra.ReadAt(buf[:], off)
		h := buf[:n]
		if len(h) == 0 {
			break
		}
		i := 1
		switch h[0] {
		case evEndOfGeneration:
			off++
			if off < size {
				offs = append(offs, off)
			}
			continue
		case evExperimentalBatch:
			i++
		case evEventBatch:
		default:
			return offs
		}
		var v uint64
		for f := 0; f < 4; f++ { // generation, M, timestamp, size
			v = 0
			for shift := 0; ; shift += 7 {
				if i >= len(h) || shift > 63 {
					return offs
				}
				c := h[i]
				i++
				v |= uint64(c&0x7f) << shift
				if c < 0x80 {
					break
				}
			}
		}
		if v > maxBatchSize {
			return offs
		}
		off += int64(i) + int64(v)
	}
	return offs
}

// analyzeParallel analyses the Go 1.26 trace of ra between start (its
// header) and size with workers generations at a time. ok is false when
// the result might differ from the sequential analysis, or the trace did
// not decode but where a generation begins (a trace cut short): the
// caller analyses it sequentially then. An error is ctx's.
func analyzeParallel(ctx context.Context, ra io.ReaderAt, start, size int64, opts Options, workers int, st *parallelStats) (res Result, ok bool, err error) {
	opts = opts.withDefaults()
	hdr := make([]byte, headerLen)
	if _, err := ra.ReadAt(hdr, start); err != nil {
		return Result{}, false, nil
	}
	offs := genOffsets(ra, start+headerLen, size)
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// Nothing reads ra once this returns.
	defer wg.Wait()
	defer cancel()

	type out struct {
		a   *Analyzer
		err error
	}
	outs := make([]chan out, len(offs))
	for i := range outs {
		outs[i] = make(chan out, 1)
	}
	rules := &sharedRules{ready: make(chan struct{})}
	// Decoding slots, taken in generation order (a worker waits for the
	// first generation's GOROOT, which must not wait for a slot), and
	// generations decoded ahead of the merge: a finished one is small.
	slots := make(chan struct{}, workers)
	ahead := make(chan struct{}, workers+1)
	worker := func(k int) {
		defer wg.Done()
		defer func() { <-slots }()
		if k == 0 {
			// Whatever happens, the others stop waiting.
			defer rules.publish(opts.Code, false)
		}
		a, err := readGen(wctx, ra, hdr, offs[k], size, k, opts, rules)
		outs[k] <- out{a, err}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := range offs {
			select {
			case ahead <- struct{}{}:
			case <-wctx.Done():
				return
			}
			select {
			case slots <- struct{}{}:
			case <-wctx.Done():
				return
			}
			wg.Add(1)
			go worker(k)
		}
	}()

	m := &merger{a: NewAnalyzer(opts), stats: st}
	if m.stats == nil {
		m.stats = &parallelStats{}
	}
	for k := range offs {
		var o out
		select {
		case o = <-outs[k]:
		case <-ctx.Done():
		}
		if err := ctx.Err(); err != nil {
			return Result{}, false, fmt.Errorf("%s: trace analysis stopped: %w", opts.Name, err)
		}
		if o.err != nil && k > 0 && o.a != nil && o.a.res.Events == 0 && m.a.syncs >= 2 {
			// A trace cut short, or damaged, in generation k before its
			// first event: as the sequential analysis reads it.
			res := m.a.Finalize()
			res.Truncated = true
			res.Notes = append(res.Notes, fmt.Sprintf("%s: the trace ends early or is damaged after %d complete generation(s); the rest was not read (%v)", opts.Name, res.Generations, o.err))
			return res, true, nil
		}
		if o.err != nil || !m.merge(o.a, k) {
			return Result{}, false, nil
		}
		<-ahead
	}
	if m.a.syncs < 2 {
		// No complete generation: the sequential analysis says so.
		return Result{}, false, nil
	}
	return m.a.Finalize(), true, nil
}

// readGen analyses generation k, at off, with an analyser of its own.
// A panic in the reader is an error.
func readGen(ctx context.Context, ra io.ReaderAt, hdr []byte, off, size int64, k int, opts Options, rules *sharedRules) (a *Analyzer, err error) {
	defer func() {
		if p := recover(); p != nil {
			a, err = nil, fmt.Errorf("the trace reader failed on malformed input: %v", p)
		}
	}()
	br := bufio.NewReaderSize(ctxReader{ctx, io.NewSectionReader(ra, off, size-off)}, 64<<10)
	tr, err := trace.NewReader(io.MultiReader(bytes.NewReader(hdr), &genReader{br: br}))
	if err != nil {
		return nil, err
	}
	a = NewAnalyzer(opts)
	w := &genWork{fresh: k == 0, windowPos: noWindow, discoveredAt: -1, nodePos: []int64{-1}}
	a.w = w
	if k == 0 {
		w.publish = rules.publish
		w.startCode = a.code
	}
	opened := false
	for n := 1; ; n++ {
		if n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		ev, err := tr.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			// With what it read: a generation cut short reads as a
			// Sync, then the error, and nothing of it is analysed.
			return a, err
		}
		if !opened && ev.Kind() == trace.EventSync {
			opened = true
			if k > 0 {
				// The sequential stream has one Sync at each boundary
				// (genEvents). The generation is decoded by now; the
				// GOROOT comes from the first generation.
				select {
				case <-rules.ready:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				a.code, a.gorootSeen = rules.code, rules.seen
				w.startCode, w.startSeen = a.code, a.gorootSeen
				continue
			}
		}
		a.eventAt(&ev, ev.Time())
	}
	if w.publish != nil {
		w.publish(a.code, a.gorootSeen)
	}
	// The stack handles would keep the generation's tables alive.
	clear(a.stacks)
	return a, nil
}

// merger merges the generations' analysers, in order, into one.
type merger struct {
	a *Analyzer
	// last is the time of the last event merged: analyzeEvents' last.
	last  trace.Time
	stats *parallelStats
}

// parallelStats counts what the merges stitched, for the tests to see
// that they did.
type parallelStats struct {
	generations int
	// replayed: kept transitions; ended: those that ended a wait begun
	// in an earlier generation; chained: chains of the workers that went
	// on through a replayed wait; moved: waits whose times the merge
	// corrected.
	replayed, ended, chained, moved int
}

// at is the sequential time of the event at pos of the generation being
// merged, read at t by its own reader.
func (m *merger) at(pos int64, t trace.Time) trace.Time {
	return max(t, m.last+trace.Time(pos)+1)
}

// merge merges generation k's analyser w into m.a. It reports false when
// the result might differ from the sequential analysis'; m.a is then of
// no use.
func (m *merger) merge(w *Analyzer, k int) bool {
	A, W := m.a, w.w
	if W.startSeen != A.gorootSeen || W.startCode.GOROOT != A.code.GOROOT {
		return false
	}
	if len(A.reasons)+len(w.reasons) >= 250 {
		// The analyser folds reasons past 255 in the order it meets
		// them.
		return false
	}
	L := int64(m.last)
	if W.windowPos != noWindow && L > W.windowKey || L-W.key0 > int64(timeWindow) {
		// Waits past the window move too.
		return false
	}
	if k == 0 && w.seen {
		A.first, A.seen = m.at(0, w.first), true
	}

	// The waits in the window, at their sequential times.
	for _, tw := range W.timedWaits {
		d := max(0, L-W.key0-int64(tw.ke)) - max(0, L-W.key0-int64(tw.ks))
		if d == 0 {
			continue
		}
		m.stats.moved++
		si := W.timedStacks[tw.si]
		w.res.TotalSyncWaitNs += d
		if contention.IsLockPrimitive(primitiveOf(si.primFunc, w.reasons[tw.reason])) {
			w.res.LockWaitNs += d
		}
		if si.loc >= 0 {
			w.blocked[si.loc].delay += d
		}
		for _, c := range si.cum {
			w.cum[c] += d
		}
		if tw.unb >= 0 {
			w.blocks[tw.unb].delay += d
		}
		if tw.e >= 0 {
			w.edges[tw.e].waitNs += d
		}
		if tw.n > 0 {
			w.nodes[tw.n].waitNs += d
		}
	}

	locMap := make([]int32, len(w.locs))
	for i, lc := range w.locs {
		locMap[i] = A.internSite(siteKey{lc.fn, lc.file, uint64(lc.line)})
	}
	mapLoc := func(l int32) int32 {
		if l < 0 {
			return l
		}
		return locMap[l]
	}
	primMap := make([]int32, len(w.prims))
	for i, p := range w.prims {
		primMap[i] = A.internPrim(p)
	}
	reasonMap := make([]uint8, len(w.reasons))
	for i, r := range w.reasons {
		reasonMap[i] = A.reason(r)
	}
	edgeMap := make([]int32, len(w.edges))
	for i, e := range w.edges {
		k := e.key
		edgeMap[i] = A.edge(edgeKey{reason: reasonMap[k.reason], byRuntime: k.byRuntime, blocked: mapLoc(k.blocked), unblocker: mapLoc(k.unblocker), blockedIn: primMap[k.blockedIn], unblockedIn: primMap[k.unblockedIn]})
	}

	// The kept transitions and the chains, in the generation's order: a
	// chain may continue a replayed wait, and a replayed wait a chain.
	A.track = &replayTrack{stack: map[int32]bool{}, blocked: map[int32]bool{}, blocks: map[int32]bool{}}
	defer func() { A.track = nil }()
	clear(A.stacks)
	nodeMap := make([]int32, len(w.nodes))
	results := make([]int32, len(W.kept))
	resolve := func(ref int32) int32 {
		switch {
		case ref > 0:
			return nodeMap[ref]
		case ref < 0:
			return results[-ref-1]
		}
		return 0
	}
	for i, j := 1, 0; i < len(w.nodes) || j < len(W.kept); {
		if j == len(W.kept) || i < len(w.nodes) && W.nodePos[i] < W.kept[j].pos {
			nd := w.nodes[i]
			if nd.tail < 0 && resolve(nd.tail) != 0 {
				m.stats.chained++
			}
			nodeMap[i] = A.cons(edgeMap[nd.edge], resolve(nd.tail))
			i++
			continue
		}
		ke := &W.kept[j]
		if W.discoveredAt >= 0 && ke.pos > W.discoveredAt && !A.gorootSeen {
			A.code, A.gorootSeen = w.code, true
		}
		t := m.at(ke.pos, ke.t)
		if ke.snap {
			old, had := A.gs[ke.by]
			A.gs[ke.by] = &gstate{lastChain: resolve(ke.hChain), lastEnd: m.at(ke.hEndPos, ke.hEnd)}
			A.transition(ke.id, ke.from, ke.to, ke.reason, ke.stStack, ke.evStack, ke.by, t)
			if had {
				A.gs[ke.by] = old
			} else {
				delete(A.gs, ke.by)
			}
		} else {
			A.transition(ke.id, ke.from, ke.to, ke.reason, ke.stStack, ke.evStack, ke.by, t)
		}
		if A.track.discovered {
			// The sequential analysis would have classified some of the
			// worker's stacks with this GOROOT.
			return false
		}
		if g := A.gs[ke.id]; g != nil && g.lastEnd == t {
			// It ended a wait: its chain (0 without a user frame).
			results[j] = g.lastChain
			m.stats.ended++
		}
		m.stats.replayed++
		j++
	}
	if W.discoveredAt >= 0 && !A.gorootSeen {
		A.code, A.gorootSeen = w.code, true
	}
	clear(A.stacks)

	// The worker's sums.
	mergeAgg := func(g, l *agg, byReplay bool) bool {
		if l.count == 0 {
			return true
		}
		if byReplay && g.count != 0 && (g.prim != l.prim || g.method != l.method || A.reasons[g.reason] != w.reasons[l.reason]) {
			// Which came first in the generation is not known here.
			return false
		}
		// As the sequential analysis labels it: the earlier generations'
		// first wait, unless a lock wait comes after other kinds.
		g.label(l.prim, reasonMap[l.reason], l.method)
		g.delay += l.delay
		g.count += l.count
		g.open += l.open
		g.openMax = max(g.openMax, l.openMax)
		return true
	}
	for l := range w.locs {
		lc := &w.locs[l]
		G := locMap[l]
		gl := &A.locs[G]
		if lc.stack != nil {
			switch {
			case A.track.stack[G] && gl.stack != nil:
				if !(reflect.DeepEqual(gl.stack, lc.stack) && gl.viaFn == lc.viaFn && reflect.DeepEqual(gl.callSite, lc.callSite) && gl.stackLock == lc.stackLock) {
					return false
				}
			case gl.stack == nil || lc.stackLock && !gl.stackLock:
				gl.stack, gl.viaFn, gl.callSite, gl.stackLock = lc.stack, lc.viaFn, lc.callSite, lc.stackLock
			}
		}
		if !mergeAgg(&A.blocked[G], &w.blocked[l], A.track.blocked[G]) || !mergeAgg(&A.blocks[G], &w.blocks[l], A.track.blocks[G]) {
			return false
		}
		A.cum[G] += w.cum[l]
	}
	for i, e := range w.edges {
		ge := &A.edges[edgeMap[i]]
		ge.waitNs += e.waitNs
		ge.count += e.count
	}
	for i := 1; i < len(w.nodes); i++ {
		gn := &A.nodes[nodeMap[i]]
		gn.waitNs += w.nodes[i].waitNs
		gn.count += w.nodes[i].count
	}
	A.res.Waits += w.res.Waits
	A.res.TotalSyncWaitNs += w.res.TotalSyncWaitNs
	A.res.LockWaitNs += w.res.LockWaitNs
	A.res.Events += w.res.Events
	A.syncs += w.syncs

	// The goroutines the worker followed, at the generation's end.
	sis := map[*stackInfo]*stackInfo{}
	globalSI := func(si *stackInfo) *stackInfo {
		switch {
		case si == nil:
			return nil
		case si == w.noStack:
			return A.noStack
		}
		if g, ok := sis[si]; ok {
			return g
		}
		g := &stackInfo{loc: mapLoc(si.loc), top: mapLoc(si.top), prim: primMap[si.prim]}
		g.primFunc = A.prims[g.prim]
		for _, c := range si.cum {
			g.cum = append(g.cum, locMap[c])
		}
		sis[si] = g
		return g
	}
	for id, lg := range w.gs {
		if lg.pending {
			// Its kept events have left it where it is.
			continue
		}
		ng := &gstate{}
		switch {
		case lg.lastChain < 0:
			if og := A.gs[id]; og != nil {
				ng.lastStart, ng.lastEnd, ng.lastChain = og.lastStart, og.lastEnd, og.lastChain
			}
		case lg.lastChain > 0:
			ng.lastChain = nodeMap[lg.lastChain]
			ng.lastStart, ng.lastEnd = m.at(lg.lastStartPos, lg.lastStart), m.at(lg.lastEndPos, lg.lastEnd)
		}
		if lg.waiting {
			ng.waiting, ng.sinceStart = true, lg.sinceStart
			ng.reason, ng.stack = reasonMap[lg.reason], globalSI(lg.stack)
			if lg.sinceStart {
				ng.waitStart = A.first
			} else {
				ng.waitStart = m.at(lg.startPos, lg.waitStart)
			}
		}
		if !ng.waiting && ng.lastChain == 0 {
			// As good as gone.
			delete(A.gs, id)
		} else {
			A.gs[id] = ng
		}
	}
	if w.res.Events > 0 {
		m.last = m.at(w.res.Events-1, w.end)
		A.end = m.last
	}
	m.stats.generations++
	return true
}
