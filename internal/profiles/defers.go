package profiles

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"

	"github.com/lockscope/lockscope/internal/contention"
)

// AttributeDefers moves holder-side hotspots that an optimised build
// charged to a function's exit back to the deferred Unlock that caused them.
//
// With optimisation on, `defer mu.Unlock()` is open-coded: the Unlock runs
// inline at the function's exit, and the mutex profile charges the closing
// brace or the return statement. Under Delve (-N -l) the same defer runs in
// a .deferwrap1 wrapper at the defer line, and needs no help. A hotspot is
// moved when its line is an exit of the innermost function around it and
// that function (not counting nested function literals) has exactly one
// `defer x.Unlock()` (or RUnlock, matching the hotspot's Method); the exit
// line is kept in ExitLine. Hotspots that land on the same line are merged.
//
// read returns a source file's contents (the caller does the I/O); files it
// cannot read are left alone. The returned notes say what was moved or why
// not. The hotspots are changed in place; the returned slice (merged, in
// contention.SortHotspots order, shares kept) replaces hs.
func AttributeDefers(hs []contention.Hotspot, read func(file string) ([]byte, error)) ([]contention.Hotspot, []string) {
	var notes []string
	files := map[string]*deferIndex{}
	moved := 0
	for i := range hs {
		h := &hs[i]
		if h.Kind != contention.KindMutex || (h.Method != "Unlock" && h.Method != "RUnlock") || h.ExitLine != 0 {
			continue
		}
		idx, ok := files[h.File]
		if !ok {
			idx = indexDefers(h.File, read)
			files[h.File] = idx
		}
		if idx == nil {
			continue
		}
		to, why := idx.deferFor(h.Line, h.Method)
		if why != "" {
			notes = append(notes, fmt.Sprintf("%s:%d (%s): %s", h.File, h.Line, h.Function, why))
		}
		if to == 0 {
			continue
		}
		h.ExitLine, h.Line = h.Line, to
		for _, st := range h.Stacks {
			if len(st) > 0 && st[0].File == h.File && st[0].Line == h.ExitLine {
				st[0].Line = to
			}
		}
		moved++
	}
	if moved == 0 {
		return hs, notes
	}
	// Merge hotspots that now share a line (the same defer reached through
	// its wrapper and through an open-coded exit, or two exits).
	type key struct {
		kind, file string
		line       int
	}
	at := map[key]int{}
	out := hs[:0:0]
	for _, h := range hs {
		k := key{h.Kind, h.File, h.Line}
		if j, ok := at[k]; ok {
			m := &out[j]
			m.DelayNs = addSat(m.DelayNs, h.DelayNs)
			m.CumDelayNs = addSat(m.CumDelayNs, h.CumDelayNs)
			m.Count = addSat(m.Count, h.Count)
			m.Share += h.Share
			if len(m.Stacks) < maxStacks {
				m.Stacks = append(m.Stacks, h.Stacks[:min(len(h.Stacks), maxStacks-len(m.Stacks))]...)
			}
			continue
		}
		at[k] = len(out)
		out = append(out, h)
	}
	contention.SortHotspots(out)
	notes = append(notes, fmt.Sprintf("%d holder-side hotspots charged to a function's exit were moved to their deferred Unlock line (an optimised build runs open-coded defers at the exit)", moved))
	return out, notes
}

// deferIndex knows, for one source file, the exits of each function and its
// deferred unlocks.
type deferIndex struct {
	fset  *token.FileSet
	funcs []funcSpan
}

type funcSpan struct {
	from, to int              // lines of the body's braces
	exits    map[int]bool     // closing brace and return lines
	defers   map[string][]int // method -> lines of `defer x.Method()`
}

func indexDefers(file string, read func(string) ([]byte, error)) *deferIndex {
	src, err := read(file)
	if err != nil {
		return nil
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.SkipObjectResolution)
	if err != nil {
		return nil
	}
	idx := &deferIndex{fset: fset}
	line := func(p token.Pos) int { return fset.Position(p).Line }
	var visit func(body *ast.BlockStmt)
	visit = func(body *ast.BlockStmt) {
		fs := funcSpan{from: line(body.Lbrace), to: line(body.Rbrace), exits: map[int]bool{line(body.Rbrace): true}, defers: map[string][]int{}}
		ast.Inspect(body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncLit:
				visit(n.Body) // its own function; not this one's
				return false
			case *ast.ReturnStmt:
				fs.exits[line(n.Pos())] = true
			case *ast.DeferStmt:
				if sel, ok := n.Call.Fun.(*ast.SelectorExpr); ok && len(n.Call.Args) == 0 {
					fs.defers[sel.Sel.Name] = append(fs.defers[sel.Sel.Name], line(n.Pos()))
				}
			}
			return true
		})
		idx.funcs = append(idx.funcs, fs)
	}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
			visit(fd.Body)
		}
	}
	return idx
}

// deferFor returns the line of the deferred method call that an exit at
// line stands for, or 0 and, when it matters, why not.
func (idx *deferIndex) deferFor(line int, method string) (int, string) {
	// The innermost function whose body holds the line.
	var in *funcSpan
	for i := range idx.funcs {
		f := &idx.funcs[i]
		if f.from <= line && line <= f.to && (in == nil || f.to-f.from < in.to-in.from) {
			in = f
		}
	}
	if in == nil || !in.exits[line] {
		return 0, ""
	}
	switch d := in.defers[method]; len(d) {
	case 0:
		return 0, ""
	case 1:
		return d[0], ""
	default:
		return 0, fmt.Sprintf("charged to a function exit with %d deferred %s calls; left at the exit", len(d), method)
	}
}
