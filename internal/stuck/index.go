package stuck

import (
	"path/filepath"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/mapwrites"
)

// FromMapwrites adapts the source index of map writes, which knows every
// Lock call and the locks held on each line, to [Index].
func FromMapwrites(ix *mapwrites.Index) Index {
	if ix == nil {
		return nil
	}
	m := &mapwritesIndex{ix: ix, sites: map[Line][]mapwrites.LockSite{}, byFunc: map[string][]mapwrites.LockSite{}}
	for _, s := range ix.LockSites() {
		if !s.Locks() {
			continue
		}
		k := Line{filepath.Clean(s.File), s.Line}
		m.sites[k] = append(m.sites[k], s)
		m.byFunc[s.Function] = append(m.byFunc[s.Function], s)
	}
	return m
}

type mapwritesIndex struct {
	ix     *mapwrites.Index
	sites  map[Line][]mapwrites.LockSite   // Lock and RLock calls by line
	byFunc map[string][]mapwrites.LockSite // the same, by function
}

func (m *mapwritesIndex) LockCall(file string, line int) (Lock, bool) {
	ss := m.sites[Line{filepath.Clean(file), line}]
	if len(ss) == 0 {
		return Lock{}, false
	}
	// Two Lock calls on one line: the dump cannot tell which one waits,
	// and the later one is the one that can block with the first held.
	s := ss[len(ss)-1]
	return Lock{Expr: s.Mutex, ID: s.MutexID, Kind: s.Kind, Read: s.Method == "RLock" || s.Method == "TryRLock"}, true
}

func (m *mapwritesIndex) Held(file string, line int) []Lock {
	var out []Lock
	for _, h := range m.ix.Held(file, line) {
		l := Lock{Expr: h.Mutex, ID: h.MutexID, Kind: h.Kind, Read: h.Read}
		// The call that took it: the nearest Lock of the same mutex
		// before the line, in the same function.
		best := -1
		for _, s := range m.byFunc[h.Function] {
			if s.Mutex == h.Mutex && s.Line <= line && s.Line > best && (filepath.Clean(s.File) == filepath.Clean(file) || !filepath.IsAbs(file)) {
				best = s.Line
				l.LockedAt = contention.Site{File: s.File, Line: s.Line, Function: s.Function}
			}
		}
		out = append(out, l)
	}
	return out
}
