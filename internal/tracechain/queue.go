package tracechain

import (
	"strconv"
	"strings"

	"github.com/lockscope/lockscope/internal/contention"
)

// Queues and chains.
//
// A chain links waits on different locks: withdraw waits for the vault
// lock, whose holder, transfer, waits for the ledger lock. Goroutines
// queued on one lock make a chain of the same shape in the trace (each
// waiter was released by the one before it, which had waited on the same
// lock), so a queue on a single-mutex cache read as
// "Get:96 → Get:96 → Add:81 → Get:98". Successive waits on the same lock
// are therefore folded into one link that says how long the queue was
// (contention.Link.Queue), and "chain" is kept for different locks.
//
// Traces carry no lock address. What they do say is which line released
// each lock wait: a wait's line and the line whose Unlock released it are
// on the same lock. lockClasses joins lines along those edges, over the
// whole trace; two waits are on the same lock when their lines are joined.

// lockClasses returns, for each interned line, a representative of the
// lines that lock waits show to be on the same lock as it.
func (a *Analyzer) lockClasses() []int32 {
	parent := make([]int32, len(a.locs))
	for i := range parent {
		parent[i] = int32(i)
	}
	find := func(x int32) int32 {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for _, e := range a.edges {
		k := e.key
		if k.blocked < 0 || k.unblocker < 0 || !a.lockEdge(k) {
			continue
		}
		if x, y := find(k.blocked), find(k.unblocker); x != y {
			parent[x] = y
		}
	}
	for i := range parent {
		parent[i] = find(int32(i))
	}
	return parent
}

// lockEdge reports whether an edge is a wait on a sync.Mutex or RWMutex.
func (a *Analyzer) lockEdge(k edgeKey) bool {
	return contention.IsLockPrimitive(primitiveOf(a.prims[k.blockedIn], a.reasons[k.reason]))
}

// chains renders every interned chain from the first waiter to the last
// holder, with queues on one lock folded into one link, and merges the
// chains that read the same once folded (their queues may differ in
// length: the link keeps the longest).
func (a *Analyzer) chains() ([]contention.Chain, []string) {
	class := a.lockClasses()
	var out []contention.Chain
	var keys []string
	at := map[string]int{}
	var edges []int32
	for n := int32(1); n < int32(len(a.nodes)); n++ {
		if a.nodes[n].count == 0 {
			continue
		}
		edges = edges[:0]
		for m := n; m != 0; m = a.nodes[m].tail {
			edges = append(edges, a.nodes[m].edge)
		}
		c := a.render(a.nodes[n], edges, class)
		k := chainKey(c)
		if i, ok := at[k]; ok {
			o := &out[i]
			o.WaitNs += c.WaitNs
			o.Count += c.Count
			for j := range o.Links {
				o.Links[j].Queue = max(o.Links[j].Queue, c.Links[j].Queue)
			}
			continue
		}
		at[k] = len(out)
		out = append(out, c)
		keys = append(keys, k)
	}
	return out, keys
}

// render turns one chain's edges (first waiter first) into links.
func (a *Analyzer) render(node chainNode, edges []int32, class []int32) contention.Chain {
	c := contention.Chain{WaitNs: node.waitNs, Count: node.count}
	for i := 0; i < len(edges); {
		first := a.edges[edges[i]].key
		// The queue: the waits after this one on the same lock.
		j := i + 1
		for j < len(edges) && a.lockEdge(first) {
			k := a.edges[edges[j]].key
			if !a.lockEdge(k) || class[k.blocked] != class[first.blocked] {
				break
			}
			j++
		}
		last := a.edges[edges[j-1]].key
		r := a.reasons[first.reason]
		f := a.frame(first.blocked)
		lk := contention.Link{
			File: f.File, Line: f.Line, Function: f.Function,
			Reason: r, Primitive: a.prims[first.blockedIn], Role: RoleWaits,
			Via: via(a.locs[first.blocked].viaFn, a.prims[first.blockedIn]), CallSite: a.locs[first.blocked].callSite,
		}
		if j-i > 1 {
			lk.Queue = j - i
		}
		if last.unblocker >= 0 {
			// The last of the queue was released by the next link.
			u := a.frame(last.unblocker)
			lk.ReleasedAt = &contention.Site{File: u.File, Line: u.Line, Function: u.Function}
		}
		if i == 0 {
			c.Lock = contention.IsLockPrimitive(primitiveOf(a.prims[first.blockedIn], r))
		}
		c.Links = append(c.Links, lk)
		i = j
	}
	last := a.edges[edges[len(edges)-1]].key
	r := a.reasons[last.reason]
	if !last.byRuntime {
		u := a.frame(last.unblocker)
		c.Links = append(c.Links, contention.Link{
			File: u.File, Line: u.Line, Function: u.Function,
			Reason: r, Primitive: a.prims[last.unblockedIn], Role: RoleHolds,
			Via: via(a.locs[last.unblocker].viaFn, a.prims[last.unblockedIn]), CallSite: a.locs[last.unblocker].callSite,
		})
	} else {
		c.Links = append(c.Links, contention.Link{Reason: r, Role: RoleRuntime})
	}
	return c
}

// chainKey identifies a folded chain by its links' places and roles.
func chainKey(c contention.Chain) string {
	var b strings.Builder
	for _, l := range c.Links {
		b.WriteString(l.Function)
		b.WriteByte(' ')
		b.WriteString(l.File)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(l.Line))
		b.WriteByte(' ')
		b.WriteString(l.Role)
		b.WriteByte(' ')
		b.WriteString(l.Reason)
		b.WriteByte(' ')
		b.WriteString(l.Primitive)
		if l.ReleasedAt != nil {
			b.WriteString(" <- ")
			b.WriteString(l.ReleasedAt.File)
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(l.ReleasedAt.Line))
			// Two lines of one number in different functions are two
			// links: which would name the merged one depends on order.
			b.WriteByte(' ')
			b.WriteString(l.ReleasedAt.Function)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
