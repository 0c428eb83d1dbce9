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

// runnerPkgs are the packages of the runners, to skip the other calls
// before building a full name (TestRunnerTable keeps it complete).
var runnerPkgs = map[string]bool{
	"sync": true, "sort": true, "slices": true, "maps": true, "strings": true, "bytes": true,
}

// runnerArgs is the indexes of call's arguments that its callee, a
// runner, calls inside the call; nil for any other call.
func (w *walker) runnerArgs(call *ast.CallExpr) []int {
	f := calledFunc(w.b.info, &ast.CallExpr{Fun: uninstantiate(call.Fun)})
	if f == nil || f.Pkg() == nil || !runnerPkgs[f.Pkg().Path()] {
		return nil
	}
	return runners[f.Origin().FullName()]
}

// rangeFunc records a range-over-func loop's iterator when it is a
// function value: the loop calls it in place, with the locks held at the
// range statement (state s), so it runs as a runner's argument does. The
// loop's body is walked as the loop's own statements (flow.go), under
// the same locks.
func (w *walker) rangeFunc(st *ast.RangeStmt, s lockState) {
	if _, ok := w.b.info.TypeOf(st.X).Underlying().(*types.Signature); !ok {
		return
	}
	b := w.b
	if id, ok := ast.Unparen(st.X).(*ast.Ident); ok && w.paramRun(id, st.X.Pos(), s) {
		b.markRunnerUse(id) // a parameter ranged over is called here
		return
	}
	key, bind, id := w.funcValue(st.X)
	if key == "" {
		return
	}
	if lit, ok := ast.Unparen(st.X).(*ast.FuncLit); ok {
		b.markInPlaceLit(lit)
	}
	cs := &callSite{caller: w.fn, state: s.clone(), site: b.callSite(st.X.Pos(), w.fn)}
	va := &valueArg{cs: cs, key: key, bind: bind, named: id != nil, site: cs.site, inPlace: true}
	if id != nil {
		if b.rangedIdents == nil {
			b.rangedIdents = map[*ast.Ident]*valueArg{}
		}
		b.rangedIdents[id] = va
	}
	b.valueArgs = append(b.valueArgs, va)
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
