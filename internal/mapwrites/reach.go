// Reachability: which functions may run in a goroutine (go statements and
// everything they name, transitively) and which variables goroutines
// share, for the package doc's rule on unguarded writes.

package mapwrites

import (
	"go/ast"
	"go/types"
)

// goStmt records what a go statement starts: the functions it names
// become roots of reachability, the variables it names or its literal
// captures escape to the new goroutine, and its literals are walked as
// functions of their own.
func (w *walker) goStmt(st *ast.GoStmt, s lockState) {
	b := w.b
	call := st.Call
	// The goroutine starts with no lock held; the arguments are evaluated
	// here, with s.
	w.calls(call, s, true)
	// Everything named in the go statement's call runs (or is shared) in
	// the new goroutine.
	b.escape(call, true)
	if lit, ok := ast.Unparen(call.Fun).(*ast.FuncLit); ok {
		fn := b.literal(w.fn, lit)
		fn.goRoot = true
		b.roots[fn.key] = true
		b.funcBody(fn, lit.Body)
	} else {
		b.exprs(w.fn, call.Fun)
	}
	for _, a := range call.Args {
		if lit, ok := ast.Unparen(a).(*ast.FuncLit); ok {
			fn := b.literal(w.fn, lit)
			b.roots[fn.key] = true
			b.funcBody(fn, lit.Body)
			continue
		}
		b.exprs(w.fn, a)
	}
}

// reachable is the set of functions that may run in a goroutine started by
// a go statement or a library call (spawn.go): the roots and everything
// they name, transitively.
func (b *builder) reachable() map[string]bool {
	reach := map[string]bool{}
	var stack []string
	for k := range b.roots {
		stack = append(stack, k)
	}
	for len(stack) > 0 {
		k := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if reach[k] {
			continue
		}
		reach[k] = true
		if fn := b.funcs[k]; fn != nil {
			for c := range fn.calls {
				stack = append(stack, c)
			}
		}
	}
	return reach
}

// shared applies the package doc's rule for unguarded writes. per is the
// set of the parameters of http handlers (builder.perRequest): a map
// reached from one of them is the request's own, shared only if the
// handler lets the variable go to a goroutine.
func (b *builder) shared(r rawWrite, reach map[string]bool, per map[types.Object]bool) bool {
	if r.byCall || r.root == nil {
		if r.byCall && per[r.callRoot] {
			return b.escaped[r.callRoot] // w.Header()
		}
		return reach[r.fn.key]
	}
	v, ok := r.root.(*types.Var)
	if !ok {
		return false
	}
	if v.Pkg() != nil && v.Parent() == v.Pkg().Scope() {
		return true // package variable
	}
	if per[v] {
		return b.escaped[v] // r.Header
	}
	// Find the function that declares the variable.
	for f := r.fn; f != nil; f = f.parent {
		// Walking outwards, the first function whose text holds the
		// declaration declares it.
		if !f.params[v] && (v.Pos() < f.pos || v.Pos() >= f.end) {
			continue
		}
		if f != r.fn {
			// Captured: shared if a literal between the declaring
			// function and the write runs in a goroutine, other than
			// the declarer's (synclits.go).
			for g := r.fn; g != f; g = g.parent {
				if g.goRoot || (reach[g.key] && !b.syncLit(g.key)) {
					return true
				}
			}
		}
		if f.params[v] && reach[f.key] {
			return true
		}
		return b.escaped[v]
	}
	return false
}
