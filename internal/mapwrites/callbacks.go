// Callbacks: a function value (a function literal, a method value, a
// named function) passed to a call that only calls it runs inside that
// call, with the locks held where the callee calls it, not from a state
// the index cannot know.
//
// bigcache's shard holds s.lock while it calls s.onEvict(entry, now,
// s.removeOldestEntry), and onEvict calls the value at once: the map
// writes of removeOldestEntry are guarded by s.lock. So are those of a
// literal given to a helper that takes the lock around it
// (c.locked(func() { c.items[k] = v })). The callee's parameter must be
// only ever called in its own body: never stored, assigned, returned,
// passed on, captured by a function literal, started with go or deferred
// (compared with nil at most). Then the value runs at each call of the
// parameter, with the locks held there: the caller's that the callee has
// not released on the way, and the ones the callee took itself; with
// several calls, the locks held at all of them. A method value runs on
// the receiver it was taken from (o.forget runs on o, whatever lock of
// s the caller holds). Any other value, or a value passed to a callee the
// index does not see, is entered with nothing held, as before.

package mapwrites

import (
	"go/ast"
	"go/token"
	"go/types"
	"strings"

	"github.com/lockscope/lockscope/internal/contention"
)

// paramCall is one call of a function-typed parameter in the body of the
// function that declares it, with what the walk knew of its locks there.
type paramCall struct {
	state lockState
	site  contention.Site
}

// valueArg is a function value passed as an argument of the static call
// cs: the function it runs (key), its place among cs.args (receiver first
// for a method), the receiver a method value binds, and where it is
// written. named is set for a function or method named by an identifier
// (entered from an unknown state unless it runs in the call); inCall once
// the callee is found to only call it.
type valueArg struct {
	cs     *callSite
	arg    int
	key    string
	bind   []argPath
	named  bool
	site   contention.Site
	inCall bool
}

// viaCall is what a callSite that runs a function value inside the call
// outer needs: the callee of outer and its calls of the parameter.
type viaCall struct {
	outer  *callSite
	callee *funcNode
	calls  []paramCall
}

// paramCall records call when it calls a parameter of the walked function,
// with the state s there (not for go f() or defer f(), which the callers
// leave out: onlyCalled rejects the parameter anyway).
func (w *walker) paramCall(call *ast.CallExpr, s lockState) {
	id, ok := ast.Unparen(call.Fun).(*ast.Ident)
	if !ok {
		return
	}
	v, ok := w.b.info.Uses[id].(*types.Var)
	if !ok || !w.fn.params[v] {
		return
	}
	if w.b.paramCalls == nil {
		w.b.paramCalls = map[types.Object][]paramCall{}
	}
	w.b.paramCalls[v] = append(w.b.paramCalls[v], paramCall{state: s.clone(), site: w.b.callSite(call.Lparen, w.fn)})
}

// valueArgs records the function values among the arguments of call, whose
// static call is cs, and marks the identifiers that name them in passed.
// A value given to a variadic parameter goes into a slice: it stays a
// value.
func (w *walker) valueArgs(call *ast.CallExpr, cs *callSite, passed map[*ast.Ident]*valueArg) {
	sig, ok := w.b.info.TypeOf(call.Fun).(*types.Signature)
	if !ok {
		return
	}
	// cs.args has the receiver first when the call names it before the dot.
	off := len(cs.args) - len(call.Args)
	for j, a := range call.Args {
		if sig.Variadic() && j >= sig.Params().Len()-1 {
			break
		}
		key, bind, id := w.funcValue(a)
		if key == "" || off < 0 {
			continue
		}
		va := &valueArg{cs: cs, arg: j + off, key: key, bind: bind, named: id != nil}
		if id != nil {
			va.site = w.b.callSite(id.Pos(), w.fn) // where an unknown entry names it
			passed[id] = va
		} else {
			va.site = w.b.callSite(a.Pos(), w.fn)
		}
		w.b.valueArgs = append(w.b.valueArgs, va)
	}
}

// funcValue is the function an argument is, if it is one: a function
// literal, a function (f, pkg.F, f[T]), a method value (x.M, which binds
// x: the receiver path) or a method expression (T.M). The identifier
// that names a declared function is returned too; nil for a literal.
func (w *walker) funcValue(e ast.Expr) (key string, bind []argPath, id *ast.Ident) {
	b := w.b
	e = ast.Unparen(e)
	if lit, ok := e.(*ast.FuncLit); ok {
		return "lit@" + b.posKey(lit.Pos()), nil, nil
	}
	for {
		// An instantiation f[T] is f.
		if ix, ok := e.(*ast.IndexExpr); ok {
			e = ast.Unparen(ix.X)
			continue
		}
		if ix, ok := e.(*ast.IndexListExpr); ok {
			e = ast.Unparen(ix.X)
			continue
		}
		break
	}
	switch f := e.(type) {
	case *ast.Ident:
		if fn, ok := b.info.Uses[f].(*types.Func); ok && !isInterfaceMethod(fn) {
			return b.objKey(fn.Origin()), nil, f
		}
	case *ast.SelectorExpr:
		fn, ok := b.info.Uses[f.Sel].(*types.Func)
		if !ok || isInterfaceMethod(fn) {
			return "", nil, nil
		}
		sel := b.info.Selections[f]
		switch {
		case sel == nil, sel.Kind() == types.MethodExpr:
			return b.objKey(fn.Origin()), nil, f.Sel // pkg.F, T.M
		case sel.Kind() == types.MethodVal:
			return b.objKey(fn.Origin()), []argPath{w.receiverPath(f, sel)}, f.Sel
		}
	}
	return "", nil, nil
}

// resolveValues turns each function value passed to a parameter that its
// callee only calls into an entry of the value's function from the call
// (a callSite with via set), in place of the entry from an unknown state
// that naming it makes. Values passed anywhere else keep that entry.
func (b *builder) resolveValues() {
	for _, va := range b.valueArgs {
		callee, fn := b.funcs[va.cs.callee], b.funcs[va.key]
		if callee == nil || fn == nil {
			continue
		}
		names := calleeNames(callee)
		if va.arg >= len(names) || names[va.arg] == nil || !b.onlyCalled(callee, names[va.arg]) {
			continue
		}
		va.inCall = true
		calls := b.paramCalls[names[va.arg]]
		if len(calls) == 0 {
			continue // never called: the value does not run from here
		}
		b.callSites = append(b.callSites, &callSite{caller: va.cs.caller, callee: va.key, state: va.cs.state,
			args: va.bind, site: va.site, via: &viaCall{outer: va.cs, callee: callee, calls: calls}})
	}
}

// onlyCalled reports whether fn's parameter p is only ever called in fn's
// own body (see the file's doc), and the walk recorded each of those calls
// with its state.
func (b *builder) onlyCalled(fn *funcNode, p types.Object) bool {
	if r, ok := b.onlyCalls[p]; ok {
		return r
	}
	ok := fn.body != nil && fn.info != nil
	if _, isSig := p.Type().Underlying().(*types.Signature); !isSig {
		ok = false
	}
	calls := 0
	if ok {
		info := fn.info
		var stack []ast.Node
		ast.Inspect(fn.body, func(n ast.Node) bool {
			if !ok {
				return false
			}
			if n == nil {
				stack = stack[:len(stack)-1]
				return true
			}
			if id, isID := n.(*ast.Ident); isID && info.Uses[id] == p {
				switch calledUse(id, stack) {
				case useCall:
					calls++
				case useOther:
					ok = false
				}
			}
			stack = append(stack, n)
			return true
		})
	}
	// Every call must have its state: one the walk did not record would
	// leave the value's locks unchecked there.
	ok = ok && calls == len(b.paramCalls[p])
	if b.onlyCalls == nil {
		b.onlyCalls = map[types.Object]bool{}
	}
	b.onlyCalls[p] = ok
	return ok
}

// The uses of a function-typed parameter, for onlyCalled.
const (
	useOther   = iota // anything that may let the value go
	useCall           // called in place
	useCompare        // compared (with nil)
)

// calledUse classifies the use of a parameter id under the nodes of stack
// (innermost last).
func calledUse(id *ast.Ident, stack []ast.Node) int {
	for _, n := range stack {
		if _, ok := n.(*ast.FuncLit); ok {
			return useOther // captured: it may run anywhere, any time
		}
	}
	i := len(stack) - 1
	for i >= 0 {
		if _, ok := stack[i].(*ast.ParenExpr); !ok {
			break
		}
		i--
	}
	if i < 0 {
		return useOther
	}
	switch p := stack[i].(type) {
	case *ast.CallExpr:
		if ast.Unparen(p.Fun) != id {
			return useOther // passed on
		}
		if i > 0 {
			switch stack[i-1].(type) {
			case *ast.GoStmt, *ast.DeferStmt:
				return useOther // runs in another goroutine, or at return
			}
		}
		return useCall
	case *ast.BinaryExpr:
		if p.Op == token.EQL || p.Op == token.NEQ {
			return useCompare
		}
	}
	return useOther
}

// carriedVia is the locks that the function value entered by cs carries
// into its function: the locks held at every call of the parameter in
// the callee, spelled as the caller sees them (its own that the callee
// has not released by then, and the callee's own), then as the value's
// function sees them (translate, with the receiver a method value binds).
func (ip *interproc) carriedVia(cs *callSite) []carried {
	b, v := ip.b, cs.via
	type atCall struct {
		h     heldLock
		from  string
		taken []contention.Site
	}
	put := func(in []atCall, a atCall) []atCall {
		for i := range in {
			if in[i].h.key == a.h.key && in[i].h.read == a.h.read {
				if in[i].from == "" {
					in[i].from = a.from
				}
				in[i].taken = append(in[i].taken, a.taken...)
				return in
			}
		}
		return append(in, a)
	}
	callerHeld := ip.heldAt(cs.caller, v.outer.state)
	into := ip.carried(v.outer)
	var acc []atCall
	for i, pc := range v.calls {
		var here []atCall
		for _, c := range into {
			if pc.state.kills(c.h.key) {
				continue
			}
			for _, h := range callerHeld {
				if h.key == c.from && h.read == c.h.read {
					here = put(here, atCall{h: h, from: c.from})
				}
			}
		}
		for _, h := range pc.state.held {
			here = put(here, atCall{h: b.untranslate(h, v.outer, v.callee), taken: []contention.Site{pc.site}})
		}
		if i == 0 {
			acc = here
			continue
		}
		var kept []atCall
		for _, a := range acc {
			for _, o := range here {
				if o.h.key == a.h.key && o.h.read == a.h.read {
					kept = put(append(kept, a), o)
				}
			}
		}
		acc = kept
	}
	fn := b.funcs[cs.callee]
	out := []carried{}
	for _, a := range acc {
		if t, ok := b.translate(a.h, cs, fn); ok && !hasLock(heldOf(out), t) {
			out = append(out, carried{h: t, from: a.from, taken: sortSites(a.taken)})
		}
	}
	ip.carry[cs] = out
	return out
}

// untranslate spells h, held by the callee of the call cs at some point,
// as the caller of cs sees it: the inverse of translate. A package
// variable's mutex and a lock the callee cannot name stay as they are;
// r.mu on the callee's receiver or parameter r, passed c, is c.mu; any
// other lock (one on the callee's own variable) is held but cannot be
// named by the caller: an outer lock.
func (b *builder) untranslate(h heldLock, cs *callSite, callee *funcNode) heldLock {
	if h.pkgRoot != nil || h.outer {
		return h
	}
	for i, p := range calleeNames(callee) {
		if i >= len(cs.args) {
			break
		}
		a := cs.args[i]
		if p == nil || p.Name() == "_" || p.Name() == "" || a.expr == "" {
			continue
		}
		name := p.Name()
		if h.expr != name && !strings.HasPrefix(h.expr, name+".") {
			continue
		}
		t := h
		t.key = a.expr + h.expr[len(name):]
		t.expr = t.key
		t.eval = ""
		if a.eval != "" && (h.eval == name || strings.HasPrefix(h.eval, name+".")) {
			t.eval = a.eval + h.eval[len(name):]
		}
		return t
	}
	t := h
	t.key, t.eval, t.outer = "outer "+h.id, "", true
	return t
}
