// Package graph turns a [contention.Report] into a waits-for graph between
// lock sites, and writes it as Graphviz DOT ([WriteDOT]) or as a
// self-contained SVG laid out by lockscope itself ([WriteSVG]), for
// `lockscope analyze --graph FILE`.
//
// The extension draws the same graph in its "Blocking Graph" panel, built
// by extension/src/logic/graph.ts. The two are one definition written
// twice: the tests of both read the recorded reports in
// extension/test/fixtures and must produce the goldens in testdata/ here
// (regenerate them with `go test ./internal/graph -update`).
//
// # The model
//
// A node is a source line where goroutines meet a lock: a Lock or RLock
// line where they waited (role "waits"), or the Unlock line where the last
// holder of a chain released the lock (role "holds"). A node is named by
// the lock expression written on its line (`c.mu` for `c.mu.Lock()`),
// read from the source when it can be read; traces and profiles record no
// lock address (see internal/tracechain).
//
// An edge A → B says "goroutines waiting at A waited for a holder that was
// at B": either itself waiting at B for another lock (a hop of a blocking
// chain), or running until it released the lock at B. Edges come from the
// report's chains: each chain's first hop carries the chain's wait time and
// count, and since the trace analyser keys every wait by its first hop, the
// edges partition the traced wait time. Later hops add the edge with no
// time of their own (it is counted by the chain that starts there), so a
// chain reads as a path.
//
// Successive holders of the same lock are a queue, not a chain: a waiter
// released by a goroutine that was itself waiting for the same lock (at the
// same line, or a line of the same lock expression in the same package)
// adds to the node's queue instead of an edge.
//
// A report without chains (no trace) still has both sides of each lock in
// its profiles: the waiters' Lock lines (block profile) and the holders'
// Unlock lines (mutex profile). Then each waiter line gets an edge to each
// holder line of the same named lock, its wait split in proportion to the
// holders' delays; such edges say Source "profiles", because the profiles
// do not say who waited for whom.
//
// A cycle is a lock-order inversion: holders of lock X waited for lock Y,
// and holders of Y waited for X (possibly through more locks). It is found
// on the locks, not on the lines, because the two orders are usually taken
// on different lines. The edges between the locks of a cycle, and their
// nodes, are marked.
//
// A deadlock's waits never end, so neither a trace nor a profile records
// them; the report's deadlocks (from goroutine dumps) name them. Each one
// is drawn as a ring: every goroutine's waiting line is a node, named by
// the lock it waits for, with an edge (Source "deadlock", no time) to the
// next goroutine's waiting line, where the holder of that lock waits in
// turn. The ring is a cycle like any other, marked Deadlock; a goroutine
// that asks again for a lock it holds is a ring of one.
package graph

import (
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/lockscope/lockscope/internal/contention"
)

// Node roles.
const (
	RoleWaits = "waits" // goroutines waited here (a Lock, RLock or another wait)
	RoleHolds = "holds" // the last holder of a chain released the lock here
)

// Edge sources.
const (
	SourceTrace    = "trace"    // from the trace's blocking chains
	SourceProfiles = "profiles" // paired from the mutex and block profiles
	SourceDeadlock = "deadlock" // a ring of the report's deadlocks
)

// Graph is the waits-for graph of one report. Nodes and Edges are sorted by
// place, so that the same report gives the same graph.
type Graph struct {
	Nodes  []Node  `json:"nodes"`
	Edges  []Edge  `json:"edges"`
	Cycles []Cycle `json:"cycles"`
}

// Node is one lock site.
type Node struct {
	// ID is "file:line", unique in the graph.
	ID       string `json:"id"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Function string `json:"function"`
	// Lock is the lock expression on the line (c.mu), when the source
	// could be read; empty otherwise.
	Lock string `json:"lock,omitempty"`
	// Method is Lock, RLock, Unlock, RUnlock, or the wait's own (Wait...).
	Method string `json:"method,omitempty"`
	// Primitive is sync.Mutex, sync.RWMutex, or another wait's kind.
	Primitive string `json:"primitive,omitempty"`
	Role      string `json:"role"`
	// IsLock is true for sync.Mutex and sync.RWMutex sites.
	IsLock bool `json:"isLock"`
	// WaitNs is the wait at this line (block profile, else the trace).
	WaitNs int64 `json:"waitNs"`
	// HoldNs is the wait of others charged to this line as the holder's
	// release (mutex profile, else the trace).
	HoldNs int64 `json:"holdNs"`
	// QueueNs and QueueCount are waits released by a goroutine that had
	// itself queued for the same lock.
	QueueNs    int64 `json:"queueNs"`
	QueueCount int64 `json:"queueCount"`
	// Cycle is true when the node's lock is in a lock-order cycle.
	Cycle bool `json:"cycle,omitempty"`
}

// Edge is "waiters at From waited for the holder at To".
type Edge struct {
	From   string `json:"from"`
	To     string `json:"to"`
	WaitNs int64  `json:"waitNs"`
	Count  int64  `json:"count"`
	Source string `json:"source"`
	Cycle  bool   `json:"cycle,omitempty"`
}

// Cycle is one lock-order cycle: the locks in it and the nodes of its edges.
type Cycle struct {
	Locks []string `json:"locks"`
	Nodes []string `json:"nodes"`
	// Deadlock is true when the cycle is a deadlock of the report, not
	// only two orders that could deadlock.
	Deadlock bool `json:"deadlock,omitempty"`
}

// Lines returns the text of a source line (1-based), or false when the
// file cannot be read or has no such line.
type Lines func(file string, line int) (string, bool)

// lockCall finds a sync lock method call on a line: the receiver
// expression and the method. graph.ts uses the same pattern.
var lockCall = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\.(Lock|RLock|Unlock|RUnlock|TryLock|TryRLock)\(\)`)

// LockExpr returns the lock expression of the call of method on a source
// line (mu for mu.Lock()), or of its first lock call when method is not
// there; "" when the line calls none. A line comment is ignored.
func LockExpr(text, method string) string {
	if i := strings.Index(text, "//"); i >= 0 {
		text = text[:i]
	}
	ms := lockCall.FindAllStringSubmatch(text, -1)
	if len(ms) == 0 {
		return ""
	}
	for _, m := range ms {
		if m[2] == method {
			return m[1]
		}
	}
	return ms[0][1]
}

// primOf reads a link's primitive function, e.g. sync.(*RWMutex).RLock,
// as the report's primitive and method.
var primFunc = regexp.MustCompile(`^sync\.\(\*(Mutex|RWMutex|WaitGroup|Cond)\)\.([A-Za-z]+)$`)

func primOf(fn string) (prim, method string) {
	if m := primFunc.FindStringSubmatch(fn); m != nil {
		return "sync." + m[1], m[2]
	}
	return "", ""
}

type builder struct {
	lines Lines
	nodes map[string]*Node
	edges map[[2]string]*Edge
	// sites maps file:line to the hotspots there, for the nodes' times.
	hot map[string][]contention.Hotspot
}

func siteID(file string, line int) string { return file + ":" + strconv.Itoa(line) }

// roleOf is a link's role, guessed from its place when an older adapter
// sent none (as chains.ts does).
func roleOf(c contention.Chain, i int) string {
	l := c.Links[i]
	if l.Role != "" {
		return l.Role
	}
	if l.File == "" && l.Function == "" {
		return "runtime"
	}
	if i == len(c.Links)-1 && i > 0 {
		return RoleHolds
	}
	return RoleWaits
}

func (b *builder) node(file string, line int, function, prim, method, role string) *Node {
	id := siteID(file, line)
	if n, ok := b.nodes[id]; ok {
		// A line that is both waited at and released at stays a waiter.
		if role == RoleWaits {
			n.Role = RoleWaits
		}
		return n
	}
	n := &Node{ID: id, File: file, Line: line, Function: function, Primitive: prim, Method: method, Role: role}
	n.IsLock = contention.IsLockPrimitive(prim)
	if n.IsLock && b.lines != nil {
		if text, ok := b.lines(file, line); ok {
			n.Lock = LockExpr(text, method)
		}
	}
	b.nodes[id] = n
	return n
}

func (b *builder) linkNode(l contention.Link, role string) *Node {
	prim, method := primOf(l.Primitive)
	if prim == "" {
		prim = l.Primitive
	}
	return b.node(l.File, l.Line, l.Function, prim, method, role)
}

func (b *builder) edge(from, to *Node, waitNs, count int64, source string) {
	k := [2]string{from.ID, to.ID}
	e, ok := b.edges[k]
	if !ok {
		e = &Edge{From: from.ID, To: to.ID, Source: source}
		b.edges[k] = e
	}
	e.WaitNs += waitNs
	e.Count += count
}

// lockKey names a node's lock: the lock expression within its package
// (its file's folder), or the line itself when the expression is unknown.
func lockKey(n *Node) string {
	if n.Lock == "" {
		return n.ID
	}
	return path.Dir(n.File) + "|" + n.Lock
}

func sameLock(a, b *Node) bool {
	return a.IsLock && b.IsLock && lockKey(a) == lockKey(b)
}

// Build makes the graph of a report. lines reads source lines for the lock
// names; nil leaves the nodes unnamed (and then only waits at the same line
// count as one lock's queue).
func Build(r *contention.Report, lines Lines) *Graph {
	b := &builder{lines: lines, nodes: map[string]*Node{}, edges: map[[2]string]*Edge{}, hot: map[string][]contention.Hotspot{}}
	for _, h := range r.Hotspots {
		id := siteID(h.File, h.Line)
		b.hot[id] = append(b.hot[id], h)
	}
	lockChains := 0
	for _, c := range r.Chains {
		if len(c.Links) == 0 || c.Links[0].File == "" {
			continue
		}
		// Only lock waits are contention: a chain that starts in wg.Wait,
		// a channel or select is left out (its lock hops are chains of
		// their own).
		if p, _ := primOf(c.Links[0].Primitive); !contention.IsLockPrimitive(p) {
			continue
		}
		lockChains++
		prev := b.linkNode(c.Links[0], RoleWaits)
		for i := 1; i < len(c.Links); i++ {
			role := roleOf(c, i)
			l := c.Links[i]
			if role != RoleWaits && role != RoleHolds || l.File == "" {
				break
			}
			var w, n int64
			if i == 1 {
				w, n = c.WaitNs, c.Count
			}
			next := b.linkNode(l, role)
			if role == RoleWaits && sameLock(prev, next) {
				prev.QueueNs += w
				prev.QueueCount += n
			} else {
				b.edge(prev, next, w, n, SourceTrace)
			}
			prev = next
		}
	}
	if lockChains == 0 {
		b.pairProfiles(r.Hotspots)
	}
	// Every line where goroutines waited for a lock is a node, joined or not.
	for _, h := range r.Hotspots {
		if h.Lock && (h.Kind == contention.KindBlock || h.Kind == contention.KindTraceBlocked) {
			b.node(h.File, h.Line, h.Function, h.Primitive, h.Method, RoleWaits)
		}
	}
	b.addDeadlocks(r)
	for _, n := range b.nodes {
		n.WaitNs = b.delay(n.ID, contention.KindBlock, contention.KindTraceBlocked)
		n.HoldNs = b.delay(n.ID, contention.KindMutex, contention.KindTraceBlocks)
	}
	g := &Graph{Nodes: []Node{}, Edges: []Edge{}}
	b.markCycles(g)
	for _, n := range b.nodes {
		g.Nodes = append(g.Nodes, *n)
	}
	for _, e := range b.edges {
		g.Edges = append(g.Edges, *e)
	}
	byPlace := func(a, b string) int { return comparePlace(a, b) }
	sort.Slice(g.Nodes, func(i, j int) bool { return byPlace(g.Nodes[i].ID, g.Nodes[j].ID) < 0 })
	sort.Slice(g.Edges, func(i, j int) bool {
		if c := byPlace(g.Edges[i].From, g.Edges[j].From); c != 0 {
			return c < 0
		}
		return byPlace(g.Edges[i].To, g.Edges[j].To) < 0
	})
	return g
}

// addDeadlocks draws each deadlock of the report as a ring (see the
// package doc). A deadlock with a link of no known line is left out: a
// ring with a gap would say less than the report's own sentence.
func (b *builder) addDeadlocks(r *contention.Report) {
	for _, d := range r.Deadlocks {
		var ring []*Node
		for _, l := range d.Links {
			if l.WaitsAt.File == "" {
				ring = nil
				break
			}
			prim, method := stuckPrim(r, l)
			n := b.node(l.WaitsAt.File, l.WaitsAt.Line, l.WaitsAt.Function, prim, method, RoleWaits)
			if n.Lock == "" && n.IsLock {
				n.Lock = l.WaitsFor
			}
			ring = append(ring, n)
		}
		for i, n := range ring {
			b.edge(n, ring[(i+1)%len(ring)], 0, 0, SourceDeadlock)
		}
	}
}

// stuckPrim is the primitive and method a deadlock link waits in, from the
// stuck wait of the same goroutine at the same line ("sync.RWMutex.RLock"
// is sync.RWMutex and RLock); sync.Mutex and Lock when there is none.
func stuckPrim(r *contention.Report, l contention.DeadlockLink) (string, string) {
	for _, w := range r.Stuck {
		if w.Goroutine == l.Goroutine && w.File == l.WaitsAt.File && w.Line == l.WaitsAt.Line {
			if i := strings.LastIndexByte(w.Reason, '.'); i > 0 && contention.IsLockPrimitive(w.Reason[:i]) {
				return w.Reason[:i], w.Reason[i+1:]
			}
		}
	}
	return contention.PrimMutex, "Lock"
}

// comparePlace orders "file:line" ids by file, then by line as a number.
func comparePlace(a, b string) int {
	fa, la := splitID(a)
	fb, lb := splitID(b)
	if fa != fb {
		return strings.Compare(fa, fb)
	}
	return la - lb
}

func splitID(id string) (string, int) {
	i := strings.LastIndexByte(id, ':')
	if i < 0 {
		return id, 0
	}
	n, _ := strconv.Atoi(id[i+1:])
	return id[:i], n
}

// delay is the first of kinds that has hotspots at a site, summed.
func (b *builder) delay(id string, kinds ...string) int64 {
	for _, k := range kinds {
		var sum int64
		found := false
		for _, h := range b.hot[id] {
			if h.Kind == k {
				sum += h.DelayNs
				found = true
			}
		}
		if found {
			return sum
		}
	}
	return 0
}

// pairProfiles joins the block profile's lock waiters to the mutex
// profile's holders of the same named lock, splitting each waiter's delay
// (and count) over the holders in proportion to their delays.
func (b *builder) pairProfiles(hs []contention.Hotspot) {
	type side struct {
		n *Node
		h contention.Hotspot
	}
	waiters := map[string][]side{}
	holders := map[string][]side{}
	var keys []string
	for _, h := range hs {
		if !h.Lock || h.File == "" || (h.Kind != contention.KindBlock && h.Kind != contention.KindMutex) {
			continue
		}
		role := RoleWaits
		if h.Kind == contention.KindMutex {
			role = RoleHolds
		}
		n := b.node(h.File, h.Line, h.Function, h.Primitive, h.Method, role)
		if n.Lock == "" {
			continue
		}
		k := lockKey(n)
		if _, ok := waiters[k]; !ok {
			if _, ok := holders[k]; !ok {
				keys = append(keys, k)
			}
		}
		if role == RoleWaits {
			waiters[k] = append(waiters[k], side{n, h})
		} else {
			holders[k] = append(holders[k], side{n, h})
		}
	}
	for _, k := range keys {
		var total int64
		for _, h := range holders[k] {
			total += h.h.DelayNs
		}
		if total <= 0 {
			continue
		}
		for _, w := range waiters[k] {
			for _, h := range holders[k] {
				f := float64(h.h.DelayNs) / float64(total)
				b.edge(w.n, h.n, roundNs(float64(w.h.DelayNs)*f), roundNs(float64(w.h.Count)*f), SourceProfiles)
			}
		}
	}
	// A holder line with no waiter of its lock is no node of the graph.
	for id, n := range b.nodes {
		if n.Role != RoleHolds {
			continue
		}
		joined := false
		for k := range b.edges {
			if k[1] == id || k[0] == id {
				joined = true
				break
			}
		}
		if !joined {
			delete(b.nodes, id)
		}
	}
}

// roundNs rounds half away from zero, as Math.round does for the positive
// values graph.ts sees.
func roundNs(x float64) int64 { return int64(x + 0.5) }

// markCycles finds lock-order cycles: strongly connected components of the
// graph whose vertices are locks and whose arcs are the edges between two
// waiting nodes of different locks ("holders of From's lock waited for
// To's lock"). It marks the edges inside a component and their nodes.
func (b *builder) markCycles(g *Graph) {
	arcs := map[string]map[string]bool{}
	var keys []string
	seen := map[string]bool{}
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	lockArc := func(e *Edge) (string, string, bool) {
		from, to := b.nodes[e.From], b.nodes[e.To]
		if from.Role != RoleWaits || to.Role != RoleWaits || !from.IsLock || !to.IsLock {
			return "", "", false
		}
		kf, kt := lockKey(from), lockKey(to)
		return kf, kt, kf != kt
	}
	for _, e := range b.edges {
		if kf, kt, ok := lockArc(e); ok {
			add(kf)
			add(kt)
			if arcs[kf] == nil {
				arcs[kf] = map[string]bool{}
			}
			arcs[kf][kt] = true
		}
	}
	sort.Strings(keys)
	comp := sccs(keys, func(k string) []string {
		var out []string
		for t := range arcs[k] {
			out = append(out, t)
		}
		sort.Strings(out)
		return out
	})
	cycles := map[int]*Cycle{}
	for _, e := range b.edges {
		kf, kt, ok := lockArc(e)
		if !ok || comp[kf].size < 2 || comp[kf].id != comp[kt].id {
			continue
		}
		e.Cycle = true
		c := cycles[comp[kf].id]
		if c == nil {
			c = &Cycle{}
			cycles[comp[kf].id] = c
		}
		b.addToCycle(c, e)
	}
	// A deadlock ring of one (a goroutine asks again for a lock it holds)
	// has no arc between two locks; it is a cycle all the same.
	var selfs []*Cycle
	for _, e := range b.edges {
		if e.Source == SourceDeadlock && !e.Cycle {
			e.Cycle = true
			c := &Cycle{}
			b.addToCycle(c, e)
			selfs = append(selfs, c)
		}
	}
	g.Cycles = []Cycle{}
	for _, c := range append(selfs, mapValues(cycles)...) {
		sort.Strings(c.Locks)
		sort.Slice(c.Nodes, func(i, j int) bool { return comparePlace(c.Nodes[i], c.Nodes[j]) < 0 })
		g.Cycles = append(g.Cycles, *c)
	}
	sort.Slice(g.Cycles, func(i, j int) bool { return comparePlace(g.Cycles[i].Nodes[0], g.Cycles[j].Nodes[0]) < 0 })
}

// addToCycle adds a cycle edge's nodes and locks to c; a deadlock edge
// makes c a deadlock.
func (b *builder) addToCycle(c *Cycle, e *Edge) {
	c.Deadlock = c.Deadlock || e.Source == SourceDeadlock
	for _, id := range []string{e.From, e.To} {
		n := b.nodes[id]
		n.Cycle = true
		c.Nodes = appendNew(c.Nodes, id)
		c.Locks = appendNew(c.Locks, lockName(n))
	}
}

func mapValues(m map[int]*Cycle) []*Cycle {
	out := make([]*Cycle, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	return out
}

// lockName is how a cycle names a node's lock: its expression, or its line.
func lockName(n *Node) string {
	if n.Lock != "" {
		return n.Lock
	}
	return n.ID
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

type component struct{ id, size int }

// sccs is Tarjan's algorithm over vertices in a fixed order.
func sccs(vertices []string, next func(string) []string) map[string]component {
	index := map[string]int{}
	low := map[string]int{}
	on := map[string]bool{}
	var stack []string
	out := map[string]component{}
	n, c := 0, 0
	var visit func(v string)
	visit = func(v string) {
		index[v], low[v] = n, n
		n++
		stack = append(stack, v)
		on[v] = true
		for _, w := range next(v) {
			if _, ok := index[w]; !ok {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if on[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var members []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				on[w] = false
				members = append(members, w)
				if w == v {
					break
				}
			}
			for _, m := range members {
				out[m] = component{id: c, size: len(members)}
			}
			c++
		}
	}
	for _, v := range vertices {
		if _, ok := index[v]; !ok {
			visit(v)
		}
	}
	return out
}
