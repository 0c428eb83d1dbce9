// Collecting declarations: the walk over each package's files that finds
// every function body (declared functions, function literals, package
// initialisers), names it as pprof and Delve do, and hands its statements
// to the walker (flow.go).

package mapwrites

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"

	"golang.org/x/tools/go/packages"

	"github.com/lockscope/lockscope/internal/contention"
)

// funcNode is one function body: a declared function or a function literal.
type funcNode struct {
	key      string // reachability key
	name     string // pprof-style name, e.g. main.(*Cache).Refresh or main.main.func1
	pos, end token.Pos
	parent   *funcNode // enclosing function, for literals
	goRoot   bool      // the literal is the operand of a go statement
	deferred bool      // the literal is the operand of a defer statement
	lits     int       // closures numbered so far directly inside this function
	params   map[types.Object]bool
	calls    map[string]bool // functions named in the body (called or as values)
	// recv and paramList are the receiver and the parameters in order
	// (nil for unnamed ones), to carry a caller's locks into the body
	// (interproc.go); pkg is the package the function is declared in.
	recv      types.Object
	paramList []types.Object
	pkg       *types.Package
	// obj is the declared function or method; nil for literals.
	obj *types.Func
	// body and info are the function's statements and its package's type
	// information, to tell a local map that never leaves it (locals.go).
	body *ast.BlockStmt
	info *types.Info
}

// rawWrite is a write before the program-wide passes (guards, sharing).
type rawWrite struct {
	w      contention.MapWrite
	col    int
	state  lockState // what the walk knew at the write (held: in acquisition order)
	fn     *funcNode
	root   types.Object // the variable the map is reached from, if any
	byCall bool         // the map is the result of a call
	// callRoot is the variable the call's method is called on, if any.
	callRoot types.Object
}

// builder collects one program's functions, writes and lock sites, then
// runs the program-wide passes (guards.go, reach.go) over them.
type builder struct {
	fset     *token.FileSet
	pkg      *packages.Package
	info     *types.Info
	problems []string
	writes   []rawWrite
	sites    []LockSite
	funcs    map[string]*funcNode
	roots    map[string]bool       // functions started by go statements or library calls (spawn.go)
	handlers map[string]bool       // the roots that serve http requests (spawn.go)
	escaped  map[types.Object]bool // variables named in go statements or captured by goroutines' literals
	seen     map[string]bool       // dedup of writes and sites by position
	held     map[heldKey][]Held    // the locks held on each line (held.go)
	// The call graph with the lock state at each call (interproc.go).
	callSites   []*callSite
	dynamic     map[string][]dynEntry // functions entered from unknown states, and where
	ifaces      []ifaceCall           // calls through interfaces
	ifaceValues []ifaceValue          // concrete values passed as interfaces
	// Function values passed to calls, and the calls of function-typed
	// parameters and where they are passed on, to run the values inside
	// those calls (callbacks.go).
	valueArgs  []*valueArg
	paramCalls map[types.Object][]paramCall
	passOns    map[types.Object][]passOn
	onlyCalls  map[types.Object]bool        // memo of builder.onlyCalled
	runs       map[types.Object][]paramCall // memo of builder.runPoints
	// Runs of parameters inside literals, to spell in the declaring
	// function (callbacks.go); and what runners.go knows: parameters
	// handed to runners or ranged over, literals that run in place, and
	// the identifiers of function values ranged over.
	litRuns      []litRun
	runnerUses   map[*ast.Ident]bool
	inPlaceLits  map[*ast.FuncLit]bool
	rangedIdents map[*ast.Ident]*valueArg
	// Iterator factories: calls ranged over, and what functions with one
	// function-typed result return (runners.go).
	rangedCalls  []*rangedCall
	returnedLits map[string][]returnedLit
	returnsOther map[string]bool
	// Function-typed fields: their stores, uses and calls (fields.go).
	fields fieldFlows
	// Where literals are written, and the values of those passed as
	// arguments (synclits.go).
	lits    litFlows
	litArgs map[*ast.FuncLit]*valueArg
	// loopPasses is the largest number of passes any loop took to find the
	// locks held at its top (see walker.loop). Nothing reads it but the test
	// that proves the passes need no bound.
	loopPasses int
}

// build indexes the functions of pkgs and runs the program-wide passes.
func build(fset *token.FileSet, pkgs []*packages.Package) *Index {
	b := newBuilder(fset)
	b.walkPackages(pkgs)
	return b.finish()
}

// newBuilder makes an empty builder over fset.
func newBuilder(fset *token.FileSet) *builder {
	return &builder{fset: fset, funcs: map[string]*funcNode{}, roots: map[string]bool{}, seen: map[string]bool{}, escaped: map[types.Object]bool{}}
}

// walkPackages walks every file of the packages that carry syntax, once
// each (a package and its test variant share files), and records what
// could not be indexed.
func (b *builder) walkPackages(pkgs []*packages.Package) {
	fset := b.fset
	doneFiles := map[string]bool{}
	roots := map[*packages.Package]bool{}
	for _, p := range pkgs {
		roots[p] = true
	}
	indexed := 0
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		// Only the requested packages (and their test variants) carry
		// syntax; dependencies come from export data, and their errors
		// show up again in the packages that import them.
		if roots[p] || len(p.Syntax) > 0 {
			for _, e := range p.Errors {
				b.problems = append(b.problems, fmt.Sprintf("package %s: %s", p.PkgPath, e))
			}
		}
		if len(p.Syntax) == 0 {
			return
		}
		indexed++
		if p.TypesInfo == nil || p.Types == nil {
			b.problems = append(b.problems, fmt.Sprintf("package %s: no type information; its map writes are not indexed", p.PkgPath))
			return
		}
		b.pkg, b.info = p, p.TypesInfo
		for _, f := range p.Syntax {
			name := fset.Position(f.Pos()).Filename
			if doneFiles[name] {
				continue
			}
			doneFiles[name] = true
			b.file(f)
		}
	})
	if indexed == 0 {
		b.problems = append(b.problems, "no Go package with source was found to index")
	}
}

// file walks the declarations of one source file.
func (b *builder) file(f *ast.File) {
	// Closures in package-level initialisers are numbered across the
	// package, as the compiler numbers them in the package's init.
	initLits := &funcNode{name: b.symPkg() + ".init", key: "init@" + b.pkg.Types.Path()}
	b.register(initLits)
	initLits = b.funcs[initLits.key]
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Body == nil {
				continue
			}
			fn := &funcNode{name: b.declName(d), pos: d.Pos(), end: d.End()}
			if obj, ok := b.info.Defs[d.Name].(*types.Func); ok {
				fn.key = b.objKey(obj)
				fn.obj = obj
			} else {
				fn.key = "func@" + b.posKey(d.Pos())
			}
			b.addParams(fn, d.Recv, d.Type)
			b.funcBody(fn, d.Body)
		case *ast.GenDecl:
			// Function literals in package-level initialisers belong to
			// the package's init, which calls with no lock held and may
			// keep functions as values (var handlers = ...{"a": doA}).
			b.exprs(initLits, d)
			(&walker{b: b, fn: initLits}).calls(d, lockState{}, false)
		}
	}
	b.collectFields(f)
	b.collectLits(f)
}

// addParams records the receiver, parameters and named results of fn, so
// that reach.go can tell a parameter from a captured variable.
func (b *builder) addParams(fn *funcNode, recv *ast.FieldList, typ *ast.FuncType) {
	fn.params = map[types.Object]bool{}
	fn.pkg = b.pkg.Types
	for i, fl := range []*ast.FieldList{recv, typ.Params, typ.Results} {
		if fl == nil {
			continue
		}
		for _, f := range fl.List {
			if len(f.Names) == 0 && i < 2 {
				// An unnamed receiver or parameter takes a place.
				if i == 0 {
					fn.recv = nil
				} else {
					fn.paramList = append(fn.paramList, nil)
				}
			}
			for _, n := range f.Names {
				o := b.info.Defs[n]
				if o != nil {
					fn.params[o] = true
				}
				switch i {
				case 0:
					fn.recv = o
				case 1:
					fn.paramList = append(fn.paramList, o)
				}
			}
		}
	}
}

// register adds fn to the functions of the program, once: a package and
// its test variant declare the same functions.
func (b *builder) register(fn *funcNode) {
	if b.funcs[fn.key] == nil {
		fn.calls = map[string]bool{}
		b.funcs[fn.key] = fn
	}
}

// funcBody walks the statements of fn's body, starting with no lock held.
func (b *builder) funcBody(fn *funcNode, body *ast.BlockStmt) {
	b.register(fn)
	fn.body, fn.info = body, b.info
	w := &walker{b: b, fn: fn}
	// Locks still held at the end of the body are simply dropped: the
	// function returns.
	w.block(body.List, lockState{}, true)
}

// symPkg is the package prefix of symbol names: the import path, or
// "main" for a command (the linker renames it).
func (b *builder) symPkg() string {
	if b.pkg.Types.Name() == "main" {
		return "main"
	}
	return b.pkg.Types.Path()
}

// declName is the function's name as pprof and Delve print it.
func (b *builder) declName(d *ast.FuncDecl) string {
	pkg := b.symPkg()
	if d.Recv == nil || len(d.Recv.List) == 0 {
		return pkg + "." + d.Name.Name
	}
	t := d.Recv.List[0].Type
	ptr := false
	if s, ok := t.(*ast.StarExpr); ok {
		ptr, t = true, s.X
	}
	generic := false
	switch x := t.(type) {
	case *ast.IndexExpr:
		t, generic = x.X, true
	case *ast.IndexListExpr:
		t, generic = x.X, true
	}
	name := types.ExprString(t)
	if generic {
		name += "[...]"
	}
	if ptr {
		return fmt.Sprintf("%s.(*%s).%s", pkg, name, d.Name.Name)
	}
	return fmt.Sprintf("%s.%s.%s", pkg, name, d.Name.Name)
}

// literal makes the node of a function literal found inside fn.
func (b *builder) literal(parent *funcNode, lit *ast.FuncLit) *funcNode {
	parent.lits++
	name := fmt.Sprintf("%s.func%d", parent.name, parent.lits)
	if parent.parent != nil {
		// Closures inside closures are numbered .1, .2 under their parent.
		name = fmt.Sprintf("%s.%d", parent.name, parent.lits)
	}
	fn := &funcNode{name: name, key: b.litKey(lit), pos: lit.Pos(), end: lit.End(), parent: parent}
	b.addParams(fn, nil, lit.Type)
	b.register(fn)
	if parent.calls != nil {
		// The enclosing function may call its literal.
		parent.calls[fn.key] = true
	}
	return fn
}

// exprs walks the expressions under n (not the statements of nested
// blocks, which the walker visits) for function literals and the functions
// they name.
func (b *builder) exprs(fn *funcNode, n ast.Node) {
	if n == nil {
		return
	}
	ast.Inspect(n, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			lit := b.literal(fn, n)
			b.funcBody(lit, n.Body)
			return false
		case *ast.Ident:
			if fn.calls != nil {
				if f, ok := b.info.Uses[n].(*types.Func); ok {
					fn.calls[b.objKey(f.Origin())] = true
				}
			}
		}
		return true
	})
}

// posKey names a source position, to tell apart objects and writes that
// share a name.
func (b *builder) posKey(p token.Pos) string {
	pos := b.fset.Position(p)
	return fmt.Sprintf("%s:%d:%d", pos.Filename, pos.Line, pos.Column)
}

// litKey is the key of the function literal lit (its funcNode's).
func (b *builder) litKey(lit *ast.FuncLit) string { return "lit@" + b.posKey(lit.Pos()) }

// objKey names an object stably across package variants.
func (b *builder) objKey(o types.Object) string {
	pkg := ""
	if o.Pkg() != nil {
		pkg = o.Pkg().Path()
	}
	return fmt.Sprintf("%s.%s@%s", pkg, o.Name(), b.posKey(o.Pos()))
}

// site is the file, line and column of p, as the report gives them.
func (b *builder) site(p token.Pos) (string, int, int) {
	pos := b.fset.Position(p)
	return filepath.Clean(pos.Filename), pos.Line, pos.Column
}
