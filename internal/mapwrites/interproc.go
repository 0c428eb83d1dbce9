// Locks across calls: the call graph with the lock state at each static
// call, the locks every caller holds when a function is entered (a
// summary per function, computed to a fixed point), and which callers
// hold a helper's guard or leave it unguarded.

package mapwrites

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"slices"
	"sort"
	"strings"

	"github.com/lockscope/lockscope/internal/contention"
)

// callSite is one static call: who calls whom, with what the walk knew of
// the caller's locks there, and how the callee's receiver and parameters
// are spelled at the call (receiver first for a method).
type callSite struct {
	caller *funcNode
	callee string
	state  lockState
	args   []argPath
	site   contention.Site
	// via is set on the entry of a function value that runs inside another
	// call (callbacks.go): state is then the caller's at that call, and
	// args the receiver a method value binds.
	via *viaCall
	// field is set on a call through a function-typed field of a
	// function not bound to the value the call goes through (fields.go):
	// only package-level locks are sure to be the ones it needs.
	field bool
}

// argPath is an argument that names a variable or a field path (c, c.lru,
// &s.inner), as written and as Delve spells it; empty when it is anything
// else (a call, an index expression, an operation).
type argPath struct{ expr, eval string }

// ifaceCall is a call through an interface method, which may enter any
// method of the same name whose type implements the interface: the call
// site of each such method (builder.resolveInterfaces).
type ifaceCall struct {
	name  string
	iface *types.Interface
	cs    callSite // callee unset
}

// ifaceValue is a value of a concrete type passed where an interface is
// expected: code the index does not see (net/http, fmt, sort) may call
// its exported methods from any state.
type ifaceValue struct {
	typ  types.Type
	from *funcNode
	site contention.Site
}

// dynEntry is a place that enters a function from a state the index cannot
// know: a go or defer statement, or a function used as a value.
type dynEntry struct {
	from *funcNode
	site contention.Site
	// arg is set when the entry is a function value passed to a call: it
	// is dropped if the value runs inside that call (callbacks.go).
	arg *valueArg
	// ident names the function; the entry is dropped if the value only
	// goes to a known field, whose calls enter it (fields.go).
	ident *ast.Ident
}

// maxDynamicSites bounds how many places that enter a function from an
// unknown state are kept to name it.
const maxDynamicSites = 8

// calls records the calls under n, evaluated with the caller's state s:
// static calls as call sites; functions and methods used as values, and
// the call itself when top is set (a go or defer statement), as entered
// from an unknown state; and calls through interfaces. Function literals
// are functions of their own and are not entered.
func (w *walker) calls(n ast.Node, s lockState, top bool) {
	if n == nil {
		return
	}
	b := w.b
	called := map[*ast.Ident]bool{}
	var passed map[*ast.Ident]*valueArg // made by valueArgs, when needed
	ast.Inspect(n, func(x ast.Node) bool {
		switch x := x.(type) {
		case *ast.FuncLit:
			return false
		case *ast.CompositeLit:
			w.serverLit(x)
		case *ast.AssignStmt:
			w.serverAssign(x)
		case *ast.CallExpr:
			if id := funIdent(x.Fun); id != nil {
				called[id] = true
			}
			w.spawnCall(x)
			if !(top && x == n) {
				w.paramCall(x, s)
			}
			w.interfaceArgs(x, s)
			callee, args, im := w.callTarget(x)
			site := b.callSite(x.Lparen, w.fn)
			if im != nil {
				b.ifaces = append(b.ifaces, ifaceCall{name: im.name, iface: im.iface, cs: callSite{caller: w.fn, state: s.clone(), args: args, site: site}})
				return true
			}
			if callee == "" {
				if !(top && x == n) {
					// A function-typed field's or local variable's, if it
					// is one.
					w.fieldCall(x, s)
					w.varCall(x, s)
				}
				return true
			}
			if top && x == n {
				b.enterDynamic(callee, w.fn, site, nil)
				return true
			}
			cs := &callSite{caller: w.fn, callee: callee, state: s.clone(), args: args, site: site}
			b.callSites = append(b.callSites, cs)
			w.valueArgs(x, cs, &passed)
		case *ast.Ident:
			if called[x] {
				return true
			}
			if f, ok := b.info.Uses[x].(*types.Func); ok && !isInterfaceMethod(f) {
				// A function or method value runs wherever the value goes
				// (unless it runs inside the call it is passed to, or the
				// range-over-func loop that it is the iterator of).
				arg := passed[x]
				if arg == nil {
					arg = b.rangedIdents[x]
				}
				b.enterDynamic(b.objKey(f.Origin()), w.fn, b.callSite(x.Pos(), w.fn), arg)
				ds := b.dynamic[b.objKey(f.Origin())]
				ds[len(ds)-1].ident = x
			}
		}
		return true
	})
}

// funIdent is the identifier that names the function a call calls, if one
// does: f, pkg.F, x.M, f[T].
func funIdent(fun ast.Expr) *ast.Ident {
	switch f := ast.Unparen(fun).(type) {
	case *ast.Ident:
		return f
	case *ast.SelectorExpr:
		return f.Sel
	case *ast.IndexExpr:
		return funIdent(f.X)
	case *ast.IndexListExpr:
		return funIdent(f.X)
	}
	return nil
}

// isInterfaceMethod reports whether f is an interface's method.
func isInterfaceMethod(f *types.Func) bool {
	sig, ok := f.Type().(*types.Signature)
	if !ok || sig.Recv() == nil {
		return false
	}
	return types.IsInterface(sig.Recv().Type())
}

// ifaceMethod is the interface method a call goes through.
type ifaceMethod struct {
	name  string
	iface *types.Interface
}

// callTarget is the key of the function a call enters statically, and the
// paths of its receiver and arguments; "" for builtins, conversions and
// function values. A call through an interface returns its method instead.
func (w *walker) callTarget(call *ast.CallExpr) (string, []argPath, *ifaceMethod) {
	b := w.b
	args := w.argPaths(call.Args)
	switch f := uninstantiate(call.Fun).(type) {
	case *ast.FuncLit:
		return b.litKey(f), args, nil
	case *ast.Ident:
		if fn, ok := b.info.Uses[f].(*types.Func); ok {
			return b.objKey(fn.Origin()), args, nil
		}
	case *ast.SelectorExpr:
		sel := b.info.Selections[f]
		if sel == nil {
			if fn, ok := b.info.Uses[f.Sel].(*types.Func); ok {
				return b.objKey(fn.Origin()), args, nil // pkg.F
			}
			return "", nil, nil
		}
		fn, ok := sel.Obj().(*types.Func)
		if !ok {
			return "", nil, nil // a field of function type
		}
		if isInterfaceMethod(fn) {
			if it, ok := sel.Recv().Underlying().(*types.Interface); ok && sel.Kind() == types.MethodVal {
				return "", append([]argPath{w.argPath(f.X)}, args...), &ifaceMethod{name: fn.Name(), iface: it}
			}
			return "", nil, nil
		}
		if sel.Kind() == types.MethodExpr {
			return b.objKey(fn.Origin()), args, nil // T.M(x, ...): x is the receiver
		}
		return b.objKey(fn.Origin()), append([]argPath{w.receiverPath(f, sel)}, args...), nil
	}
	return "", nil, nil
}

// uninstantiate is e without parentheses and instantiations: an
// instantiation f[T] names (and enters) f.
func uninstantiate(e ast.Expr) ast.Expr {
	e = ast.Unparen(e)
	for {
		switch ix := e.(type) {
		case *ast.IndexExpr:
			e = ast.Unparen(ix.X)
		case *ast.IndexListExpr:
			e = ast.Unparen(ix.X)
		default:
			return e
		}
	}
}

// interfaceArgs records the arguments of a call that are concrete values
// passed as interfaces; those given to an interface runner (runners.go)
// have their methods called there, with the caller's state s.
func (w *walker) interfaceArgs(call *ast.CallExpr, s lockState) {
	b := w.b
	sig, ok := b.info.TypeOf(call.Fun).(*types.Signature)
	if !ok {
		return
	}
	var inCall []int
	if r := w.runnerOf(call); r != "" {
		inCall = ifaceRunners[r]
	}
	params := sig.Params()
	for i, a := range call.Args {
		var pt types.Type
		switch {
		case sig.Variadic() && i >= params.Len()-1 && !call.Ellipsis.IsValid():
			if sl, ok := params.At(params.Len() - 1).Type().(*types.Slice); ok {
				pt = sl.Elem()
			}
		case i < params.Len():
			pt = params.At(i).Type()
		}
		at := b.info.TypeOf(a)
		if pt == nil || at == nil || !types.IsInterface(pt) || types.IsInterface(at) {
			continue
		}
		if it, ok := pt.Underlying().(*types.Interface); ok && slices.Contains(inCall, i) {
			w.ifaceRun(a, at, it, s)
			continue
		}
		if isNetHTTP(pt, "Handler") {
			// A handler handed on (to middleware, to a mux) is served
			// (spawn.go).
			w.spawned(a, true)
		}
		b.ifaceValues = append(b.ifaceValues, ifaceValue{typ: at, from: w.fn, site: b.callSite(a.Pos(), w.fn)})
	}
}

// argPaths spells each of a call's arguments, as argPath does.
func (w *walker) argPaths(args []ast.Expr) []argPath {
	var paths []argPath
	for _, a := range args {
		paths = append(paths, w.argPath(a))
	}
	return paths
}

// dynamicSite is the call site of call, whose callee is not static (a
// function-typed field or local variable: fields.go, synclits.go), with
// the caller's state s and the arguments a static call would have.
func (w *walker) dynamicSite(call *ast.CallExpr, s lockState) callSite {
	return callSite{caller: w.fn, state: s.clone(), args: w.argPaths(call.Args), site: w.b.callSite(call.Lparen, w.fn)}
}

// argPath spells an argument that names a variable or a field path.
func (w *walker) argPath(e ast.Expr) argPath {
	e = ast.Unparen(e)
	if u, ok := e.(*ast.UnaryExpr); ok && u.Op == token.AND {
		e = ast.Unparen(u.X)
	}
	for x := e; ; {
		switch y := x.(type) {
		case *ast.Ident:
			return argPath{expr: types.ExprString(e), eval: w.evalExpr(e)}
		case *ast.SelectorExpr:
			x = ast.Unparen(y.X)
			continue
		}
		return argPath{}
	}
}

// receiverPath spells the receiver of a method call, with the embedded
// fields a promoted method goes through.
func (w *walker) receiverPath(se *ast.SelectorExpr, sel *types.Selection) argPath {
	p := w.argPath(se.X)
	if p.expr == "" {
		return p
	}
	t := w.b.info.TypeOf(se.X)
	idx := sel.Index()
	for _, i := range idx[:len(idx)-1] {
		st := structOf(t)
		if st == nil || i >= st.NumFields() {
			return argPath{}
		}
		f := st.Field(i)
		p.expr += "." + f.Name()
		if p.eval != "" {
			p.eval += "." + f.Name()
		}
		t = f.Type()
	}
	return p
}

// callSite names the call at p in fn.
func (b *builder) callSite(p token.Pos, fn *funcNode) contention.Site {
	file, line, _ := b.site(p)
	return contention.Site{File: file, Line: line, Function: fn.name}
}

// enterDynamic records that the function key is entered from a state the
// index cannot know, at site in from; arg is the argument it is passed
// as, if it is one.
func (b *builder) enterDynamic(key string, from *funcNode, site contention.Site, arg *valueArg) {
	if b.dynamic == nil {
		b.dynamic = map[string][]dynEntry{}
	}
	b.dynamic[key] = append(b.dynamic[key], dynEntry{from: from, site: site, arg: arg})
}

// carried is a lock a call carries into its callee, spelled for the
// callee, with its key in the caller. For a function value run inside
// another call, from is "" when only that call's callee holds the lock,
// and taken names the callee's calls of the value where it holds it.
type carried struct {
	h     heldLock
	from  string
	taken []contention.Site
}

// interproc is the result of the pass over the call graph.
type interproc struct {
	b        *builder
	live     map[string]bool
	incoming map[string][]*callSite // the calls of each function from live callers
	dynamic  map[string][]contention.Site
	entry    map[string][]heldLock // the locks held on entry of each function
	carry    map[*callSite][]carried
}

// summarise computes the locks held on entry of every function: the locks
// held at every call of it from the live program, carried into it,
// iterated to the greatest fixed point, so that recursion keeps what its
// outside callers hold. A function that nothing live calls, or that is
// started by a go statement, deferred, used as a value, or reachable from
// code the index does not see, is entered with nothing held. A function
// only reached from a cycle of calls that nothing enters is dead code, and
// holds nothing either.
func (b *builder) summarise() *interproc {
	ip := &interproc{b: b, incoming: map[string][]*callSite{}, dynamic: map[string][]contention.Site{},
		entry: map[string][]heldLock{}, carry: map[*callSite][]carried{}}
	b.resolveInterfaces()
	b.resolveFields()
	b.resolveValues()
	b.resolveVarCalls()
	ip.live = b.live()
	for _, cs := range b.callSites {
		if b.funcs[cs.callee] != nil && ip.live[cs.caller.key] {
			ip.incoming[cs.callee] = append(ip.incoming[cs.callee], cs)
		}
	}
	for k, ds := range b.dynamic {
		for _, d := range ds {
			if d.arg != nil && d.arg.inCall {
				continue // an entry of its own (callbacks.go)
			}
			if d.ident != nil && b.fields.known[d.ident] {
				continue // entered by the calls of its field (fields.go)
			}
			if ip.live[d.from.key] && len(ip.dynamic[k]) < maxDynamicSites {
				ip.dynamic[k] = append(ip.dynamic[k], d.site)
			}
		}
	}
	var keys []string
	top := map[string]bool{}
	for k := range b.funcs {
		if len(ip.incoming[k]) > 0 && ip.dynamic[k] == nil {
			top[k] = true
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for changed := true; changed; {
		changed = false
		for _, k := range keys {
			var acc []heldLock
			known := false
			for _, cs := range ip.incoming[k] {
				if top[cs.caller.key] {
					continue // nothing known of that caller yet
				}
				c := heldOf(ip.carried(cs))
				if !known {
					acc, known = c, true
				} else {
					acc = meetLocks(acc, c)
				}
			}
			if !known {
				continue
			}
			if top[k] || len(acc) != len(ip.entry[k]) {
				// Entries only shrink, so a change shows in the length.
				delete(top, k)
				ip.entry[k] = acc
				changed = true
			}
		}
		// carried depends on the callers' entries: recompute it.
		clear(ip.carry)
	}
	return ip
}

// resolveInterfaces turns each call through an interface into a call of
// every method of that name whose type implements the interface (for a
// generic type, whose instantiations the index does not see, the name is
// enough), and each concrete value passed as an interface into entries of
// its type's exported methods from an unknown state.
func (b *builder) resolveInterfaces() {
	if len(b.ifaces) == 0 && len(b.ifaceValues) == 0 {
		return
	}
	byName := map[string][]*funcNode{}
	for _, fn := range b.funcs {
		if recvNamed(fn) != nil {
			byName[fn.obj.Name()] = append(byName[fn.obj.Name()], fn)
		}
	}
	for _, ic := range b.ifaces {
		for _, fn := range byName[ic.name] {
			named := recvNamed(fn)
			if named.TypeParams().Len() > 0 || types.Implements(named, ic.iface) || types.Implements(types.NewPointer(named), ic.iface) {
				cs := ic.cs
				cs.callee = fn.key
				b.callSites = append(b.callSites, &cs)
				cs.caller.calls[fn.key] = true
			}
		}
	}
	seen := map[string]bool{}
	for _, v := range b.ifaceValues {
		t := v.typ
		if p, ok := t.(*types.Pointer); ok {
			t = p.Elem()
		}
		named, ok := t.(*types.Named)
		if !ok {
			continue
		}
		for i := 0; i < named.Origin().NumMethods(); i++ {
			m := named.Origin().Method(i)
			k := b.objKey(m)
			if m.Exported() && b.funcs[k] != nil && !seen[v.from.key+" "+k] {
				seen[v.from.key+" "+k] = true
				b.enterDynamic(k, v.from, v.site, nil)
				v.from.calls[k] = true
			}
		}
	}
}

// recvNamed is the named type of a method's receiver, or nil for a
// function or literal.
func recvNamed(fn *funcNode) *types.Named {
	if fn.obj == nil {
		return nil
	}
	sig, ok := fn.obj.Type().(*types.Signature)
	if !ok || sig.Recv() == nil {
		return nil
	}
	rt := sig.Recv().Type()
	if p, ok := rt.(*types.Pointer); ok {
		rt = p.Elem()
	}
	named, _ := rt.(*types.Named)
	return named
}

// live is the set of functions the program may run: those reachable from
// its entry points (main, init functions and package initialisers, test,
// benchmark, fuzz and example functions) through calls, function values,
// go statements and interface calls. A call from code that never runs
// does not unguard a helper (a library's TwoQueueCache calling the
// simplelru an LRU cache also wraps). When the index holds no entry point
// (a library indexed alone), every function may run.
func (b *builder) live() map[string]bool {
	live := map[string]bool{}
	var stack []string
	for k, fn := range b.funcs {
		if b.isEntryPoint(fn) {
			stack = append(stack, k)
		}
	}
	if len(stack) == 0 {
		for k := range b.funcs {
			live[k] = true
		}
		return live
	}
	for len(stack) > 0 {
		k := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if live[k] {
			continue
		}
		live[k] = true
		if fn := b.funcs[k]; fn != nil {
			for c := range fn.calls {
				stack = append(stack, c)
			}
		}
	}
	return live
}

// isEntryPoint reports whether the program starts running at fn.
func (b *builder) isEntryPoint(fn *funcNode) bool {
	if strings.HasPrefix(fn.key, "init@") {
		return true // package initialisers' literals
	}
	if fn.obj == nil || recvNamed(fn) != nil {
		return false
	}
	name := fn.obj.Name()
	switch {
	case name == "init":
		return true
	case name == "main":
		return fn.obj.Pkg() != nil && fn.obj.Pkg().Name() == "main"
	}
	if !strings.HasSuffix(b.fset.Position(fn.pos).Filename, "_test.go") {
		return false
	}
	for _, p := range []string{"Test", "Benchmark", "Fuzz", "Example"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// heldAt is what fn certainly holds at a point whose walk state is s: the
// locks held on entry that no path to the point released, then the ones
// the function took itself.
func (ip *interproc) heldAt(fn *funcNode, s lockState) []heldLock {
	var out []heldLock
	for _, h := range ip.entry[fn.key] {
		if !s.kills(h.key) && !hasKey(s.held, h.key) {
			out = append(out, h)
		}
	}
	return append(out, s.held...)
}

// hasKey reports whether hs holds the mutex key in any mode.
func hasKey(hs []heldLock, key string) bool {
	for _, h := range hs {
		if h.key == key {
			return true
		}
	}
	return false
}

// carried is the locks the call cs carries into its callee.
func (ip *interproc) carried(cs *callSite) []carried {
	if c, ok := ip.carry[cs]; ok {
		return c
	}
	if cs.via != nil {
		return ip.carriedVia(cs)
	}
	callee := ip.b.funcs[cs.callee]
	out := []carried{}
	for _, h := range ip.heldAt(cs.caller, cs.state) {
		if t, ok := ip.b.translate(h, cs, callee); ok && !hasLock(heldOf(out), t) {
			out = append(out, carried{h: t, from: h.key})
		}
	}
	ip.carry[cs] = out
	return out
}

// heldOf is the locks of cs.
func heldOf(cs []carried) []heldLock {
	out := make([]heldLock, len(cs))
	for i, c := range cs {
		out[i] = c.h
	}
	return out
}

// translate spells h, held by the caller at cs, as the callee sees it: a
// package variable's mutex as itself; c.mu as r.mu when the callee's
// receiver or parameter r is c; in a function literal called in place,
// as the caller's variables, which it shares. Any other lock is still held
// but cannot be named there (lru.Cache holds c.lock while c.lru.Add runs):
// it is carried as an outer lock, with no expression Delve can evaluate,
// unless the callee's own receiver or parameters have that very mutex field,
// in which case the caller holds the mutex of another value than the one
// the callee works on (c.mu held while o.set() runs) and it is dropped.
func (b *builder) translate(h heldLock, cs *callSite, callee *funcNode) (heldLock, bool) {
	if h.pkgRoot != nil {
		t := h
		if h.eval != "" {
			root := h.pkgRoot
			if root.Pkg() == callee.pkg {
				t.eval = root.Name() + h.evalRest
			} else {
				t.eval = fmt.Sprintf("%q.%s", root.Pkg().Path(), root.Name()) + h.evalRest
			}
		}
		return t, true
	}
	if cs.field {
		return heldLock{}, false // which value's lock it needs is unknown
	}
	if h.outer {
		return h, true
	}
	names := calleeNames(callee)
	for i, a := range cs.args {
		if i >= len(names) || a.expr == "" {
			break
		}
		p := names[i]
		if p == nil || p.Name() == "_" || p.Name() == "" {
			continue
		}
		if h.expr != a.expr && !strings.HasPrefix(h.expr, a.expr+".") {
			continue
		}
		t := h
		t.key = p.Name() + h.expr[len(a.expr):]
		t.expr = t.key
		t.eval = ""
		if a.eval != "" && (h.eval == a.eval || strings.HasPrefix(h.eval, a.eval+".")) {
			t.eval = p.Name() + h.eval[len(a.eval):]
		}
		return t, true
	}
	if callee.obj == nil && callee.parent != nil {
		return h, true // a closure called in place shares the caller's variables
	}
	for _, p := range names {
		if p != nil && hasField(p.Type(), h.id, b) {
			return heldLock{}, false
		}
	}
	t := h
	t.key, t.eval, t.outer = "outer "+h.id, "", true
	return t, true
}

// calleeNames are the callee's receiver (for a method) and parameters, in
// the order callSite.args gives them.
func calleeNames(fn *funcNode) []types.Object {
	if fn.obj != nil {
		if sig, ok := fn.obj.Type().(*types.Signature); ok && sig.Recv() != nil {
			return append([]types.Object{fn.recv}, fn.paramList...)
		}
	}
	return fn.paramList
}

// hasField reports whether t, or what it points to, is a struct with the
// field whose key is id.
func hasField(t types.Type, id string, b *builder) bool {
	st := structOf(t)
	if st == nil {
		return false
	}
	for i := 0; i < st.NumFields(); i++ {
		if b.objKey(st.Field(i).Origin()) == id {
			return true
		}
	}
	return false
}

// guardedVia lists the calls, in the functions that take the lock, from
// which a function is entered with the lock named key held there: for a
// helper, where its guard is taken.
func (ip *interproc) guardedVia(fnKey, key string) []contention.Site {
	type node struct{ fn, key string }
	seen := map[node]bool{}
	var out []contention.Site
	queue := []node{{fnKey, key}}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if seen[n] {
			continue
		}
		seen[n] = true
		for _, cs := range ip.incoming[n.fn] {
			for _, c := range ip.carried(cs) {
				if c.h.key != n.key {
					continue
				}
				out = append(out, c.taken...)
				switch {
				case c.from == "":
				case hasKey(cs.state.held, c.from):
					out = append(out, cs.site)
				default:
					queue = append(queue, node{cs.caller.key, c.from})
				}
			}
		}
	}
	return sortSites(out)
}

// unguardedVia splits the ways into fnKey for a write whose function holds
// no lock itself (kills: its walk state): whether some call carries a lock
// that reaches the write, and the calls, and other entries (go, defer,
// function values, interface calls), that carry none.
func (ip *interproc) unguardedVia(fnKey string, s lockState) (guarded bool, via []contention.Site) {
	if s.lost {
		return false, nil
	}
	for _, cs := range ip.incoming[fnKey] {
		reaches := false
		for _, c := range ip.carried(cs) {
			if !s.kills(c.h.key) {
				reaches = true
				break
			}
		}
		if reaches {
			guarded = true
		} else {
			via = append(via, cs.site)
		}
	}
	via = append(via, ip.dynamic[fnKey]...)
	return guarded, sortSites(via)
}

// sortSites sorts sites by place and drops repeats.
func sortSites(ss []contention.Site) []contention.Site {
	sort.Slice(ss, func(i, j int) bool {
		if ss[i].File != ss[j].File {
			return ss[i].File < ss[j].File
		}
		if ss[i].Line != ss[j].Line {
			return ss[i].Line < ss[j].Line
		}
		return ss[i].Function < ss[j].Function
	})
	out := ss[:0]
	for i, s := range ss {
		if i == 0 || s != ss[i-1] {
			out = append(out, s)
		}
	}
	return out
}
