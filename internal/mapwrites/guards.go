// Guards: the program-wide pass that picks each write's guard from the
// locks held there (Eraser's candidate set), marks the unguarded writes
// other goroutines can reach, and links the writers of each map.

package mapwrites

import (
	"fmt"
	"sort"

	"github.com/lockscope/lockscope/internal/contention"
)

// finish runs the program-wide passes and builds the Index: each write's
// guard, whether an unguarded write is shared, and its other writers, in
// file and line order.
func (b *builder) finish() *Index {
	b.dropLocal()
	reach, per := b.reachable(), b.perRequest()
	ip := b.summarise()

	// The locks held at each write: the function's own and its callers'.
	held := make([][]heldLock, len(b.writes))
	for i, r := range b.writes {
		held[i] = ip.heldAt(r.fn, r.state)
	}

	// Eraser's candidate set: the mutexes held at every guarded write of
	// each map.
	common := map[string]map[string]bool{}
	for i, r := range b.writes {
		if len(held[i]) == 0 {
			continue
		}
		ids := map[string]bool{}
		for _, h := range held[i] {
			ids[h.id] = true
		}
		if c, ok := common[r.w.MapID]; ok {
			for id := range c {
				if !ids[id] {
					delete(c, id)
				}
			}
		} else {
			common[r.w.MapID] = ids
		}
	}

	ix := &Index{sites: b.sites, problems: b.problems, held: b.held}
	for i, r := range b.writes {
		w := r.w
		if hs := held[i]; len(hs) > 0 {
			g := hs[len(hs)-1]
			for i := len(hs) - 1; i >= 0; i-- {
				if common[w.MapID][hs[i].id] {
					g = hs[i]
					break
				}
			}
			w.Guard, w.GuardKind, w.GuardRead, w.GuardID, w.GuardEval = g.expr, g.kind, g.read, g.id, g.eval
			if !hasKey(r.state.held, g.key) {
				w.GuardedVia = ip.guardedVia(r.fn.key, g.key)
			}
		} else {
			w.Unguarded = b.shared(r, reach, per)
			if guarded, via := ip.unguardedVia(r.fn.key, r.state); w.Unguarded && guarded && len(via) > 0 {
				w.SometimesUnguarded, w.UnguardedVia = true, via
			}
		}
		ix.writes = append(ix.writes, w)
	}

	// Writers: every other write site of the same map.
	byMap := map[string][]int{}
	for i, w := range ix.writes {
		byMap[w.MapID] = append(byMap[w.MapID], i)
	}
	for i := range ix.writes {
		w := &ix.writes[i]
		w.Writers = []contention.Site{}
		seen := map[string]bool{fmt.Sprintf("%s:%d", w.File, w.Line): true}
		for _, j := range byMap[w.MapID] {
			o := ix.writes[j]
			k := fmt.Sprintf("%s:%d", o.File, o.Line)
			if seen[k] {
				continue
			}
			seen[k] = true
			w.Writers = append(w.Writers, contention.Site{File: o.File, Line: o.Line, Function: o.Function})
		}
		sort.Slice(w.Writers, func(a, c int) bool {
			if w.Writers[a].File != w.Writers[c].File {
				return w.Writers[a].File < w.Writers[c].File
			}
			return w.Writers[a].Line < w.Writers[c].Line
		})
	}
	sort.SliceStable(ix.writes, func(i, j int) bool {
		if ix.writes[i].File != ix.writes[j].File {
			return ix.writes[i].File < ix.writes[j].File
		}
		return ix.writes[i].Line < ix.writes[j].Line
	})
	sort.SliceStable(ix.sites, func(i, j int) bool {
		if ix.sites[i].File != ix.sites[j].File {
			return ix.sites[i].File < ix.sites[j].File
		}
		return ix.sites[i].Line < ix.sites[j].Line
	})
	return ix
}
