// Synchronous runners: the library functions and methods that call a
// function argument inside the call, in the caller's goroutine, before
// they return (once.Do(f), sort.Slice(x, less), slices.SortFunc,
// strings.Map, sync.Map's Range...), and range-over-func loops, which
// call the iterator in place. A function value given to them runs with
// the locks held at the call, as if the caller called it there: a
// literal under the caller's locks (it shares the caller's variables), a
// method value on the receiver it was taken from, a named function under
// the package locks. The index has no source for the library, so unlike
// callbacks.go it cannot find this from the callee's body: the table says
// it, and TestRunnerTable checks the table against the real packages.
// A function-typed parameter handed to a runner counts as called there
// (func (c *C) init(f func()) { c.once.Do(f) } only calls f).
//
// The runners that keep the value and call it later (sync.OnceFunc,
// strings.FieldsFuncSeq, which returns a sequence) are not here: what
// they return runs wherever it goes, from an unknown state.

package mapwrites

import (
	"go/ast"
	"go/types"

	"github.com/lockscope/lockscope/internal/contention"
)

// runners are the library functions and methods, by types.Func full name
// (of the generic origin), that call the function arguments at the given
// indexes (receiver not counted) only inside the call, in the caller's
// goroutine.
var runners = map[string][]int{
	// The first caller runs f before Do returns; later callers, not at all.
	"(*sync.Once).Do": {0},
	// Range calls f for each entry, then returns.
	"(*sync.Map).Range": {0},

	"sort.Slice":         {1},
	"sort.SliceStable":   {1},
	"sort.SliceIsSorted": {1},
	"sort.Search":        {1},
	"sort.Find":          {1},

	"slices.SortFunc":         {1},
	"slices.SortStableFunc":   {1},
	"slices.IsSortedFunc":     {1},
	"slices.MinFunc":          {1},
	"slices.MaxFunc":          {1},
	"slices.BinarySearchFunc": {2},
	"slices.IndexFunc":        {1},
	"slices.ContainsFunc":     {1},
	"slices.DeleteFunc":       {1},
	"slices.CompactFunc":      {1},
	"slices.EqualFunc":        {2},
	"slices.CompareFunc":      {2},
	// Sequences given to these are ranged over before they return.
	"slices.Collect":          {0},
	"slices.AppendSeq":        {1},
	"slices.Sorted":           {0},
	"slices.SortedFunc":       {0, 1},
	"slices.SortedStableFunc": {0, 1},

	"maps.EqualFunc":  {2},
	"maps.DeleteFunc": {1},
	"maps.Collect":    {0},
	"maps.Insert":     {1},

	"strings.Map":           {0},
	"strings.FieldsFunc":    {1},
	"strings.IndexFunc":     {1},
	"strings.LastIndexFunc": {1},
	"strings.ContainsFunc":  {1},
	"strings.TrimFunc":      {1},
	"strings.TrimLeftFunc":  {1},
	"strings.TrimRightFunc": {1},

	"bytes.Map":           {0},
	"bytes.FieldsFunc":    {1},
	"bytes.IndexFunc":     {1},
	"bytes.LastIndexFunc": {1},
	"bytes.ContainsFunc":  {1},
	"bytes.TrimFunc":      {1},
	"bytes.TrimLeftFunc":  {1},
	"bytes.TrimRightFunc": {1},
}

// ifaceRunners are the library functions that call the methods of the
// interface values at the given argument indexes only inside the call,
// in the caller's goroutine: sort's and container/heap's. A value of a
// concrete type passed there (heap.Push(&s.queue, x)) has its methods of
// that interface run at the call, on that value, and is not otherwise
// kept; other interface arguments are entered from an unknown state
// (interproc.go).
var ifaceRunners = map[string][]int{
	"sort.Sort":     {0},
	"sort.Stable":   {0},
	"sort.IsSorted": {0},

	"container/heap.Init":   {0},
	"container/heap.Push":   {0},
	"container/heap.Pop":    {0},
	"container/heap.Remove": {0},
	"container/heap.Fix":    {0},
}

// runnerPkgs are the packages of the runners, to skip the other calls
// before building a full name (TestRunnerTable keeps it complete).
var runnerPkgs = map[string]bool{
	"sync": true, "sort": true, "slices": true, "maps": true, "strings": true, "bytes": true,
	"container/heap": true,
}

// runnerOf is the full name of the library function call calls when it
// is in a runner package; "" otherwise.
func (w *walker) runnerOf(call *ast.CallExpr) string {
	f := instantiatedFunc(w.b.info, call)
	if f == nil || f.Pkg() == nil || !runnerPkgs[f.Pkg().Path()] {
		return ""
	}
	return f.Origin().FullName()
}

// runnerArgs is the indexes of call's arguments that its callee, a
// runner, calls inside the call; nil for any other call.
func (w *walker) runnerArgs(call *ast.CallExpr) []int {
	return runners[w.runnerOf(call)]
}

// ifaceRun records the calls that an interface runner makes, inside the
// call (state s), of the methods of iface on the argument a of concrete
// type at: each enters its method with a as the receiver.
func (w *walker) ifaceRun(a ast.Expr, at types.Type, iface *types.Interface, s lockState) {
	b := w.b
	for m := range iface.Methods() {
		o, index, _ := types.LookupFieldOrMethod(at, true, nil, m.Name())
		f, ok := o.(*types.Func)
		if !ok || isInterfaceMethod(f) {
			continue
		}
		recv := w.argPath(a)
		if len(index) > 1 {
			recv = argPath{} // promoted through an embedded field
		}
		key := b.objKey(f.Origin())
		b.callSites = append(b.callSites, &callSite{caller: w.fn, callee: key, state: s.clone(), args: []argPath{recv}, site: b.callSite(a.Pos(), w.fn)})
		w.fn.calls[key] = true
	}
}

// rangeIter is the iterator of a range-over-func loop being walked, to
// record once the walk knows the state the iterator runs with
// (walker.loop's iterAt): a parameter ranged over, a function value, or
// a call whose result is ranged over.
type rangeIter struct {
	w     *walker
	x     ast.Expr
	param *ast.Ident
	va    *valueArg
	call  *rangedCall
}

// rangedCall is a static call whose result a range-over-func loop ranges
// over (for k := range c.All()): the iterator the callee returns runs in
// the loop. from is where the walk's call sites stood before the call.
type rangedCall struct {
	key  string
	from int
	cs   *callSite
}

// returnedLit is a function literal a function returns, with the state
// at its return statement.
type returnedLit struct {
	key   string
	state lockState
	site  contention.Site
}

// rangeFunc notes the iterator of a range-over-func loop, whose
// statement is st and state before the loop s, to record with done. The
// loop's body is walked as the loop's own statements (flow.go), under the
// locks held at each iteration.
func (w *walker) rangeFunc(st *ast.RangeStmt, s lockState) *rangeIter {
	b := w.b
	if !isFunc(b.info.TypeOf(st.X)) {
		return nil
	}
	it := &rangeIter{w: w, x: st.X}
	if id, ok := ast.Unparen(st.X).(*ast.Ident); ok && w.paramOwner(id) != nil {
		b.markRunnerUse(id) // a parameter ranged over is called here
		it.param = id
		return it
	}
	if call, ok := ast.Unparen(st.X).(*ast.CallExpr); ok {
		if f := instantiatedFunc(b.info, call); f != nil && !isInterfaceMethod(f) {
			it.call = &rangedCall{key: b.objKey(f.Origin()), from: len(b.callSites)}
			b.rangedCalls = append(b.rangedCalls, it.call)
		}
		return it
	}
	key, bind, id := w.funcValue(st.X)
	if key == "" {
		return nil
	}
	if lit, ok := ast.Unparen(st.X).(*ast.FuncLit); ok {
		b.markInPlaceLit(lit)
	}
	cs := &callSite{caller: w.fn, state: s.clone(), site: b.callSite(st.X.Pos(), w.fn)}
	it.va = &valueArg{cs: cs, key: key, bind: bind, named: id != nil, site: cs.site, inPlace: true}
	if id != nil {
		if b.rangedIdents == nil {
			b.rangedIdents = map[*ast.Ident]*valueArg{}
		}
		b.rangedIdents[id] = it.va
	}
	b.valueArgs = append(b.valueArgs, it.va)
	return it
}

// done records the iterator as run with state s.
func (it *rangeIter) done(s lockState) {
	b := it.w.b
	switch {
	case it.param != nil:
		it.w.paramRun(it.param, it.x.Pos(), s)
	case it.va != nil:
		it.va.cs.state = s.clone()
	case it.call != nil:
		// The callee runs at the range statement, its iterator in the
		// loop: both with what the loop certainly holds throughout.
		for _, cs := range b.callSites[it.call.from:] {
			if cs.callee == it.call.key && cs.caller == it.w.fn {
				cs.state = s.clone()
				it.call.cs = cs
				break
			}
		}
	}
}

// paramOwner is the function, the walked one or one enclosing it, whose
// function-typed parameter id names; nil when id names none.
func (w *walker) paramOwner(id *ast.Ident) *funcNode {
	v, ok := w.b.info.Uses[id].(*types.Var)
	if !ok {
		return nil
	}
	for f := w.fn; f != nil; f = f.parent {
		if f.params[v] {
			return f
		}
	}
	return nil
}

// returned records what a return statement of a function with one
// function-typed result returns: a literal, for an iterator factory
// (rangedFactories), or anything else.
func (w *walker) returned(st *ast.ReturnStmt, s lockState) {
	b := w.b
	if w.fn.obj == nil {
		return
	}
	res := w.fn.obj.Signature().Results()
	if res.Len() != 1 {
		return
	}
	if !isFunc(res.At(0).Type()) {
		return
	}
	if len(st.Results) == 1 {
		if lit, ok := ast.Unparen(st.Results[0]).(*ast.FuncLit); ok {
			if b.returnedLits == nil {
				b.returnedLits = map[string][]returnedLit{}
			}
			b.returnedLits[w.fn.key] = append(b.returnedLits[w.fn.key],
				returnedLit{key: b.litKey(lit), state: s.clone(), site: b.callSite(lit.Pos(), w.fn)})
			return
		}
	}
	if b.returnsOther == nil {
		b.returnsOther = map[string]bool{}
	}
	b.returnsOther[w.fn.key] = true
}

// rangedFactories runs the literals that an iterator factory returns
// inside the factory, with its locks at each return, when the factory's
// result is only ever ranged over: every call of it in the program is
// the range expression of a range-over-func loop, it is never used as a
// value, and it only returns literals. Its entry is then what the loops
// hold (done), and so is its iterators'. Any other use keeps the
// literals entered with nothing held: the iterator may run anywhere.
func (b *builder) rangedFactories() {
	ranged := map[string]int{}
	for _, rc := range b.rangedCalls {
		if rc.cs != nil {
			ranged[rc.key]++
		}
	}
	if len(ranged) == 0 {
		return
	}
	calls := map[string]int{}
	for _, cs := range b.callSites {
		if ranged[cs.callee] > 0 {
			calls[cs.callee]++
		}
	}
	for key, n := range ranged {
		fn := b.funcs[key]
		if fn == nil || calls[key] != n || len(b.dynamic[key]) > 0 || b.returnsOther[key] {
			continue
		}
		for _, r := range b.returnedLits[key] {
			if b.lits.returned == nil {
				b.lits.returned = map[string]bool{}
			}
			b.lits.returned[r.key] = true // runs in the loops (synclits.go)
			if b.funcs[r.key] != nil {
				b.callSites = append(b.callSites, &callSite{caller: fn, callee: r.key, state: r.state, site: r.site})
			}
		}
	}
}

// markRunnerUse records that the parameter named by id is handed to a
// runner or ranged over there: onlyCalled counts it as a call.
func (b *builder) markRunnerUse(id *ast.Ident) {
	if b.runnerUses == nil {
		b.runnerUses = map[*ast.Ident]bool{}
	}
	b.runnerUses[id] = true
}

// markInPlaceLit records a literal given to a runner or ranged over: it
// runs inside that call, so the parameters it calls run there too.
func (b *builder) markInPlaceLit(lit *ast.FuncLit) {
	if b.inPlaceLits == nil {
		b.inPlaceLits = map[*ast.FuncLit]bool{}
	}
	b.inPlaceLits[lit] = true
}

// inPlaceLit reports whether lit was given to a runner or ranged over.
func (b *builder) inPlaceLit(lit *ast.FuncLit) bool { return b.inPlaceLits[lit] }
