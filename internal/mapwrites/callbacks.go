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
// only ever called in its own body (also inside a literal the body calls
// in place, or gives to a runner: runners.go), handed to a runner, ranged
// over, or passed on to a parameter of the same kind: never stored,
// assigned, returned, captured by any other function literal, started
// with go or deferred (compared with nil at most); a cycle of passes is
// not followed. Then the value runs at each call of the
// parameter (through the passes), with the locks held there: the caller's
// that the callee has not released on the way, and the ones the callee
// (or a callee it passes the value on to) took; with several calls, the
// locks held at all of them. A method value runs on the receiver it was
// taken from (o.forget runs on o, whatever lock of s the caller holds).
// Any other value, or a value passed to a callee the index does not see,
// is entered with nothing held, as before.

package mapwrites

import (
	"go/ast"
	"go/token"
	"go/types"
	"slices"
	"strings"

	"github.com/lockscope/lockscope/internal/contention"
)

// paramCall is one call of a function-typed parameter in the body of the
// function that declares it, with what the walk knew of its locks there;
// or a run of the parameter where it is passed on, with the locks in the
// function's own names (builder.runPoints). takenAt, when set, gives the
// call that holds each of state.held for the value (site otherwise).
type paramCall struct {
	state   lockState
	site    contention.Site
	takenAt []contention.Site
}

// taken is the call that holds state.held[i] for the value.
func (pc paramCall) taken(i int) contention.Site {
	if i < len(pc.takenAt) {
		return pc.takenAt[i]
	}
	return pc.site
}

// passOn is a function-typed parameter passed on as argument arg (its
// place among cs.args) of the static call cs.
type passOn struct {
	cs  *callSite
	arg int
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
	// inPlace is set for a value given to a library runner or ranged
	// over (runners.go): it runs at the call, with cs.state.
	inPlace bool
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
	if id, ok := ast.Unparen(call.Fun).(*ast.Ident); ok {
		w.paramRun(id, call.Lparen, s)
	}
}

// paramRun records that the value of id runs at pos with state s when id
// names a function-typed parameter of the walked function or of one
// that encloses it (through literals, which must be called in place for
// the run to count: inPlaceCalls); it reports whether id was one.
func (w *walker) paramRun(id *ast.Ident, pos token.Pos, s lockState) bool {
	owner := w.paramOwner(id)
	if owner == nil {
		return false
	}
	b := w.b
	v := b.info.Uses[id]
	pc := paramCall{state: s.clone(), site: b.callSite(pos, w.fn)}
	if owner == w.fn {
		b.addParamCall(v, pc)
	} else {
		b.litRuns = append(b.litRuns, litRun{param: v, owner: owner, lit: w.fn, pc: pc})
	}
	return true
}

// addParamCall records pc as a run of the parameter p.
func (b *builder) addParamCall(p types.Object, pc paramCall) {
	if b.paramCalls == nil {
		b.paramCalls = map[types.Object][]paramCall{}
	}
	b.paramCalls[p] = append(b.paramCalls[p], pc)
}

// litRun is a run of a parameter of owner inside the function literal
// lit (nested in owner), with the state in lit's walk.
type litRun struct {
	param types.Object
	owner *funcNode
	lit   *funcNode
	pc    paramCall
}

// inPlaceCalls turns each run of a parameter inside a literal into a run
// in the function that declares the parameter, through the in-place
// calls of the literals in between: singleflight's doCall runs fn inside
// func() { ... fn() ... }(), with the locks held where the literal is
// called and the ones it took. A literal not called in place (stored,
// started, deferred) breaks the chain: the run is dropped, so onlyCalled
// finds fewer runs than uses and rejects the parameter.
func (b *builder) inPlaceCalls() {
	if len(b.litRuns) == 0 {
		return
	}
	inPlace := map[string]*callSite{}
	for _, cs := range b.callSites {
		if fn := b.funcs[cs.callee]; cs.via == nil && fn != nil && fn.parent == cs.caller && fn.obj == nil {
			inPlace[cs.callee] = cs
		}
	}
	for _, r := range b.litRuns {
		pc, fn := r.pc, r.lit
		for fn != r.owner && fn != nil {
			cs := inPlace[fn.key]
			if cs == nil {
				break
			}
			pc = inPlaceRun(cs, pc)
			fn = fn.parent
		}
		if fn == r.owner {
			b.addParamCall(r.param, pc)
		}
	}
}

// inPlaceRun spells pc, a run inside a literal that the call cs calls in
// place, in the names of cs's caller: the literal shares them, so the
// locks are the caller's at cs that the literal has not released by then,
// and the literal's own.
func inPlaceRun(cs *callSite, pc paramCall) paramCall {
	out := paramCall{site: pc.site, state: lockState{killed: slices.Clone(cs.state.killed), lost: cs.state.lost || pc.state.lost}}
	for _, h := range cs.state.held {
		if !pc.state.kills(h.key) {
			out.state.held = append(out.state.held, h)
			out.takenAt = append(out.takenAt, cs.site)
		}
	}
	for i, h := range pc.state.held {
		if !hasLock(out.state.held, h) {
			out.state.held = append(out.state.held, h)
			out.takenAt = append(out.takenAt, pc.taken(i))
		}
	}
	for _, k := range pc.state.killed {
		if !slices.Contains(out.state.killed, k) {
			out.state.killed = append(out.state.killed, k)
		}
	}
	return out
}

// valueArgs records the function values among the arguments of call, whose
// static call is cs, and marks the identifiers that name them in passed;
// and the parameters of the walked function it passes on. A value given
// to a variadic parameter goes into a slice: it stays a value.
func (w *walker) valueArgs(call *ast.CallExpr, cs *callSite, passed *map[*ast.Ident]*valueArg) {
	sig, ok := w.b.info.TypeOf(call.Fun).(*types.Signature)
	if !ok {
		return
	}
	// cs.args has the receiver first when the call names it before the dot.
	off := len(cs.args) - len(call.Args)
	if off < 0 {
		return
	}
	runs := w.runnerArgs(call)
	for j, a := range call.Args {
		if sig.Variadic() && j >= sig.Params().Len()-1 {
			break
		}
		inPlace := slices.Contains(runs, j)
		if id, ok := ast.Unparen(a).(*ast.Ident); ok {
			if inPlace && w.paramRun(id, a.Pos(), cs.state) {
				// A parameter handed to a runner runs here: a call.
				w.b.markRunnerUse(id)
				continue
			}
			if v, ok := w.b.info.Uses[id].(*types.Var); ok && w.fn.params[v] {
				if w.b.passOns == nil {
					w.b.passOns = map[types.Object][]passOn{}
				}
				w.b.passOns[v] = append(w.b.passOns[v], passOn{cs: cs, arg: j + off})
				continue
			}
		}
		key, bind, id := w.funcValue(a)
		if key == "" {
			continue
		}
		va := &valueArg{cs: cs, arg: j + off, key: key, bind: bind, named: id != nil, inPlace: inPlace}
		if lit, ok := ast.Unparen(a).(*ast.FuncLit); ok {
			if inPlace {
				w.b.markInPlaceLit(lit)
			}
			if w.b.litArgs == nil {
				w.b.litArgs = map[*ast.FuncLit]*valueArg{}
			}
			w.b.litArgs[lit] = va
		}
		if id != nil {
			va.site = w.b.callSite(id.Pos(), w.fn) // where an unknown entry names it
			if *passed == nil {
				*passed = map[*ast.Ident]*valueArg{}
			}
			(*passed)[id] = va
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
	switch f := uninstantiate(e).(type) {
	case *ast.FuncLit:
		return b.litKey(f), nil, nil
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
		if va.inPlace {
			// A runner's argument or a ranged iterator: called at the
			// call, as the caller would call it there (runners.go).
			va.inCall = true
			if b.funcs[va.key] != nil {
				b.callSites = append(b.callSites, &callSite{caller: va.cs.caller, callee: va.key, state: va.cs.state, args: va.bind, site: va.site})
			}
		}
	}
	b.rangedFactories()
	// The runs of parameters inside literals called in place, those
	// given to runners included, before onlyCalled counts them.
	b.inPlaceCalls()
	for _, va := range b.valueArgs {
		if va.inPlace {
			continue
		}
		callee, fn := b.funcs[va.cs.callee], b.funcs[va.key]
		if callee == nil || fn == nil {
			continue
		}
		names := calleeNames(callee)
		if va.arg >= len(names) || names[va.arg] == nil || !b.onlyCalled(callee, names[va.arg]) {
			continue
		}
		va.inCall = true
		calls := b.runPoints(callee, names[va.arg])
		if len(calls) == 0 {
			continue // never called: the value does not run from here
		}
		b.callSites = append(b.callSites, &callSite{caller: va.cs.caller, callee: va.key, state: va.cs.state,
			args: va.bind, site: va.site, via: &viaCall{outer: va.cs, callee: callee, calls: calls}})
	}
}

// onlyCalled reports whether fn's parameter p is only ever called in fn's
// own body or passed on to parameters of which the same holds (see the
// file's doc), and the walk recorded each of those calls and passes.
func (b *builder) onlyCalled(fn *funcNode, p types.Object) bool {
	if r, ok := b.onlyCalls[p]; ok {
		return r
	}
	if b.onlyCalls == nil {
		b.onlyCalls = map[types.Object]bool{}
	}
	// While p's passes are followed, p counts as not only called: a cycle
	// of passes is not followed.
	b.onlyCalls[p] = false
	ok := fn.body != nil && fn.info != nil
	if _, isSig := p.Type().Underlying().(*types.Signature); !isSig {
		ok = false
	}
	calls, passes := 0, 0
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
				u := calledUse(id, stack, b.inPlaceLit)
				if (u == usePass || u == useRange) && b.runnerUses[id] {
					u = useCall // handed to a runner or ranged over (runners.go)
				}
				switch u {
				case useCall:
					calls++
				case usePass:
					passes++
				case useOther, useRange:
					ok = false
				}
			}
			stack = append(stack, n)
			return true
		})
	}
	// Every call and pass must have its state: one the walk did not record
	// would leave the value's locks unchecked there.
	ok = ok && calls == len(b.paramCalls[p]) && passes == len(b.passOns[p])
	for _, po := range b.passOns[p] {
		if q := b.passTarget(po); !ok || q == nil || !b.onlyCalled(b.funcs[po.cs.callee], q) {
			ok = false
			break
		}
	}
	b.onlyCalls[p] = ok
	return ok
}

// passTarget is the parameter a pass gives the value to, or nil when its
// callee is not indexed.
func (b *builder) passTarget(po passOn) types.Object {
	callee := b.funcs[po.cs.callee]
	if callee == nil {
		return nil
	}
	names := calleeNames(callee)
	if po.arg >= len(names) {
		return nil
	}
	return names[po.arg]
}

// runPoints is where the value given to fn's parameter p runs, for p
// only called (onlyCalled): its calls in fn, and the runs of the
// parameters it is passed on to, with their locks spelled in fn's names
// (the locks fn holds at the pass that the callee has not released by
// then, and the callee's own; the keys the callee released).
func (b *builder) runPoints(fn *funcNode, p types.Object) []paramCall {
	if r, ok := b.runs[p]; ok {
		return r
	}
	out := append([]paramCall{}, b.paramCalls[p]...)
	for _, po := range b.passOns[p] {
		callee := b.funcs[po.cs.callee]
		for _, pc := range b.runPoints(callee, b.passTarget(po)) {
			out = append(out, b.throughPass(po.cs, callee, pc))
		}
	}
	if b.runs == nil {
		b.runs = map[types.Object][]paramCall{}
	}
	b.runs[p] = out
	return out
}

// throughPass spells pc, a run in callee of a value that the call cs
// passed on, in the names of cs's caller, whose state there is cs.state.
func (b *builder) throughPass(cs *callSite, callee *funcNode, pc paramCall) paramCall {
	out := paramCall{site: pc.site, state: lockState{killed: slices.Clone(cs.state.killed), lost: cs.state.lost || pc.state.lost}}
	for _, h := range cs.state.held {
		if t, ok := b.translate(h, cs, callee); ok && !pc.state.kills(t.key) {
			out.state.held = append(out.state.held, h)
			out.takenAt = append(out.takenAt, cs.site)
		}
	}
	for i, h := range pc.state.held {
		if t := b.untranslate(h, cs, callee); !hasLock(out.state.held, t) {
			out.state.held = append(out.state.held, t)
			out.takenAt = append(out.takenAt, pc.taken(i))
		}
	}
	for _, k := range pc.state.killed {
		if k = b.untranslateKey(k, cs, callee); !slices.Contains(out.state.killed, k) {
			out.state.killed = append(out.state.killed, k)
		}
	}
	return out
}

// The uses of a function-typed parameter, for onlyCalled.
const (
	useOther   = iota // anything that may let the value go
	useCall           // called in place
	usePass           // an argument of a call (not go or defer)
	useCompare        // compared (with nil)
	useRange          // the iterator of a range-over-func loop
)

// calledUse classifies the use of a parameter id under the nodes of stack
// (innermost last). inPlace tells the function literals that run inside
// the call that makes them (runners.go).
func calledUse(id *ast.Ident, stack []ast.Node, inPlace func(*ast.FuncLit) bool) int {
	for i, n := range stack {
		if lit, ok := n.(*ast.FuncLit); ok && !calledInPlace(stack, i) && !inPlace(lit) {
			return useOther // captured: it may run anywhere, any time
		}
	}
	i := unparenAt(stack, len(stack)-1)
	if i < 0 {
		return useOther
	}
	switch p := stack[i].(type) {
	case *ast.CallExpr:
		if goOrDeferred(stack, i) {
			return useOther // runs in another goroutine, or at return
		}
		if ast.Unparen(p.Fun) != id {
			return usePass
		}
		return useCall
	case *ast.BinaryExpr:
		if p.Op == token.EQL || p.Op == token.NEQ {
			return useCompare
		}
	case *ast.RangeStmt:
		if ast.Unparen(p.X) == id {
			return useRange
		}
	}
	return useOther
}

// calledInPlace reports whether the function literal stack[i] is called
// where it is written (func() { ... }(), not under go or defer): it runs
// then, in the caller, and the parameters it calls run there too.
func calledInPlace(stack []ast.Node, i int) bool {
	return calledBy(stack, i-1, stack[i])
}

// calledBy reports whether fun, whose parent is stack[top] (parentheses
// aside), is the function of that call, and the call is not a go or defer
// statement's: it runs then, in the caller.
func calledBy(stack []ast.Node, top int, fun ast.Node) bool {
	j := unparenAt(stack, top)
	if j < 0 {
		return false
	}
	call, ok := stack[j].(*ast.CallExpr)
	return ok && ast.Unparen(call.Fun) == fun && !goOrDeferred(stack, j)
}

// unparenAt is the index of the first node of stack, from top outwards,
// that is not a parenthesis; -1 when there is none.
func unparenAt(stack []ast.Node, top int) int {
	for top >= 0 {
		if _, ok := stack[top].(*ast.ParenExpr); !ok {
			break
		}
		top--
	}
	return top
}

// goOrDeferred reports whether the call stack[i] is a go or defer
// statement's.
func goOrDeferred(stack []ast.Node, i int) bool {
	if i > 0 {
		switch stack[i-1].(type) {
		case *ast.GoStmt, *ast.DeferStmt:
			return true
		}
	}
	return false
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
		for j, h := range pc.state.held {
			here = put(here, atCall{h: b.untranslate(h, v.outer, v.callee), taken: []contention.Site{pc.taken(j)}})
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
	if name, a, ok := passedAs(h.expr, cs, callee); ok {
		t := h
		t.key = a.expr + h.expr[len(name):]
		t.expr = t.key
		t.eval = ""
		if a.eval != "" && startsWith(h.eval, name) {
			t.eval = a.eval + h.eval[len(name):]
		}
		return t
	}
	t := h
	t.key, t.eval, t.outer = "outer "+h.id, "", true
	return t
}

// untranslateKey spells the key of a lock the callee of cs released as the
// caller sees it, as untranslate does: a key on the callee's own variable
// stays as it is, which can only release more.
func (b *builder) untranslateKey(k string, cs *callSite, callee *funcNode) string {
	if name, a, ok := passedAs(k, cs, callee); ok {
		return a.expr + k[len(name):]
	}
	return k
}

// passedAs finds the receiver or parameter of callee that the expression
// expr (in the callee's names) starts from, and the path the call cs
// passes for it: false when expr starts elsewhere, or the call passes no
// path there.
func passedAs(expr string, cs *callSite, callee *funcNode) (string, argPath, bool) {
	for i, p := range calleeNames(callee) {
		if i >= len(cs.args) {
			break
		}
		a := cs.args[i]
		if p == nil || p.Name() == "_" || p.Name() == "" || a.expr == "" {
			continue
		}
		if startsWith(expr, p.Name()) {
			return p.Name(), a, true
		}
	}
	return "", argPath{}, false
}

// startsWith reports whether the expression expr is the variable name or
// a path from it (name.f.g).
func startsWith(expr, name string) bool {
	return expr == name || strings.HasPrefix(expr, name+".")
}
