// Control flow: the walker that carries the lock set through one
// function's statements, branch by branch and loop by loop, recording
// writes and lock calls with the set held at each.

package mapwrites

import (
	"go/ast"
	"go/token"
	"go/types"

	"github.com/lockscope/lockscope/internal/contention"
)

// walker walks the statements of one function body, fn, for builder b.
type walker struct {
	b  *builder
	fn *funcNode
	// targets are the statements around the one being walked that a break
	// or continue can go to, innermost last.
	targets []*target
	// label is the label of the statement about to be walked, set by its
	// LabeledStmt for a labelled break or continue to find.
	label string
}

// target is a statement that a break inside it goes to the end of (a loop,
// switch or select) or a continue goes to the top of (a loop), with the
// states those branches carry there.
type target struct {
	label  string
	loop   bool
	breaks []lockState
	conts  []lockState
	// iter marks a range-over-func loop, whose iterator runs on after a
	// yield that a return or a branch to an outer statement ends: exits
	// are the states those leave with.
	iter  bool
	exits []lockState
}

// within walks with t as the innermost target of break and continue.
func (w *walker) within(t *target, walk func() flow) flow {
	w.targets = append(w.targets, t)
	defer func() { w.targets = w.targets[:len(w.targets)-1] }()
	return walk()
}

// targetOf is the statement a break or continue goes to, or nil in code
// that does not compile (a branch with nothing to go to).
func (w *walker) targetOf(st *ast.BranchStmt) *target {
	for i := len(w.targets) - 1; i >= 0; i-- {
		t := w.targets[i]
		switch {
		case st.Label != nil:
			if t.label == st.Label.Name {
				return t
			}
		case st.Tok == token.CONTINUE:
			if t.loop {
				return t
			}
		default:
			return t
		}
	}
	return nil
}

// breakable walks a switch or select, and joins the states its breaks
// carry to its end with the state at the end of its cases.
func (w *walker) breakable(label string, walk func() flow) flow {
	t := &target{label: label}
	fs := []flow{w.within(t, walk)}
	for _, b := range t.breaks {
		fs = append(fs, flow{s: b})
	}
	return merge(fs...)
}

// flow is the result of walking statements: the state at the end, and
// whether control certainly leaves (return, panic, break, continue, goto).
// A break or continue also leaves its state with its target.
type flow struct {
	s    lockState
	left bool
}

// merge joins the flows of alternative branches.
func merge(fs ...flow) flow {
	var out *lockState
	for _, f := range fs {
		if f.left {
			continue
		}
		if out == nil {
			s := f.s
			out = &s
		} else {
			m := meet(*out, f.s)
			out = &m
		}
	}
	if out == nil {
		return flow{s: lockState{}, left: true}
	}
	return flow{s: *out}
}

// block walks a list of statements from state s. With rec set it records
// writes and lock sites; without, it only computes the state (the passes
// of walker.loop).
func (w *walker) block(list []ast.Stmt, s lockState, rec bool) flow {
	f := flow{s: s}
	for _, st := range list {
		if f.left {
			// Unreachable code after return: analyse it with no locks
			// rather than drop its writes.
			f = flow{s: lockState{lost: true}}
		}
		f = w.stmt(st, f.s, rec)
	}
	return f
}

// stmt walks one statement from state s: see the package doc's Guards for
// what each kind of statement does to the locks held.
func (w *walker) stmt(st ast.Stmt, s lockState, rec bool) flow {
	b := w.b
	label := w.label
	w.label = ""
	if rec {
		b.noteHeld(w.fn, st, s)
	}
	// exAt records the expressions and calls of n under state at: for a
	// condition after an init statement, that is the init's out state,
	// since the init may take or release a lock.
	exAt := func(n ast.Node, at lockState) {
		if rec {
			b.exprs(w.fn, n)
			w.calls(n, at, false)
		}
	}
	ex := func(n ast.Node) { exAt(n, s) }
	switch st := st.(type) {
	case *ast.BlockStmt:
		return w.block(st.List, s, rec)
	case *ast.LabeledStmt:
		w.label = st.Label.Name
		return w.stmt(st.Stmt, s, rec)
	case *ast.ExprStmt:
		call, ok := ast.Unparen(st.X).(*ast.CallExpr)
		if !ok {
			ex(st.X)
			return flow{s: s}
		}
		if l, ok := w.lockCall(call); ok {
			if rec {
				w.addSite(call, l, false)
			}
			if rec {
				b.exprs(w.fn, call.Fun)
			}
			switch l.method {
			case "Lock", "RLock":
				return flow{s: s.with(l.held)}
			case "Unlock", "RUnlock":
				return flow{s: s.without(l.held.key)}
			}
			return flow{s: s}
		}
		if rec {
			w.builtinWrite(call, st.Pos(), s)
		}
		ex(st.X)
		if id, ok := ast.Unparen(call.Fun).(*ast.Ident); ok {
			if _, isB := b.info.Uses[id].(*types.Builtin); isB && id.Name == "panic" {
				return flow{s: s, left: true}
			}
		}
		return flow{s: s}
	case *ast.AssignStmt:
		ex(st)
		if rec && st.Tok != token.DEFINE {
			op := contention.OpAssign
			if st.Tok != token.ASSIGN {
				op = contention.OpOpAssign
			}
			for _, lhs := range st.Lhs {
				w.indexWrite(lhs, op, st.Pos(), s)
			}
		}
		return flow{s: s}
	case *ast.IncDecStmt:
		ex(st)
		if rec {
			w.indexWrite(st.X, contention.OpIncDec, st.Pos(), s)
		}
		return flow{s: s}
	case *ast.DeferStmt:
		if l, ok := w.lockCall(st.Call); ok {
			if rec {
				w.addSite(st.Call, l, true)
			}
			// A deferred Unlock keeps the lock to the end of the function.
			return flow{s: s}
		}
		if lit, ok := ast.Unparen(st.Call.Fun).(*ast.FuncLit); ok && rec {
			fn := b.literal(w.fn, lit)
			fn.deferred = true
			b.funcBody(fn, lit.Body)
			for _, a := range st.Call.Args {
				ex(a)
			}
			return flow{s: s}
		}
		if rec {
			// The deferred call runs when the function returns, with
			// whatever is held then: its callee is entered from an
			// unknown state. Its arguments are evaluated here.
			b.exprs(w.fn, st.Call)
			w.calls(st.Call, s, true)
		}
		return flow{s: s}
	case *ast.GoStmt:
		if rec {
			w.goStmt(st, s)
		}
		return flow{s: s}
	case *ast.ReturnStmt:
		ex(st)
		if rec {
			w.returned(st, s)
		}
		for _, t := range w.targets {
			if t.iter {
				t.exits = append(t.exits, s)
			}
		}
		return flow{s: s, left: true}
	case *ast.BranchStmt:
		switch st.Tok {
		case token.FALLTHROUGH:
			return flow{s: s}
		case token.BREAK, token.CONTINUE:
			// The branch takes its state where it goes: to the end of
			// its loop, switch or select, or to the top of its loop.
			if t := w.targetOf(st); t != nil {
				if st.Tok == token.BREAK {
					t.breaks = append(t.breaks, s)
				} else {
					t.conts = append(t.conts, s)
				}
				// Iterators of the loops it leaves run on from here.
				for i := len(w.targets) - 1; i >= 0 && w.targets[i] != t; i-- {
					if w.targets[i].iter {
						w.targets[i].exits = append(w.targets[i].exits, s)
					}
				}
			}
		}
		// A goto is not followed: its state is dropped.
		return flow{s: s, left: true}
	case *ast.IfStmt:
		f := flow{s: s}
		if st.Init != nil {
			f = w.stmt(st.Init, s, rec)
		}
		exAt(st.Cond, f.s)
		then := w.block(st.Body.List, f.s, rec)
		els := flow{s: f.s}
		if st.Else != nil {
			els = w.stmt(st.Else, f.s, rec)
		}
		return merge(then, els)
	case *ast.ForStmt:
		f := flow{s: s}
		if st.Init != nil {
			f = w.stmt(st.Init, s, rec)
		}
		exAt(st.Cond, f.s)
		var post func(lockState, bool) flow
		if st.Post != nil {
			post = func(s lockState, rec bool) flow { return w.stmt(st.Post, s, rec) }
		}
		return w.loop(f.s, label, func(s lockState, rec bool) flow {
			return w.block(st.Body.List, s, rec)
		}, post, rec, nil)
	case *ast.RangeStmt:
		var it *rangeIter
		if rec {
			// Before ex: calls looks up the iterator's identifier.
			it = w.rangeFunc(st, s)
		}
		ex(st.X)
		if rec && st.Tok == token.ASSIGN {
			for _, lhs := range []ast.Expr{st.Key, st.Value} {
				if lhs != nil {
					w.indexWrite(lhs, contention.OpAssign, st.Pos(), s)
				}
			}
		}
		var iterAt *lockState
		if it != nil {
			iterAt = new(lockState)
		}
		f := w.loop(s, label, func(s lockState, rec bool) flow {
			return w.block(st.Body.List, s, rec)
		}, nil, rec, iterAt)
		if it != nil {
			it.done(*iterAt)
		}
		return f
	case *ast.SwitchStmt:
		return w.switchStmt(label, st.Init, st.Tag, st.Body, s, rec)
	case *ast.TypeSwitchStmt:
		return w.switchStmt(label, st.Init, st.Assign, st.Body, s, rec)
	case *ast.SelectStmt:
		if len(st.Body.List) == 0 {
			return flow{s: s, left: true} // select {} blocks forever
		}
		return w.breakable(label, func() flow {
			var fs []flow
			for _, c := range st.Body.List {
				cc := c.(*ast.CommClause)
				cs := s
				if cc.Comm != nil {
					cs = w.stmt(cc.Comm, s, rec).s
				}
				fs = append(fs, w.block(cc.Body, cs, rec))
			}
			return merge(fs...)
		})
	default:
		// DeclStmt, SendStmt, EmptyStmt and the rest change no lock.
		ex(st)
		return flow{s: s}
	}
}

// loop walks a loop: it finds the state certainly held at the top of each
// iteration, walks the body once more from it to record, and returns the
// state after the loop (the top's, met with what each break carries).
// body walks the loop's body; post, when not nil, its post statement,
// which a continue goes through too.
//
// The passes need no bound. Each pass either keeps entry, which ends the
// loop, or drops at least one lock from it (meet keeps a subset of entry),
// and entry is finite. In fact two passes always do: the walk treats each
// held lock on its own (a Lock adds it, an Unlock or a Lock of the other
// mode drops it, a join keeps it only where every branch does, breaks and
// continues included, and an unreachable tail starts from nothing), so
// whether a lock is held at the body's end depends only on whether it was
// held at the top. A lock the
// first pass drops is one the body always drops; the second pass finds
// nothing more to drop. TestLoopConverges checks that on generated nested
// loops. (An earlier version stopped after four passes, a bound that could
// never be reached.)
//
// With iterAt set, the loop is a range-over-func loop, and iterAt gets the
// state its iterator certainly runs with: the iterator runs before the
// first iteration, between iterations, and after the yield that a break,
// a return or a branch to an outer statement ends (runners.go).
func (w *walker) loop(s lockState, label string, body, post func(lockState, bool) flow, rec bool, iterAt *lockState) flow {
	// pass walks the body once from entry: its end, joined with the
	// continues, through post; and the states of its breaks and of its
	// other exits.
	pass := func(entry lockState, rec bool) (flow, []lockState, []lockState) {
		t := &target{label: label, loop: true, iter: iterAt != nil}
		fs := []flow{w.within(t, func() flow { return body(entry, rec) })}
		for _, c := range t.conts {
			fs = append(fs, flow{s: c})
		}
		end := merge(fs...)
		if post != nil && !end.left {
			end = post(end.s, rec)
		}
		return end, t.breaks, t.exits
	}
	entry := s
	passes := 0
	for {
		passes++
		end, _, _ := pass(entry, false)
		next := entry
		if !end.left {
			next = meet(entry, end.s)
		}
		if equalState(next, entry) {
			break
		}
		entry = next
	}
	w.b.loopPasses = max(w.b.loopPasses, passes)
	_, breaks, exits := pass(entry, rec)
	exit := []flow{{s: entry}}
	for _, b := range breaks {
		exit = append(exit, flow{s: b})
	}
	out := merge(exit...)
	if iterAt != nil {
		*iterAt = out.s
		for _, e := range exits {
			*iterAt = meet(*iterAt, e)
		}
	}
	return out
}

// switchStmt walks a switch (tag is its tag expression) or a type switch
// (tag is its x := y.(type) statement).
func (w *walker) switchStmt(label string, init ast.Stmt, tag ast.Node, body *ast.BlockStmt, s lockState, rec bool) flow {
	f := flow{s: s}
	if init != nil {
		f = w.stmt(init, s, rec)
	}
	if rec {
		w.b.exprs(w.fn, tag)
		w.calls(tag, f.s, false)
	}
	return w.breakable(label, func() flow { return w.clauses(body, f.s, rec) })
}

// clauses walks the cases of a switch or type switch, each from state s,
// and joins them; without a default, control may skip every case.
func (w *walker) clauses(body *ast.BlockStmt, s lockState, rec bool) flow {
	var fs []flow
	hasDefault := false
	for _, c := range body.List {
		cc := c.(*ast.CaseClause)
		if cc.List == nil {
			hasDefault = true
		}
		if rec {
			for _, e := range cc.List {
				w.b.exprs(w.fn, e)
				w.calls(e, s, false)
			}
		}
		fs = append(fs, w.block(cc.Body, s, rec))
	}
	if !hasDefault {
		fs = append(fs, flow{s: s})
	}
	return merge(fs...)
}
