// Function-typed struct fields: a call through a field (s.onEvict(),
// s.onRemove(entry, reason)) runs the functions stored in it, when the
// index sees every one: the field is unexported (no other package can
// set it), and every value stored in it, by assignment or in a composite
// literal, is a function value (a literal, a method value, a named
// function), nil, or a local variable or a parameter of an unexported
// function whose values are such, all the way back. Any other use of the
// field (taking its address, reading it as a value, go s.f(), defer
// s.f()) or of a variable on the way (called, passed elsewhere, ranged
// into) keeps today's behaviour: the functions are entered from an
// unknown state where they are named.
//
// A known field's call enters each function stored in it, with the
// caller's locks carried only as far as they are sure to be the same:
// a method value stored as s.f = s.m, on the value whose field it is, runs
// on the value the call goes through (y.f() runs y.m(), y.mu held is its
// r.mu), as a direct call would; any other function runs with the
// package-level locks held at the call, and no lock of a struct, since
// which value's lock it needs is not known (bigcache's shards all call
// one BigCache's method value under their own lock: they may run it at
// once).

package mapwrites

import (
	"go/ast"
	"go/token"
	"go/types"
)

// flowSrc is where a function value stored in a field, or in a variable
// on the way to one, comes from: a function value (key, with the
// identifier that names it and, for a method value, the receiver as
// written), nil, or a variable (varKey); bad when it is anything else.
type flowSrc struct {
	key    string
	ident  *ast.Ident
	method bool
	recv   string
	varKey string
	isNil  bool
	bad    bool
}

// fieldStore is a value stored in a field: its source, and the path of
// the value whose field it is ("" in a composite literal).
type fieldStore struct {
	src  flowSrc
	base string
}

// fieldCall is a call through a function-typed field, with the state and
// arguments a static call would have; base is the value it goes through.
type fieldCall struct {
	field string
	cs    callSite
	base  argPath
}

// fieldFlows is what the walk collects for the fields (builder fields).
type fieldFlows struct {
	stores   map[string][]fieldStore
	bad      map[string]bool // fields used other than stored, called or compared with nil
	exported map[string]bool
	vars     map[string][]flowSrc // values stored in variables and passed to parameters
	badVars  map[string]bool
	paramFn  map[string]string // a parameter that may carry a value: its function's key
	calls    []fieldCall
	known    map[*ast.Ident]bool // names of functions whose only way out is a known field
}

// isFuncField is the function-typed field that se selects, if it does.
func (b *builder) isFuncField(se *ast.SelectorExpr) *types.Var {
	sel := b.info.Selections[se]
	if sel == nil || sel.Kind() != types.FieldVal {
		return nil
	}
	v, ok := sel.Obj().(*types.Var)
	if !ok || !isFunc(v.Type()) {
		return nil
	}
	return v
}

// isFunc reports whether t is a function type.
func isFunc(t types.Type) bool {
	_, ok := t.Underlying().(*types.Signature)
	return ok
}

// localFuncVar is the local function-typed variable (or parameter) id
// names, if it does.
func (b *builder) localFuncVar(id *ast.Ident) *types.Var {
	v, ok := b.info.ObjectOf(id).(*types.Var)
	if !ok || v.IsField() || !isFunc(v.Type()) || v.Pkg() == nil || v.Parent() == v.Pkg().Scope() {
		return nil
	}
	return v
}

// flowOf is the source of the function-typed value e.
func (w *walker) flowOf(e ast.Expr) flowSrc {
	b := w.b
	e = ast.Unparen(e)
	if id, ok := e.(*ast.Ident); ok {
		if _, isNil := b.info.Uses[id].(*types.Nil); isNil {
			return flowSrc{isNil: true}
		}
		if v := b.localFuncVar(id); v != nil {
			return flowSrc{varKey: b.objKey(v)}
		}
	}
	key, bind, id := w.funcValue(e)
	if key == "" {
		return flowSrc{bad: true}
	}
	src := flowSrc{key: key, ident: id}
	if len(bind) == 1 {
		src.method, src.recv = true, bind[0].expr
	}
	return src
}

// collectFields records, over one file, the values stored in
// function-typed fields and variables and every other use of them
// (the file's doc).
func (b *builder) collectFields(f *ast.File) {
	ff := &b.fields
	if ff.stores == nil {
		// The walk may have recorded calls already: keep them.
		ff.stores, ff.bad, ff.exported = map[string][]fieldStore{}, map[string]bool{}, map[string]bool{}
		ff.vars, ff.badVars, ff.paramFn = map[string][]flowSrc{}, map[string]bool{}, map[string]string{}
		ff.known = map[*ast.Ident]bool{}
	}
	w := &walker{b: b}
	done := map[ast.Node]bool{} // uses accounted for by their parent
	storeVar := func(id *ast.Ident, src flowSrc) {
		if v := b.localFuncVar(id); v != nil {
			ff.vars[b.objKey(v)] = append(ff.vars[b.objKey(v)], src)
			done[id] = true
		}
	}
	consumed := func(e ast.Expr) {
		if id, ok := ast.Unparen(e).(*ast.Ident); ok {
			done[id] = true
		}
	}
	var stack []ast.Node
	ast.Inspect(f, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		defer func() { stack = append(stack, n) }()
		switch n := n.(type) {
		case *ast.FuncDecl:
			// Parameters carry values from calls only in unexported
			// functions, which no unindexed package can call.
			ok := n.Recv == nil && !n.Name.IsExported()
			for _, fl := range n.Type.Params.List {
				for _, id := range fl.Names {
					if v := b.localFuncVar(id); v != nil {
						if fn, isFn := b.info.Defs[n.Name].(*types.Func); ok && isFn {
							ff.paramFn[b.objKey(v)] = b.objKey(fn)
						} else {
							ff.badVars[b.objKey(v)] = true
						}
					}
				}
			}
		case *ast.FuncLit:
			for _, fl := range n.Type.Params.List {
				for _, id := range fl.Names {
					if v := b.localFuncVar(id); v != nil {
						ff.badVars[b.objKey(v)] = true
					}
				}
			}
		case *ast.AssignStmt:
			for i, l := range n.Lhs {
				var src flowSrc
				if len(n.Lhs) == len(n.Rhs) && (n.Tok == token.ASSIGN || n.Tok == token.DEFINE) {
					src = w.flowOf(n.Rhs[i])
					consumed(n.Rhs[i])
				} else {
					src = flowSrc{bad: true} // v, err := f(), op=
				}
				switch l := ast.Unparen(l).(type) {
				case *ast.SelectorExpr:
					if fv := b.isFuncField(l); fv != nil {
						k := b.objKey(fv.Origin())
						ff.stores[k] = append(ff.stores[k], fieldStore{src: src, base: w.argPath(l.X).expr})
						ff.exported[k] = fv.Exported()
						done[l] = true
					}
				case *ast.Ident:
					storeVar(l, src)
				}
			}
		case *ast.ValueSpec:
			for i, id := range n.Names {
				src := flowSrc{isNil: true}
				switch {
				case len(n.Values) == len(n.Names):
					src = w.flowOf(n.Values[i])
					consumed(n.Values[i])
				case len(n.Values) > 0:
					src = flowSrc{bad: true}
				}
				storeVar(id, src)
			}
		case *ast.CompositeLit:
			st, ok := b.info.TypeOf(n).Underlying().(*types.Struct)
			if !ok {
				break
			}
			for i, e := range n.Elts {
				var fv *types.Var
				val := e
				if kv, ok := e.(*ast.KeyValueExpr); ok {
					val = kv.Value
					if id, ok := kv.Key.(*ast.Ident); ok {
						fv, _ = b.info.Uses[id].(*types.Var)
					}
				} else if i < st.NumFields() {
					fv = st.Field(i)
				}
				if fv == nil || !isFunc(fv.Type()) {
					continue
				}
				k := b.objKey(fv.Origin())
				ff.stores[k] = append(ff.stores[k], fieldStore{src: w.flowOf(val)})
				ff.exported[k] = fv.Exported()
				consumed(val)
			}
		case *ast.RangeStmt:
			for _, e := range []ast.Expr{n.Key, n.Value} {
				if id, ok := e.(*ast.Ident); ok {
					storeVar(id, flowSrc{bad: true})
				}
			}
		case *ast.CallExpr:
			// A value passed to an unexported function's parameter is
			// stored in the parameter (collected at the function); one
			// passed to anything else is a use that may let it go.
			fn := instantiatedFunc(b.info, n)
			if fn == nil || fn.Exported() || fn.Signature().Recv() != nil {
				break
			}
			params := fn.Origin().Signature().Params()
			for i, a := range n.Args {
				if i >= params.Len() || (fn.Signature().Variadic() && i >= params.Len()-1) {
					break
				}
				p := params.At(i)
				if !isFunc(p.Type()) {
					continue
				}
				k := b.objKey(p)
				ff.vars[k] = append(ff.vars[k], w.flowOf(a))
				consumed(a)
			}
		case *ast.BinaryExpr:
			if n.Op == token.EQL || n.Op == token.NEQ {
				consumed(n.X)
				consumed(n.Y)
				if se, ok := ast.Unparen(n.X).(*ast.SelectorExpr); ok {
					done[se] = true
				}
				if se, ok := ast.Unparen(n.Y).(*ast.SelectorExpr); ok {
					done[se] = true
				}
			}
		case *ast.SelectorExpr:
			fv := b.isFuncField(n)
			if fv == nil || done[n] {
				break
			}
			k := b.objKey(fv.Origin())
			ff.exported[k] = fv.Exported()
			if !calledBy(stack, len(stack)-1, n) {
				ff.bad[k] = true // read as a value, its address taken, go or defer
			}
		case *ast.Ident:
			if done[n] || b.info.Defs[n] != nil {
				break
			}
			if v := b.localFuncVar(n); v != nil {
				// Called, passed elsewhere, returned...: the value may
				// run where the index does not follow it.
				ff.badVars[b.objKey(v)] = true
			}
		}
		return true
	})
}

// fieldCall records a call through a function-typed field, with state s.
func (w *walker) fieldCall(call *ast.CallExpr, s lockState) {
	b := w.b
	se, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
	if !ok {
		return
	}
	fv := b.isFuncField(se)
	if fv == nil {
		return
	}
	b.fields.calls = append(b.fields.calls, fieldCall{field: b.objKey(fv.Origin()), base: w.argPath(se.X), cs: w.dynamicSite(call, s)})
}

// fieldSource is a function a known field holds: whether it is a method
// value taken on the value whose field it is (same).
type fieldSource struct {
	key    string
	method bool
	same   bool
}

// resolveFields turns each call through a known field into calls of the
// functions stored in it (the file's doc), and marks the names of those
// functions, whose values go nowhere else, so that they are not entered
// from an unknown state there.
func (b *builder) resolveFields() {
	ff := &b.fields
	if len(ff.calls) == 0 {
		return
	}
	byField := map[string][]fieldCall{}
	for _, fc := range ff.calls {
		byField[fc.field] = append(byField[fc.field], fc)
	}
	for field, calls := range byField {
		if ff.bad[field] || ff.exported[field] {
			continue
		}
		var srcs []fieldSource
		var idents []*ast.Ident
		ok := true
		for _, st := range ff.stores[field] {
			if st.src.key != "" {
				srcs = append(srcs, fieldSource{key: st.src.key, method: st.src.method, same: st.src.method && st.base != "" && st.src.recv == st.base})
				idents = append(idents, st.src.ident)
				continue
			}
			got, ids, good := b.varSources(st.src, map[string]bool{})
			if !good {
				ok = false
				break
			}
			srcs, idents = append(srcs, got...), append(idents, ids...)
		}
		if !ok {
			continue
		}
		for _, id := range idents {
			if id != nil {
				ff.known[id] = true
			}
		}
		for _, fc := range calls {
			for _, src := range srcs {
				if b.funcs[src.key] == nil {
					continue
				}
				cs := fc.cs
				cs.callee = src.key
				switch {
				case src.same:
					cs.args = append([]argPath{fc.base}, cs.args...)
				case src.method:
					cs.args = append([]argPath{{}}, cs.args...)
					cs.field = true
				default:
					cs.field = true
				}
				b.callSites = append(b.callSites, &cs)
				cs.caller.calls[src.key] = true
			}
		}
	}
}

// varSources is the functions a value from src may be, with the
// identifiers that name them, through variables and parameters; false
// when one of them may hold anything else (the file's doc). A cycle of
// variables adds nothing.
func (b *builder) varSources(src flowSrc, seen map[string]bool) ([]fieldSource, []*ast.Ident, bool) {
	ff := &b.fields
	switch {
	case src.bad:
		return nil, nil, false
	case src.isNil:
		return nil, nil, true
	case src.key != "":
		// Through a variable, the receiver a method value binds is lost.
		return []fieldSource{{key: src.key, method: src.method}}, []*ast.Ident{src.ident}, true
	}
	k := src.varKey
	if seen[k] {
		return nil, nil, true
	}
	seen[k] = true
	if ff.badVars[k] {
		return nil, nil, false
	}
	if fn, isParam := ff.paramFn[k]; isParam && len(b.dynamic[fn]) > 0 {
		return nil, nil, false // the function is a value: called from anywhere
	}
	var out []fieldSource
	var ids []*ast.Ident
	for _, s := range ff.vars[k] {
		got, gotIDs, ok := b.varSources(s, seen)
		if !ok {
			return nil, nil, false
		}
		out, ids = append(out, got...), append(ids, gotIDs...)
	}
	return out, ids, true
}
