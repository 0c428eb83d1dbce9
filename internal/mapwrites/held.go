// Critical sections: the locks certainly held on each line, for finding
// which goroutine holds a lock that another one waits for (the holder's
// stack sits on such a line).

package mapwrites

import (
	"go/ast"
	"path/filepath"
)

// Held is a lock certainly held on a line of a function.
type Held struct {
	// Mutex is the mutex expression as written where it was locked, and
	// MutexID names the mutex variable or field (as in [LockSite]).
	Mutex   string `json:"mutex"`
	MutexID string `json:"mutexId"`
	// Kind is contention.PrimMutex or contention.PrimRWMutex.
	Kind string `json:"kind"`
	// Read is true when it is held with RLock.
	Read bool `json:"read,omitempty"`
	// Function is the function whose body holds it, named as pprof and
	// Delve name it; its Lock call is among [Index.LockSites] with the
	// same Function.
	Function string `json:"function"`
}

// heldKey is a source line.
type heldKey struct {
	file string
	line int
}

// noteHeld records the lock state s of fn on the lines of statement st:
// every line of a simple statement (a call may be charged to any line of
// a statement that spans several), except those of function literals
// inside it, which are functions of their own; only the first line of a
// compound one, whose inner statements are recorded on their own. Two
// statements on one line keep the locks held at both.
func (b *builder) noteHeld(fn *funcNode, st ast.Stmt, s lockState) {
	start, end := b.fset.Position(st.Pos()), b.fset.Position(st.End())
	file := filepath.Clean(start.Filename)
	inner := map[int]bool{}
	switch st.(type) {
	case *ast.BlockStmt, *ast.IfStmt, *ast.ForStmt, *ast.RangeStmt, *ast.SwitchStmt,
		*ast.TypeSwitchStmt, *ast.SelectStmt, *ast.LabeledStmt, *ast.CaseClause, *ast.CommClause:
		end = start
	default:
		ast.Inspect(st, func(n ast.Node) bool {
			lit, ok := n.(*ast.FuncLit)
			if !ok {
				return true
			}
			for l := b.fset.Position(lit.Body.Lbrace).Line + 1; l < b.fset.Position(lit.Body.Rbrace).Line; l++ {
				inner[l] = true
			}
			return false
		})
	}
	if b.held == nil {
		b.held = map[heldKey][]Held{}
	}
	for l := start.Line; l <= end.Line && l > 0; l++ {
		if inner[l] {
			continue
		}
		k := heldKey{file, l}
		hs := make([]Held, 0, len(s.held))
		for _, h := range s.held {
			hs = append(hs, Held{Mutex: h.expr, MutexID: h.id, Kind: h.kind, Read: h.read, Function: fn.name})
		}
		if old, seen := b.held[k]; seen {
			hs = meetHeld(old, hs)
		}
		b.held[k] = hs
	}
}

// meetHeld keeps the locks in both lists.
func meetHeld(a, b []Held) []Held {
	out := []Held{}
	for _, x := range a {
		for _, y := range b {
			if x == y {
				out = append(out, x)
				break
			}
		}
	}
	return out
}

// Held returns the locks certainly held on file:line, before the line's
// own statement runs: on the line of mu.Lock(), mu is not held yet; on
// the lines after it, until mu.Unlock() (or to the end of the function
// after defer mu.Unlock()), it is. A relative file is taken as a suffix of
// the indexed absolute paths. Nil when the line holds no statement of an
// indexed function.
func (ix *Index) Held(file string, line int) []Held {
	if filepath.IsAbs(file) {
		return append([]Held(nil), ix.held[heldKey{filepath.Clean(file), line}]...)
	}
	for k, hs := range ix.held {
		if k.line == line && sameFile(k.file, file) {
			return append([]Held(nil), hs...)
		}
	}
	return nil
}
