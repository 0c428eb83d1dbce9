// Literals that run in their declarer's goroutine: a function literal
// called in place, given to a runner or ranged over (runners.go), passed
// to a callee that only calls it (callbacks.go), returned by an iterator
// factory only ever ranged over, or kept in a local variable that is
// only ever called (var visit func(n *Node); visit = func(n *Node) {
// seen[n] = true; ... visit(c) }), from the declaring function or from
// literals of the same kind, runs in the goroutine of the function that
// declares it. A variable it captures is shared with another goroutine
// only if the declarer's variable is (reach.go): the recursive visitors
// of a function that itself runs in a goroutine no longer make their
// local seen maps shared. Any other literal may run elsewhere, as before.
//
// A literal kept in such a variable also runs with the locks held where
// the variable is called, as one called in place does: gopls's
// updateDiagnostics holds s.diagnosticsMu while it calls its local
// updateAndPublish, whose writes it guards.

package mapwrites

import (
	"go/ast"
	"go/token"
)

// Where a literal is written, for syncLit.
const (
	litElsewhere = iota // stored, passed on, returned, started, deferred
	litInPlace          // runs where it is written
	litArg              // an argument: runs in the call if its callee only calls it
	litReturned         // returned: runs in the loops that range over its factory
	litInVar            // kept in a local variable
)

// litUse is where a literal is written: its class, and the local
// variable that keeps it (litInVar) or the argument (litArg).
type litUse struct {
	class  int
	varKey string
	arg    *valueArg
}

// varCall is a call of a local function variable: the literals around
// it, innermost first, up to the function that declares the variable.
type varCall struct{ within []string }

// litFlows is what the walk collects for syncLit (builder field).
type litFlows struct {
	uses     map[string]litUse
	calls    map[string][]varCall // the calls of each local function variable
	badVars  map[string]bool      // local function variables used other than called
	returned map[string]bool      // literals returned by factories found only ranged over
	memo     map[string]bool
	// varSites are the calls of local function variables, with the
	// state and arguments a static call would have.
	varSites []varSite
}

// varSite is a call of the local function variable varKey.
type varSite struct {
	varKey string
	cs     callSite
}

// varCall records call when it calls a local function variable, with the
// caller's state s there.
func (w *walker) varCall(call *ast.CallExpr, s lockState) {
	b := w.b
	id, ok := ast.Unparen(call.Fun).(*ast.Ident)
	if !ok {
		return
	}
	v := b.localFuncVar(id)
	if v == nil {
		return
	}
	b.lits.varSites = append(b.lits.varSites, varSite{varKey: b.objKey(v), cs: w.dynamicSite(call, s)})
}

// resolveVarCalls enters each literal kept in a local variable that runs
// only in its declarer's goroutine at each call of the variable, with the
// locks held there. It needs the passes that syncLit needs.
func (b *builder) resolveVarCalls() {
	lf := &b.lits
	if len(lf.varSites) == 0 {
		return
	}
	byVar := map[string][]string{}
	for key, u := range lf.uses {
		if u.class == litInVar && b.funcs[key] != nil && b.syncLit(key) {
			byVar[u.varKey] = append(byVar[u.varKey], key)
		}
	}
	for _, vs := range lf.varSites {
		for _, key := range byVar[vs.varKey] {
			cs := vs.cs
			cs.callee = key
			b.callSites = append(b.callSites, &cs)
		}
	}
}

// collectLits classifies where each function literal of a file is
// written, and the uses of the local variables that keep literals.
func (b *builder) collectLits(f *ast.File) {
	lf := &b.lits
	if lf.uses == nil {
		lf.uses, lf.calls, lf.badVars = map[string]litUse{}, map[string][]varCall{}, map[string]bool{}
	}
	var stack []ast.Node
	ast.Inspect(f, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		defer func() { stack = append(stack, n) }()
		switch n := n.(type) {
		case *ast.FuncLit:
			lf.uses[b.litKey(n)] = b.litUseAt(n, stack)
		case *ast.Ident:
			v := b.localFuncVar(n)
			if v == nil || b.info.Defs[n] != nil {
				break
			}
			k := b.objKey(v)
			if isAssigned(n, stack) {
				break
			}
			if !calledBy(stack, len(stack)-1, n) {
				if !comparedNil(n, stack) {
					lf.badVars[k] = true
				}
				break
			}
			var within []string
			for i := len(stack) - 1; i >= 0; i-- {
				if l, ok := stack[i].(*ast.FuncLit); ok {
					if v.Pos() >= l.Pos() && v.Pos() < l.End() {
						break // v is declared inside: the rest is outside its scope
					}
					within = append(within, b.litKey(l))
				}
			}
			lf.calls[k] = append(lf.calls[k], varCall{within: within})
		}
		return true
	})
}

// litUseAt classifies the place of lit, whose parents are stack.
func (b *builder) litUseAt(lit *ast.FuncLit, stack []ast.Node) litUse {
	if calledBy(stack, len(stack)-1, lit) || b.inPlaceLit(lit) {
		return litUse{class: litInPlace}
	}
	i := unparenAt(stack, len(stack)-1)
	if i < 0 {
		return litUse{}
	}
	switch p := stack[i].(type) {
	case *ast.CallExpr:
		if goOrDeferred(stack, i) {
			return litUse{}
		}
		return litUse{class: litArg, arg: b.litArgs[lit]}
	case *ast.ReturnStmt:
		return litUse{class: litReturned}
	case *ast.AssignStmt:
		if len(p.Lhs) == len(p.Rhs) && (p.Tok == token.ASSIGN || p.Tok == token.DEFINE) {
			for j, r := range p.Rhs {
				if ast.Unparen(r) == lit {
					if id, ok := ast.Unparen(p.Lhs[j]).(*ast.Ident); ok {
						if v := b.localFuncVar(id); v != nil {
							return litUse{class: litInVar, varKey: b.objKey(v)}
						}
					}
				}
			}
		}
	case *ast.ValueSpec:
		if len(p.Names) == len(p.Values) {
			for j, r := range p.Values {
				if ast.Unparen(r) == lit {
					if v := b.localFuncVar(p.Names[j]); v != nil {
						return litUse{class: litInVar, varKey: b.objKey(v)}
					}
				}
			}
		}
	}
	return litUse{}
}

// isAssigned reports whether the identifier on top of stack is assigned
// to (the left of = or :=).
func isAssigned(id *ast.Ident, stack []ast.Node) bool {
	if len(stack) == 0 {
		return false
	}
	as, ok := stack[len(stack)-1].(*ast.AssignStmt)
	if !ok {
		return false
	}
	for _, l := range as.Lhs {
		if l == id {
			return true
		}
	}
	return false
}

// comparedNil reports whether the identifier on top of stack is compared
// (with nil: a function can be compared with nothing else).
func comparedNil(id *ast.Ident, stack []ast.Node) bool {
	if len(stack) == 0 {
		return false
	}
	be, ok := stack[len(stack)-1].(*ast.BinaryExpr)
	return ok && (be.Op == token.EQL || be.Op == token.NEQ)
}

// syncLit reports whether the literal key runs only in the goroutine of
// the function that declares it (the file's doc). It needs the passes
// that resolve arguments and factories (summarise) to have run.
func (b *builder) syncLit(key string) bool {
	lf := &b.lits
	if r, ok := lf.memo[key]; ok {
		return r
	}
	if lf.memo == nil {
		lf.memo = map[string]bool{}
	}
	lf.memo[key] = false // a cycle through variables proves nothing
	u := lf.uses[key]
	r := false
	switch u.class {
	case litInPlace:
		r = true
	case litArg:
		r = u.arg != nil && u.arg.inCall && u.arg.key == key
	case litReturned:
		r = lf.returned[key]
	case litInVar:
		r = !lf.badVars[u.varKey]
		for _, c := range lf.calls[u.varKey] {
			for _, w := range c.within {
				if w == key {
					break // inside the literal itself: a recursive call
				}
				if !b.syncLit(w) {
					r = false
				}
			}
		}
	}
	lf.memo[key] = r
	return r
}
