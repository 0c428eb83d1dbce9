// Lock calls: recognising Lock, RLock, Unlock, RUnlock, TryLock and
// TryRLock on a sync.Mutex or sync.RWMutex (embedded ones spelled out),
// and recording each call as a LockSite.

package mapwrites

import (
	"fmt"
	"go/ast"
	"go/types"
	"strings"

	"github.com/lockscope/lockscope/internal/contention"
)

// lockOp is a recognised call of a sync.Mutex or sync.RWMutex method.
type lockOp struct {
	method string
	held   heldLock
}

// lockCall recognises x.Lock(), x.RUnlock() and so on, where x is (or
// embeds) a sync.Mutex or sync.RWMutex.
func (w *walker) lockCall(call *ast.CallExpr) (lockOp, bool) {
	b := w.b
	se, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
	if !ok {
		return lockOp{}, false
	}
	sel := b.info.Selections[se]
	if sel == nil || sel.Kind() != types.MethodVal {
		return lockOp{}, false
	}
	fn, ok := sel.Obj().(*types.Func)
	if !ok || fn.Pkg() == nil || fn.Pkg().Path() != "sync" {
		return lockOp{}, false
	}
	sig, _ := fn.Type().(*types.Signature)
	if sig == nil || sig.Recv() == nil {
		return lockOp{}, false
	}
	rt := sig.Recv().Type()
	if p, ok := rt.(*types.Pointer); ok {
		rt = p.Elem()
	}
	named, ok := rt.(*types.Named)
	if !ok {
		return lockOp{}, false
	}
	var kind string
	switch named.Obj().Name() {
	case "Mutex":
		kind = contention.PrimMutex
	case "RWMutex":
		kind = contention.PrimRWMutex
	default:
		return lockOp{}, false
	}
	switch fn.Name() {
	case "Lock", "Unlock", "RLock", "RUnlock", "TryLock", "TryRLock":
	default:
		return lockOp{}, false
	}
	// Spell out promoted methods: s.Lock() on a struct embedding
	// sync.Mutex locks s.Mutex.
	expr, eval := types.ExprString(se.X), w.evalExpr(se.X)
	id := ""
	last := w.identObj(se.X)
	t := b.info.TypeOf(se.X)
	idx := sel.Index()
	for _, i := range idx[:len(idx)-1] {
		st := structOf(t)
		if st == nil || i >= st.NumFields() {
			break
		}
		f := st.Field(i)
		expr += "." + f.Name()
		if eval != "" {
			eval += "." + f.Name()
		}
		last, t = f, f.Type()
	}
	if last != nil {
		id = b.objKey(last)
	} else {
		id = "expr " + expr + "@" + b.posKey(se.Pos())
	}
	h := heldLock{key: expr, read: fn.Name() == "RLock", kind: kind, id: id, expr: expr, eval: eval}
	if root, node := w.rootNode(se.X); root != nil && isPackageVar(root) {
		// A package variable's mutex has one key in every function and
		// package, so that a callee's Unlock of it matches (interproc.go).
		rest := strings.TrimPrefix(expr, types.ExprString(node))
		h.key = "pkg " + b.objKey(root) + rest
		h.pkgRoot = root
		if re := w.evalExpr(node); re != "" && strings.HasPrefix(eval, re) {
			h.evalRest = strings.TrimPrefix(eval, re)
		}
	}
	return lockOp{method: fn.Name(), held: h}, true
}

// isPackageVar reports whether o is a variable declared at package level.
func isPackageVar(o types.Object) bool {
	v, ok := o.(*types.Var)
	return ok && v.Pkg() != nil && v.Parent() == v.Pkg().Scope()
}

// rootNode is the variable an expression starts from (as rootObj) and the
// expression that names it there: an identifier, or pkg.Var.
func (w *walker) rootNode(e ast.Expr) (types.Object, ast.Expr) {
	info := w.b.info
	for {
		switch x := ast.Unparen(e).(type) {
		case *ast.Ident:
			return info.ObjectOf(x), x
		case *ast.SelectorExpr:
			if id, ok := ast.Unparen(x.X).(*ast.Ident); ok {
				if _, isPkg := info.Uses[id].(*types.PkgName); isPkg {
					return info.Uses[x.Sel], x
				}
			}
			e = x.X
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		default:
			return nil, nil
		}
	}
}

// structOf is the struct type of t or of what t points to, or nil.
func structOf(t types.Type) *types.Struct {
	if t == nil {
		return nil
	}
	if p, ok := t.Underlying().(*types.Pointer); ok {
		t = p.Elem()
	}
	s, _ := t.Underlying().(*types.Struct)
	return s
}

// addSite records a lock call as a LockSite, once per position.
func (w *walker) addSite(call *ast.CallExpr, l lockOp, deferred bool) {
	file, line, col := w.b.site(call.Pos())
	k := fmt.Sprintf("site %s:%d:%d", file, line, col)
	if w.b.seen[k] {
		return
	}
	w.b.seen[k] = true
	w.b.sites = append(w.b.sites, LockSite{
		File: file, Line: line, Function: w.fn.name, Mutex: l.held.expr, MutexID: l.held.id,
		Kind: l.held.kind, Method: l.method, Deferred: deferred || w.inDeferredLit(),
	})
}

// inDeferredLit reports whether the walker is inside a deferred function
// literal, at any depth: a call there runs when the function returns.
func (w *walker) inDeferredLit() bool {
	for f := w.fn; f != nil; f = f.parent {
		if f.deferred {
			return true
		}
	}
	return false
}
