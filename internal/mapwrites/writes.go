// Writes and map identity: which statements write a map, which map they
// write (the object that names it; see the package doc's Identity), and how
// Delve can spell it at the writing line.

package mapwrites

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"

	"github.com/lockscope/lockscope/internal/contention"
)

// builtinWrite records delete(m, k) and clear(m).
func (w *walker) builtinWrite(call *ast.CallExpr, pos token.Pos, s lockState) {
	id, ok := ast.Unparen(call.Fun).(*ast.Ident)
	if !ok || len(call.Args) == 0 {
		return
	}
	if _, isB := w.b.info.Uses[id].(*types.Builtin); !isB {
		return
	}
	var op string
	switch id.Name {
	case "delete":
		op = contention.OpDelete
	case "clear":
		op = contention.OpClear
	default:
		return
	}
	m := call.Args[0]
	if !isMap(w.b.info.TypeOf(m)) {
		return // clear of a slice
	}
	w.record(m, op, pos, s)
}

// indexWrite records lhs when it is m[k] on a map.
func (w *walker) indexWrite(lhs ast.Expr, op string, pos token.Pos, s lockState) {
	ie, ok := ast.Unparen(lhs).(*ast.IndexExpr)
	if !ok {
		return
	}
	t := w.b.info.TypeOf(ie.X)
	if t == nil {
		file, line, _ := w.b.site(pos)
		w.b.problems = append(w.b.problems, fmt.Sprintf("%s:%d: cannot tell whether %s is a map (it did not type-check)", file, line, types.ExprString(ie.X)))
		return
	}
	if !isMap(t) {
		return
	}
	w.record(ie.X, op, pos, s)
}

// isMap reports whether t is a map type, named or not.
func isMap(t types.Type) bool {
	if t == nil {
		return false
	}
	_, ok := t.Underlying().(*types.Map)
	return ok
}

// record adds a write of map expression m at pos, with the locks held
// there, once per position.
func (w *walker) record(m ast.Expr, op string, pos token.Pos, s lockState) {
	b := w.b
	file, line, col := b.site(pos)
	k := "write " + b.posKey(m.Pos())
	if b.seen[k] {
		return
	}
	b.seen[k] = true
	mi := w.mapInfo(m)
	b.writes = append(b.writes, rawWrite{
		w: contention.MapWrite{
			File: file, Line: line, Function: w.fn.name, Map: types.ExprString(m), Op: op,
			MapID: mi.id, MapEval: mi.eval, NoBreakpoint: mi.noBP,
		},
		col: col, state: s.clone(), fn: w.fn, root: mi.root, byCall: mi.byCall, callRoot: mi.callRoot,
	})
}

// mapInfo is what a write needs to know of its map: its identity, how
// Delve spells it (or why a breakpoint cannot watch it), and where it
// comes from, for the rule on unguarded writes.
type mapInfo struct {
	id, eval, noBP string
	root           types.Object
	byCall         bool
	// callRoot is the variable a method call that returns the map is
	// called on (w in w.Header()), if any.
	callRoot types.Object
}

// mapInfo names the map written through expression m and says how Delve
// can reach it at this line.
func (w *walker) mapInfo(m ast.Expr) mapInfo {
	b := w.b
	m = ast.Unparen(m)
	mi := mapInfo{eval: w.evalExpr(m), root: w.rootObj(m)}
	switch e := m.(type) {
	case *ast.CallExpr:
		mi.byCall = true
		if se, ok := ast.Unparen(e.Fun).(*ast.SelectorExpr); ok && b.info.Selections[se] != nil {
			mi.callRoot = w.rootObj(se.X)
		}
		mi.noBP = "the map is returned by a call, so there is no variable to watch at this line"
		if f := calledFunc(b.info, e); f != nil {
			mi.id = "call " + b.objKey(f.Origin())
		}
	case *ast.IndexExpr:
		if isMap(b.info.TypeOf(e.X)) {
			mi.noBP = "the map is an element of another map; map elements have no address Delve can read"
		}
	case *ast.TypeAssertExpr:
		mi.noBP = "the map comes from a type assertion; there is no variable to watch at this line"
	case *ast.CompositeLit:
		mi.noBP = "the map is a literal written in place"
	}
	if mi.id == "" {
		if o := w.identObj(m); o != nil {
			mi.id = b.objKey(o)
			if _, ok := m.(*ast.IndexExpr); ok {
				mi.id += "[]"
			}
		} else {
			mi.id = "expr " + types.ExprString(m) + "@" + b.posKey(m.Pos())
		}
	}
	if mi.eval == "" && mi.noBP == "" {
		mi.noBP = "the map expression " + types.ExprString(m) + " cannot be evaluated by Delve at this line"
	}
	if mi.noBP != "" {
		mi.eval = ""
	}
	return mi
}

// calledFunc is the function or method a call names statically, or nil.
func calledFunc(info *types.Info, call *ast.CallExpr) *types.Func {
	switch f := ast.Unparen(call.Fun).(type) {
	case *ast.Ident:
		fn, _ := info.Uses[f].(*types.Func)
		return fn
	case *ast.SelectorExpr:
		fn, _ := info.Uses[f.Sel].(*types.Func)
		return fn
	}
	return nil
}

// instantiatedFunc is calledFunc through type arguments: the function or
// method that call names, also as f[T](x) or pkg.F[K, V](x).
func instantiatedFunc(info *types.Info, call *ast.CallExpr) *types.Func {
	return calledFunc(info, &ast.CallExpr{Fun: uninstantiate(call.Fun)})
}

// identObj is the object that names the map: the variable or field
// selected last (the collection, for an element of a slice or map).
func (w *walker) identObj(e ast.Expr) types.Object {
	info := w.b.info
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		return info.ObjectOf(e)
	case *ast.SelectorExpr:
		if sel := info.Selections[e]; sel != nil {
			return sel.Obj()
		}
		return info.ObjectOf(e.Sel) // qualified identifier pkg.Var
	case *ast.StarExpr:
		return w.identObj(e.X)
	case *ast.IndexExpr:
		return w.identObj(e.X)
	}
	return nil
}

// rootObj is the variable an expression starts from (s in s.a.b), or nil
// when it starts from a call or literal. Package-qualified variables are
// their own root.
func (w *walker) rootObj(e ast.Expr) types.Object {
	o, _ := w.rootNode(e)
	return o
}

// evalExpr spells e the way Delve evaluates it at this line, or returns ""
// when Delve cannot: calls, conversions, map elements, non-trivial index
// expressions. Variables of other packages are written "path".Name, since
// Delve does not know this file's import names.
func (w *walker) evalExpr(e ast.Expr) string {
	info := w.b.info
	switch x := e.(type) {
	case *ast.ParenExpr:
		in := w.evalExpr(x.X)
		if in == "" {
			return ""
		}
		return "(" + in + ")"
	case *ast.Ident:
		o, ok := info.ObjectOf(x).(*types.Var)
		if !ok {
			return ""
		}
		if o.Pkg() != nil && o.Parent() == o.Pkg().Scope() && o.Pkg() != w.b.pkg.Types {
			// A dot-imported package variable.
			return fmt.Sprintf("%q.%s", o.Pkg().Path(), o.Name())
		}
		return x.Name
	case *ast.SelectorExpr:
		if id, ok := ast.Unparen(x.X).(*ast.Ident); ok {
			if pn, isPkg := info.Uses[id].(*types.PkgName); isPkg {
				if _, ok := info.Uses[x.Sel].(*types.Var); !ok {
					return ""
				}
				return fmt.Sprintf("%q.%s", pn.Imported().Path(), x.Sel.Name)
			}
		}
		sel := info.Selections[x]
		if sel == nil || sel.Kind() != types.FieldVal {
			return ""
		}
		in := w.evalExpr(x.X)
		if in == "" {
			return ""
		}
		// Spell out promoted fields through their embedded structs.
		t := info.TypeOf(x.X)
		idx := sel.Index()
		for _, i := range idx[:len(idx)-1] {
			st := structOf(t)
			if st == nil || i >= st.NumFields() {
				return ""
			}
			f := st.Field(i)
			in += "." + f.Name()
			t = f.Type()
		}
		return in + "." + x.Sel.Name
	case *ast.StarExpr:
		in := w.evalExpr(x.X)
		if in == "" {
			return ""
		}
		return "(*" + in + ")"
	case *ast.IndexExpr:
		if isMap(info.TypeOf(x.X)) {
			return ""
		}
		in := w.evalExpr(x.X)
		if in == "" || !simpleIndex(info, x.Index) {
			return ""
		}
		return in + "[" + types.ExprString(x.Index) + "]"
	}
	return ""
}

// simpleIndex accepts indices Delve evaluates without side effects: local
// names and constants.
func simpleIndex(info *types.Info, e ast.Expr) bool {
	if tv, ok := info.Types[e]; ok && tv.Value != nil {
		return true
	}
	id, ok := ast.Unparen(e).(*ast.Ident)
	if !ok {
		return false
	}
	_, isVar := info.ObjectOf(id).(*types.Var)
	return isVar
}
