// Local maps: a map that a function makes for itself and never lets go of
// cannot be written by another goroutine, whatever lock is held around it,
// so its writes are not indexed.

package mapwrites

import (
	"go/ast"
	"go/types"
)

// dropLocal removes the writes of maps that are local to their function:
// see [builder.isLocalMap].
func (b *builder) dropLocal() {
	local := map[*types.Var]bool{}
	kept := b.writes[:0]
	for _, r := range b.writes {
		v, ok := r.root.(*types.Var)
		if ok && r.w.Map == v.Name() && !r.byCall {
			is, seen := local[v]
			if !seen {
				is = b.isLocalMap(r.fn, v)
				local[v] = is
			}
			if is {
				continue
			}
		}
		kept = append(kept, r)
	}
	b.writes = kept
}

// isLocalMap reports whether v, written by fn, is a map fn makes for
// itself that never escapes it: a variable declared in fn's own body (not
// a parameter, not captured from an enclosing function), only ever
// assigned a new map (make, a literal, nil), and otherwise only indexed,
// ranged over, or given to len, delete and clear. Anything else — stored,
// assigned to another variable, returned, passed to a function or a
// goroutine, sent, its address taken, or named inside a function literal —
// lets it go.
func (b *builder) isLocalMap(fn *funcNode, v *types.Var) bool {
	if fn.body == nil || fn.info == nil || fn.params[v] || v.Pos() < fn.body.Pos() || v.Pos() >= fn.body.End() {
		return false
	}
	info := fn.info
	escapes := false
	var stack []ast.Node
	ast.Inspect(fn.body, func(n ast.Node) bool {
		if escapes {
			return false
		}
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		if id, ok := n.(*ast.Ident); ok && info.ObjectOf(id) == v {
			if !localUse(info, id, stack) {
				escapes = true
			}
		}
		stack = append(stack, n)
		return true
	})
	return !escapes
}

// localUse reports whether the use of the map variable id, under the
// nodes of stack (innermost last), keeps it in its function.
func localUse(info *types.Info, id *ast.Ident, stack []ast.Node) bool {
	for _, n := range stack {
		if _, ok := n.(*ast.FuncLit); ok {
			return false // captured
		}
	}
	var parent ast.Node
	for i := len(stack) - 1; i >= 0; i-- {
		if _, ok := stack[i].(*ast.ParenExpr); !ok {
			parent = stack[i]
			break
		}
	}
	switch p := parent.(type) {
	case *ast.IndexExpr:
		return ast.Unparen(p.X) == id
	case *ast.RangeStmt:
		return ast.Unparen(p.X) == id
	case *ast.CallExpr:
		fn, ok := ast.Unparen(p.Fun).(*ast.Ident)
		if !ok {
			return false
		}
		if _, isB := info.Uses[fn].(*types.Builtin); !isB {
			return false
		}
		switch fn.Name {
		case "len", "delete", "clear":
			return true
		}
		return false
	case *ast.AssignStmt:
		for i, l := range p.Lhs {
			if ast.Unparen(l) == id {
				return len(p.Lhs) == len(p.Rhs) && freshMap(info, p.Rhs[i])
			}
		}
		return false
	case *ast.ValueSpec:
		for i, n := range p.Names {
			if n == id {
				return len(p.Values) == 0 || (len(p.Values) == len(p.Names) && freshMap(info, p.Values[i]))
			}
		}
		return false
	}
	return false
}

// freshMap reports whether e makes a new map, or is nil.
func freshMap(info *types.Info, e ast.Expr) bool {
	switch x := ast.Unparen(e).(type) {
	case *ast.CompositeLit:
		return true
	case *ast.Ident:
		_, isNil := info.Uses[x].(*types.Nil)
		return isNil
	case *ast.CallExpr:
		fn, ok := ast.Unparen(x.Fun).(*ast.Ident)
		if !ok {
			return false
		}
		_, isB := info.Uses[fn].(*types.Builtin)
		return isB && fn.Name == "make"
	}
	return false
}
