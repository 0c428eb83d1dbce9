// Package mapwrites indexes the map writes of a Go program from its source
// and joins them with lock contention.
//
// [Load] type-checks the debuggee's packages (golang.org/x/tools/go/packages
// with go/types) and finds every statement that writes a map: m[k] = v,
// m[k] op= v, m[k]++ and --, delete(m, k), clear(m), and multi-assignments
// such as a, m[k] = .... For each write it records which lock guards it and
// which other statements write the same map ([Index.Writes]), and every
// Lock, RLock, Unlock and RUnlock call ([Index.LockSites]), so that
// [Join] can mark the writes whose lock the profiles and traces show as
// contended.
//
// # Identity
//
// A map is named by its types.Object: the package variable, the struct
// field (whatever value, pointer or receiver it is reached through) or the
// local variable. Two writes of c.items in different methods are the same
// map. A map inside a slice element is named by the slice; a map returned
// by a call is named by the function called. A mutex is named the same way,
// so contention anywhere on the same mutex object counts for every region
// it guards. Names are built from the object's package, name and
// declaration position, so they agree across the test and non-test variants
// of a package.
//
// # Guards
//
// Within one function, a write is guarded by every mutex expression that is
// certainly held there: a Lock or RLock earlier on every path, with no
// Unlock in between. A deferred Unlock keeps the lock held to the end of the
// function. Branches that return, panic, break or continue do not carry
// their state past the branch, so an early return after an Unlock does not
// unguard the code after it. Loops are iterated until the held set is
// stable. Function literals are functions of their own: a lock taken
// outside a closure does not guard writes inside it.
//
// When several locks are held, the guard is chosen as the lock detector
// Eraser does: the locks held at every guarded write of the same map,
// innermost first; if they have none in common, the innermost held lock.
//
// # Unguarded writes
//
// A write with no guard is Unguarded when another goroutine can reach the
// map. The rule is deliberately simple and errs towards reporting:
//   - a package variable (of any package) is always reachable;
//   - a map reached from a local variable, parameter or receiver is
//     reachable when that variable is captured by a function literal that
//     runs as a goroutine (or is called from one), when it is named in the
//     call of a go statement, or when it is a parameter or receiver of a
//     function that goroutines call (directly or through static calls,
//     function values named in their bodies included);
//   - a map returned by a call is reachable when the writing function runs
//     in a goroutine.
//
// A local map that never leaves its function is not unguarded: each call
// has its own. Interface method calls are not followed.
package mapwrites

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"

	"github.com/lockscope/lockscope/internal/contention"
)

// LockSite is one call of a sync.Mutex or sync.RWMutex method in the source.
type LockSite struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Function string `json:"function"`
	// Mutex is the mutex expression as written, with an embedded mutex
	// spelled out (s.Mutex for s.Lock()).
	Mutex string `json:"mutex"`
	// MutexID names the mutex variable or field; see the package doc.
	MutexID string `json:"mutexId"`
	// Kind is contention.PrimMutex or contention.PrimRWMutex.
	Kind string `json:"kind"`
	// Method is Lock, RLock, Unlock, RUnlock, TryLock or TryRLock.
	Method string `json:"method"`
	// Deferred is true for defer mu.Unlock() and for calls inside a deferred
	// function literal.
	Deferred bool `json:"deferred,omitempty"`
}

// Locks reports whether the site acquires the mutex.
func (s LockSite) Locks() bool {
	return s.Method == "Lock" || s.Method == "RLock" || s.Method == "TryLock" || s.Method == "TryRLock"
}

// Index is the map-write index of a set of packages. It is immutable once
// built and safe for concurrent readers.
type Index struct {
	writes   []contention.MapWrite
	sites    []LockSite
	problems []string
}

// Options tunes [LoadWithOptions].
type Options struct {
	// BuildFlags are passed to the go command (for example -tags).
	BuildFlags []string
	// Tests also indexes the packages' _test.go files, as a debuggee in
	// test mode runs them.
	Tests bool
	// Env, when non-nil, is the go command's environment.
	Env []string
}

// Load indexes the packages matched by patterns, resolved in dir (which may
// belong to another module with its own go.mod). Code that does not
// type-check is indexed as far as it can be; what could not be is listed by
// [Index.Problems]. Load fails only when the go command cannot list the
// packages at all.
func Load(dir string, patterns []string, buildFlags []string) (*Index, error) {
	return LoadWithOptions(dir, patterns, Options{BuildFlags: buildFlags})
}

// LoadWithOptions is [Load] with more settings.
func LoadWithOptions(dir string, patterns []string, o Options) (*Index, error) {
	if len(patterns) == 0 {
		patterns = []string{"."}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("mapwrites: directory %q: %v", dir, err)
	}
	if fi, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("mapwrites: directory %s: %v", abs, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("mapwrites: %s is not a directory", abs)
	}
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles |
			packages.NeedImports | packages.NeedTypes | packages.NeedSyntax |
			packages.NeedTypesInfo,
		Dir:        abs,
		Fset:       token.NewFileSet(),
		BuildFlags: o.BuildFlags,
		Tests:      o.Tests,
		Env:        o.Env,
	}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		return nil, fmt.Errorf("mapwrites: loading %s in %s: %v", strings.Join(patterns, " "), abs, err)
	}
	return build(cfg.Fset, pkgs), nil
}

// Writes returns every map write found, each with its other writers.
func (ix *Index) Writes() []contention.MapWrite {
	out := make([]contention.MapWrite, len(ix.writes))
	for i, w := range ix.writes {
		w.Writers = append([]contention.Site{}, w.Writers...)
		out[i] = w
	}
	return out
}

// LockSites returns every Lock, RLock, Unlock and RUnlock call found.
func (ix *Index) LockSites() []LockSite { return append([]LockSite{}, ix.sites...) }

// Problems lists what could not be indexed: packages that failed to load or
// type-check, and writes whose map could not be typed.
func (ix *Index) Problems() []string { return append([]string{}, ix.problems...) }

// At returns the map writes on one source line. A relative file is taken
// as a suffix of the indexed absolute paths.
func (ix *Index) At(file string, line int) []contention.MapWrite {
	var out []contention.MapWrite
	for _, w := range ix.writes {
		if w.Line == line && sameFile(w.File, file) {
			w.Writers = append([]contention.Site{}, w.Writers...)
			out = append(out, w)
		}
	}
	return out
}

func sameFile(indexed, asked string) bool {
	if filepath.IsAbs(asked) {
		return filepath.Clean(asked) == indexed
	}
	asked = filepath.ToSlash(filepath.Clean(asked))
	return strings.HasSuffix(filepath.ToSlash(indexed), "/"+asked) || filepath.ToSlash(indexed) == asked
}

// ---- building ----

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
}

// rawWrite is a write before the program-wide passes (guards, sharing).
type rawWrite struct {
	w      contention.MapWrite
	col    int
	held   []heldLock // in acquisition order
	fn     *funcNode
	root   types.Object // the variable the map is reached from, if any
	byCall bool         // the map is the result of a call
}

type builder struct {
	fset     *token.FileSet
	pkg      *packages.Package
	info     *types.Info
	problems []string
	writes   []rawWrite
	sites    []LockSite
	funcs    map[string]*funcNode
	roots    map[string]bool       // functions started by go statements
	escaped  map[types.Object]bool // variables named in go statements or captured by go literals
	seen     map[string]bool       // dedup of writes and sites by position
}

func build(fset *token.FileSet, pkgs []*packages.Package) *Index {
	b := &builder{fset: fset, funcs: map[string]*funcNode{}, roots: map[string]bool{}, seen: map[string]bool{}, escaped: map[types.Object]bool{}}
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
	return b.finish()
}

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
			} else {
				fn.key = "func@" + b.posKey(d.Pos())
			}
			b.addParams(fn, d.Recv, d.Type)
			b.funcBody(fn, d.Body)
		case *ast.GenDecl:
			// Function literals in package-level initialisers belong to
			// the package's init.
			b.exprs(initLits, d)
		}
	}
}

func (b *builder) addParams(fn *funcNode, recv *ast.FieldList, typ *ast.FuncType) {
	fn.params = map[types.Object]bool{}
	for _, fl := range []*ast.FieldList{recv, typ.Params, typ.Results} {
		if fl == nil {
			continue
		}
		for _, f := range fl.List {
			for _, n := range f.Names {
				if o := b.info.Defs[n]; o != nil {
					fn.params[o] = true
				}
			}
		}
	}
}

func (b *builder) register(fn *funcNode) {
	if b.funcs[fn.key] == nil {
		fn.calls = map[string]bool{}
		b.funcs[fn.key] = fn
	}
}

func (b *builder) funcBody(fn *funcNode, body *ast.BlockStmt) {
	b.register(fn)
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
	fn := &funcNode{name: name, key: "lit@" + b.posKey(lit.Pos()), pos: lit.Pos(), end: lit.End(), parent: parent}
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

func (b *builder) posKey(p token.Pos) string {
	pos := b.fset.Position(p)
	return fmt.Sprintf("%s:%d:%d", pos.Filename, pos.Line, pos.Column)
}

// objKey names an object stably across package variants.
func (b *builder) objKey(o types.Object) string {
	pkg := ""
	if o.Pkg() != nil {
		pkg = o.Pkg().Path()
	}
	return fmt.Sprintf("%s.%s@%s", pkg, o.Name(), b.posKey(o.Pos()))
}

func (b *builder) site(p token.Pos) (string, int, int) {
	pos := b.fset.Position(p)
	return filepath.Clean(pos.Filename), pos.Line, pos.Column
}

// ---- flow-sensitive lock state within one function ----

type heldLock struct {
	key  string // the mutex expression, for matching Lock and Unlock
	read bool   // held by RLock
	kind string
	id   string
	expr string
	eval string
}

// lockState is the set of locks certainly held, in acquisition order. It is
// small, so it is copied rather than shared.
type lockState []heldLock

func (s lockState) with(h heldLock) lockState {
	out := s.without(h.key)
	return append(out, h)
}

func (s lockState) without(key string) lockState {
	out := make(lockState, 0, len(s)+1)
	for _, h := range s {
		if h.key != key {
			out = append(out, h)
		}
	}
	return out
}

func (s lockState) has(h heldLock) bool {
	for _, x := range s {
		if x.key == h.key && x.read == h.read {
			return true
		}
	}
	return false
}

// meet keeps the locks held in both states.
func meet(a, b lockState) lockState {
	out := lockState{}
	for _, h := range a {
		if b.has(h) {
			out = append(out, h)
		}
	}
	return out
}

func equalState(a, b lockState) bool {
	return len(a) == len(b) && len(meet(a, b)) == len(a)
}

type walker struct {
	b  *builder
	fn *funcNode
}

// flow is the result of walking statements: the state at the end, and
// whether control certainly leaves (return, panic, break, continue, goto).
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

func (w *walker) block(list []ast.Stmt, s lockState, rec bool) flow {
	f := flow{s: s}
	for _, st := range list {
		if f.left {
			// Unreachable code after return: analyse it with no locks
			// rather than drop its writes.
			f = flow{s: lockState{}}
		}
		f = w.stmt(st, f.s, rec)
	}
	return f
}

func (w *walker) stmt(st ast.Stmt, s lockState, rec bool) flow {
	b := w.b
	ex := func(n ast.Node) {
		if rec {
			b.exprs(w.fn, n)
		}
	}
	switch st := st.(type) {
	case *ast.BlockStmt:
		return w.block(st.List, s, rec)
	case *ast.LabeledStmt:
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
			ex(call.Fun)
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
		ex(st.Call)
		return flow{s: s}
	case *ast.GoStmt:
		if rec {
			w.goStmt(st)
		}
		return flow{s: s}
	case *ast.ReturnStmt:
		ex(st)
		return flow{s: s, left: true}
	case *ast.BranchStmt:
		if st.Tok == token.FALLTHROUGH {
			return flow{s: s}
		}
		return flow{s: s, left: true}
	case *ast.IfStmt:
		f := flow{s: s}
		if st.Init != nil {
			f = w.stmt(st.Init, s, rec)
		}
		ex(st.Cond)
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
		ex(st.Cond)
		entry := w.loopEntry(f.s, func(s lockState, rec bool) flow {
			body := w.block(st.Body.List, s, rec)
			if st.Post != nil && !body.left {
				body = w.stmt(st.Post, body.s, rec)
			}
			return body
		}, rec)
		return flow{s: entry}
	case *ast.RangeStmt:
		ex(st.X)
		if rec && st.Tok == token.ASSIGN {
			for _, lhs := range []ast.Expr{st.Key, st.Value} {
				if lhs != nil {
					w.indexWrite(lhs, contention.OpAssign, st.Pos(), s)
				}
			}
		}
		entry := w.loopEntry(s, func(s lockState, rec bool) flow {
			return w.block(st.Body.List, s, rec)
		}, rec)
		return flow{s: entry}
	case *ast.SwitchStmt:
		f := flow{s: s}
		if st.Init != nil {
			f = w.stmt(st.Init, s, rec)
		}
		ex(st.Tag)
		return w.clauses(st.Body, f.s, rec)
	case *ast.TypeSwitchStmt:
		f := flow{s: s}
		if st.Init != nil {
			f = w.stmt(st.Init, s, rec)
		}
		ex(st.Assign)
		return w.clauses(st.Body, f.s, rec)
	case *ast.SelectStmt:
		var fs []flow
		for _, c := range st.Body.List {
			cc := c.(*ast.CommClause)
			cs := s
			if cc.Comm != nil {
				cs = w.stmt(cc.Comm, s, rec).s
			}
			fs = append(fs, w.block(cc.Body, cs, rec))
		}
		if len(fs) == 0 {
			return flow{s: s, left: true} // select {} blocks forever
		}
		return merge(fs...)
	default:
		// DeclStmt, SendStmt, EmptyStmt and the rest change no lock.
		ex(st)
		return flow{s: s}
	}
}

// loopEntry finds the state certainly held at the top of each iteration,
// then walks the body once more to record it.
func (w *walker) loopEntry(s lockState, body func(lockState, bool) flow, rec bool) lockState {
	entry := s
	for i := 0; i < 4; i++ {
		end := body(entry, false)
		next := entry
		if !end.left {
			next = meet(entry, end.s)
		}
		if equalState(next, entry) {
			break
		}
		entry = next
	}
	body(entry, rec)
	return entry
}

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
			}
		}
		fs = append(fs, w.block(cc.Body, s, rec))
	}
	if !hasDefault {
		fs = append(fs, flow{s: s})
	}
	return merge(fs...)
}

func (w *walker) goStmt(st *ast.GoStmt) {
	b := w.b
	call := st.Call
	// Everything named in the go statement's call runs (or is shared) in
	// the new goroutine.
	ast.Inspect(call, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			// Variables a goroutine's literal captures are shared with
			// the function that declares them.
			ast.Inspect(n.Body, func(m ast.Node) bool {
				if id, ok := m.(*ast.Ident); ok {
					if o, ok := b.info.Uses[id].(*types.Var); ok && (o.Pos() < n.Pos() || o.Pos() >= n.End()) {
						b.escaped[o] = true
					}
				}
				return true
			})
			return false
		case *ast.Ident:
			switch o := b.info.Uses[n].(type) {
			case *types.Func:
				b.roots[b.objKey(o.Origin())] = true
			case *types.Var:
				b.escaped[o] = true
			}
		}
		return true
	})
	if lit, ok := ast.Unparen(call.Fun).(*ast.FuncLit); ok {
		fn := b.literal(w.fn, lit)
		fn.goRoot = true
		b.roots[fn.key] = true
		b.funcBody(fn, lit.Body)
	} else {
		b.exprs(w.fn, call.Fun)
	}
	for _, a := range call.Args {
		if lit, ok := ast.Unparen(a).(*ast.FuncLit); ok {
			fn := b.literal(w.fn, lit)
			b.roots[fn.key] = true
			b.funcBody(fn, lit.Body)
			continue
		}
		b.exprs(w.fn, a)
	}
}

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
	return lockOp{method: fn.Name(), held: heldLock{
		key: expr, read: fn.Name() == "RLock", kind: kind, id: id, expr: expr, eval: eval,
	}}, true
}

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

func (w *walker) inDeferredLit() bool {
	for f := w.fn; f != nil; f = f.parent {
		if f.deferred {
			return true
		}
	}
	return false
}

// builtinWrite records delete(m, k) and clear(m).
func (w *walker) builtinWrite(call *ast.CallExpr, pos token.Pos, s lockState) {
	id, ok := ast.Unparen(call.Fun).(*ast.Ident)
	if !ok || len(call.Args) == 0 {
		return
	}
	if _, isB := w.b.info.Uses[id].(*types.Builtin); !isB {
		return
	}
	var op string
	switch id.Name {
	case "delete":
		op = contention.OpDelete
	case "clear":
		op = contention.OpClear
	default:
		return
	}
	m := call.Args[0]
	if !isMap(w.b.info.TypeOf(m)) {
		return // clear of a slice
	}
	w.record(m, op, pos, s)
}

// indexWrite records lhs when it is m[k] on a map.
func (w *walker) indexWrite(lhs ast.Expr, op string, pos token.Pos, s lockState) {
	ie, ok := ast.Unparen(lhs).(*ast.IndexExpr)
	if !ok {
		return
	}
	t := w.b.info.TypeOf(ie.X)
	if t == nil {
		file, line, _ := w.b.site(pos)
		w.b.problems = append(w.b.problems, fmt.Sprintf("%s:%d: cannot tell whether %s is a map (it did not type-check)", file, line, types.ExprString(ie.X)))
		return
	}
	if !isMap(t) {
		return
	}
	w.record(ie.X, op, pos, s)
}

func isMap(t types.Type) bool {
	if t == nil {
		return false
	}
	_, ok := t.Underlying().(*types.Map)
	return ok
}

func (w *walker) record(m ast.Expr, op string, pos token.Pos, s lockState) {
	b := w.b
	file, line, col := b.site(pos)
	k := "write " + b.posKey(m.Pos())
	if b.seen[k] {
		return
	}
	b.seen[k] = true
	mi := w.mapInfo(m)
	b.writes = append(b.writes, rawWrite{
		w: contention.MapWrite{
			File: file, Line: line, Function: w.fn.name, Map: types.ExprString(m), Op: op,
			MapID: mi.id, MapEval: mi.eval, NoBreakpoint: mi.noBP,
		},
		col: col, held: append(lockState(nil), s...), fn: w.fn, root: mi.root, byCall: mi.byCall,
	})
}

type mapInfo struct {
	id, eval, noBP string
	root           types.Object
	byCall         bool
}

// mapInfo names the map written through expression m and says how Delve
// can reach it at this line.
func (w *walker) mapInfo(m ast.Expr) mapInfo {
	b := w.b
	m = ast.Unparen(m)
	mi := mapInfo{eval: w.evalExpr(m), root: w.rootObj(m)}
	switch e := m.(type) {
	case *ast.CallExpr:
		mi.byCall = true
		mi.noBP = "the map is returned by a call, so there is no variable to watch at this line"
		if f := calledFunc(b.info, e); f != nil {
			mi.id = "call " + b.objKey(f.Origin())
		}
	case *ast.IndexExpr:
		if isMap(b.info.TypeOf(e.X)) {
			mi.noBP = "the map is an element of another map; map elements have no address Delve can read"
		}
	case *ast.TypeAssertExpr:
		mi.noBP = "the map comes from a type assertion; there is no variable to watch at this line"
	case *ast.CompositeLit:
		mi.noBP = "the map is a literal written in place"
	}
	if mi.id == "" {
		if o := w.identObj(m); o != nil {
			mi.id = b.objKey(o)
			if _, ok := m.(*ast.IndexExpr); ok {
				mi.id += "[]"
			}
		} else {
			mi.id = "expr " + types.ExprString(m) + "@" + b.posKey(m.Pos())
		}
	}
	if mi.eval == "" && mi.noBP == "" {
		mi.noBP = "the map expression " + types.ExprString(m) + " cannot be evaluated by Delve at this line"
	}
	if mi.noBP != "" {
		mi.eval = ""
	}
	return mi
}

func calledFunc(info *types.Info, call *ast.CallExpr) *types.Func {
	switch f := ast.Unparen(call.Fun).(type) {
	case *ast.Ident:
		fn, _ := info.Uses[f].(*types.Func)
		return fn
	case *ast.SelectorExpr:
		fn, _ := info.Uses[f.Sel].(*types.Func)
		return fn
	}
	return nil
}

// identObj is the object that names the map: the variable or field
// selected last (the collection, for an element of a slice or map).
func (w *walker) identObj(e ast.Expr) types.Object {
	info := w.b.info
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		return info.ObjectOf(e)
	case *ast.SelectorExpr:
		if sel := info.Selections[e]; sel != nil {
			return sel.Obj()
		}
		return info.ObjectOf(e.Sel) // qualified identifier pkg.Var
	case *ast.StarExpr:
		return w.identObj(e.X)
	case *ast.IndexExpr:
		return w.identObj(e.X)
	}
	return nil
}

// rootObj is the variable an expression starts from (s in s.a.b), or nil
// when it starts from a call or literal. Package-qualified variables are
// their own root.
func (w *walker) rootObj(e ast.Expr) types.Object {
	info := w.b.info
	for {
		switch x := ast.Unparen(e).(type) {
		case *ast.Ident:
			return info.ObjectOf(x)
		case *ast.SelectorExpr:
			if id, ok := ast.Unparen(x.X).(*ast.Ident); ok {
				if _, isPkg := info.Uses[id].(*types.PkgName); isPkg {
					return info.Uses[x.Sel]
				}
			}
			e = x.X
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		default:
			return nil
		}
	}
}

// evalExpr spells e the way Delve evaluates it at this line, or returns ""
// when Delve cannot: calls, conversions, map elements, non-trivial index
// expressions. Variables of other packages are written "path".Name, since
// Delve does not know this file's import names.
func (w *walker) evalExpr(e ast.Expr) string {
	info := w.b.info
	switch x := e.(type) {
	case *ast.ParenExpr:
		in := w.evalExpr(x.X)
		if in == "" {
			return ""
		}
		return "(" + in + ")"
	case *ast.Ident:
		o, ok := info.ObjectOf(x).(*types.Var)
		if !ok {
			return ""
		}
		if o.Pkg() != nil && o.Parent() == o.Pkg().Scope() && o.Pkg() != w.b.pkg.Types {
			// A dot-imported package variable.
			return fmt.Sprintf("%q.%s", o.Pkg().Path(), o.Name())
		}
		return x.Name
	case *ast.SelectorExpr:
		if id, ok := ast.Unparen(x.X).(*ast.Ident); ok {
			if pn, isPkg := info.Uses[id].(*types.PkgName); isPkg {
				if _, ok := info.Uses[x.Sel].(*types.Var); !ok {
					return ""
				}
				return fmt.Sprintf("%q.%s", pn.Imported().Path(), x.Sel.Name)
			}
		}
		sel := info.Selections[x]
		if sel == nil || sel.Kind() != types.FieldVal {
			return ""
		}
		in := w.evalExpr(x.X)
		if in == "" {
			return ""
		}
		// Spell out promoted fields through their embedded structs.
		t := info.TypeOf(x.X)
		idx := sel.Index()
		for _, i := range idx[:len(idx)-1] {
			st := structOf(t)
			if st == nil || i >= st.NumFields() {
				return ""
			}
			f := st.Field(i)
			in += "." + f.Name()
			t = f.Type()
		}
		return in + "." + x.Sel.Name
	case *ast.StarExpr:
		in := w.evalExpr(x.X)
		if in == "" {
			return ""
		}
		return "(*" + in + ")"
	case *ast.IndexExpr:
		if isMap(info.TypeOf(x.X)) {
			return ""
		}
		in := w.evalExpr(x.X)
		if in == "" || !simpleIndex(info, x.Index) {
			return ""
		}
		return in + "[" + types.ExprString(x.Index) + "]"
	}
	return ""
}

// simpleIndex accepts indices Delve evaluates without side effects: local
// names and constants.
func simpleIndex(info *types.Info, e ast.Expr) bool {
	if tv, ok := info.Types[e]; ok && tv.Value != nil {
		return true
	}
	id, ok := ast.Unparen(e).(*ast.Ident)
	if !ok {
		return false
	}
	_, isVar := info.ObjectOf(id).(*types.Var)
	return isVar
}

// ---- program-wide passes ----

func (b *builder) finish() *Index {
	reach := b.reachable()

	// Eraser's candidate set: the mutexes held at every guarded write of
	// each map.
	common := map[string]map[string]bool{}
	for _, r := range b.writes {
		if len(r.held) == 0 {
			continue
		}
		ids := map[string]bool{}
		for _, h := range r.held {
			ids[h.id] = true
		}
		if c, ok := common[r.w.MapID]; ok {
			for id := range c {
				if !ids[id] {
					delete(c, id)
				}
			}
		} else {
			common[r.w.MapID] = ids
		}
	}

	ix := &Index{sites: b.sites, problems: b.problems}
	for _, r := range b.writes {
		w := r.w
		if len(r.held) > 0 {
			g := r.held[len(r.held)-1]
			for i := len(r.held) - 1; i >= 0; i-- {
				if common[w.MapID][r.held[i].id] {
					g = r.held[i]
					break
				}
			}
			w.Guard, w.GuardKind, w.GuardRead, w.GuardID, w.GuardEval = g.expr, g.kind, g.read, g.id, g.eval
		} else {
			w.Unguarded = b.shared(r, reach)
		}
		ix.writes = append(ix.writes, w)
	}

	// Writers: every other write site of the same map.
	byMap := map[string][]int{}
	for i, w := range ix.writes {
		byMap[w.MapID] = append(byMap[w.MapID], i)
	}
	for i := range ix.writes {
		w := &ix.writes[i]
		w.Writers = []contention.Site{}
		seen := map[string]bool{fmt.Sprintf("%s:%d", w.File, w.Line): true}
		for _, j := range byMap[w.MapID] {
			o := ix.writes[j]
			k := fmt.Sprintf("%s:%d", o.File, o.Line)
			if seen[k] {
				continue
			}
			seen[k] = true
			w.Writers = append(w.Writers, contention.Site{File: o.File, Line: o.Line, Function: o.Function})
		}
		sort.Slice(w.Writers, func(a, c int) bool {
			if w.Writers[a].File != w.Writers[c].File {
				return w.Writers[a].File < w.Writers[c].File
			}
			return w.Writers[a].Line < w.Writers[c].Line
		})
	}
	sort.SliceStable(ix.writes, func(i, j int) bool {
		if ix.writes[i].File != ix.writes[j].File {
			return ix.writes[i].File < ix.writes[j].File
		}
		return ix.writes[i].Line < ix.writes[j].Line
	})
	sort.SliceStable(ix.sites, func(i, j int) bool {
		if ix.sites[i].File != ix.sites[j].File {
			return ix.sites[i].File < ix.sites[j].File
		}
		return ix.sites[i].Line < ix.sites[j].Line
	})
	return ix
}

// reachable is the set of functions that may run in a goroutine started by
// a go statement: the roots and everything they name, transitively.
func (b *builder) reachable() map[string]bool {
	reach := map[string]bool{}
	var stack []string
	for k := range b.roots {
		stack = append(stack, k)
	}
	for len(stack) > 0 {
		k := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if reach[k] {
			continue
		}
		reach[k] = true
		if fn := b.funcs[k]; fn != nil {
			for c := range fn.calls {
				stack = append(stack, c)
			}
		}
	}
	return reach
}

// shared applies the package doc's rule for unguarded writes.
func (b *builder) shared(r rawWrite, reach map[string]bool) bool {
	if r.byCall || r.root == nil {
		return reach[r.fn.key]
	}
	v, ok := r.root.(*types.Var)
	if !ok {
		return false
	}
	if v.Pkg() != nil && v.Parent() == v.Pkg().Scope() {
		return true // package variable
	}
	// Find the function that declares the variable.
	for f := r.fn; f != nil; f = f.parent {
		// Walking outwards, the first function whose text holds the
		// declaration declares it.
		if !f.params[v] && (v.Pos() < f.pos || v.Pos() >= f.end) {
			continue
		}
		if f != r.fn {
			// Captured: shared if a literal between the declaring
			// function and the write runs in a goroutine.
			for g := r.fn; g != f; g = g.parent {
				if g.goRoot || reach[g.key] {
					return true
				}
			}
		}
		if f.params[v] && reach[f.key] {
			return true
		}
		return b.escaped[v]
	}
	return false
}
