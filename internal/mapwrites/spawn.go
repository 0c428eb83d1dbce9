// Goroutines started by library calls: the functions and methods whose
// function-typed argument runs in a new goroutine, as the operand of a go
// statement does (reach.go), and the net/http handlers, which the server
// runs in a goroutine per request: the function or handler given to the
// table's calls, a conversion to http.HandlerFunc, an http.Server's
// Handler (in a literal or assigned), and a value of a concrete type
// passed as an http.Handler to any call (a mux, middleware), whose
// ServeHTTP is the root.

package mapwrites

import (
	"go/ast"
	"go/types"
)

// spawner is where a library function's argument runs: the index of the
// argument (receiver not counted), and whether it is an http.Handler or
// handler function, run in a goroutine per request.
type spawner struct {
	arg     int
	handler bool
}

// spawners are the library functions and methods, by types.Func full name
// (of the generic origin), whose argument runs in another goroutine than
// the caller's. A function value passed there is a goroutine root, and the
// variables its literal captures or the argument names escape to that
// goroutine. The value is already entered with nothing held: its callee
// has no source here (callbacks.go). sort.Slice, slices.SortFunc,
// sync.Once.Do and the like run their function inside the call: they are
// runners (runners.go). Nor is signal.Notify here, which takes a channel.
var spawners = map[string]spawner{
	// Go 1.25: wg.Go(f) is wg.Add(1); go func() { defer wg.Done(); f() }().
	"(*sync.WaitGroup).Go": {arg: 0},
	// errgroup runs f in a new goroutine (TryGo: when under the limit).
	"(*golang.org/x/sync/errgroup.Group).Go":    {arg: 0},
	"(*golang.org/x/sync/errgroup.Group).TryGo": {arg: 0},
	// The timer runs f in its own goroutine when it fires.
	"time.AfterFunc": {arg: 1},
	// f runs in its own goroutine once ctx is done.
	"context.AfterFunc": {arg: 1},
	// Finalizers and cleanups run in the runtime's finalizer goroutine.
	"runtime.SetFinalizer": {arg: 1},
	"runtime.AddCleanup":   {arg: 1},
	// The server calls each registered handler in the goroutine of each
	// request: a handler runs concurrently with itself.
	"net/http.HandleFunc":             {arg: 1, handler: true},
	"net/http.Handle":                 {arg: 1, handler: true},
	"(*net/http.ServeMux).HandleFunc": {arg: 1, handler: true},
	"(*net/http.ServeMux).Handle":     {arg: 1, handler: true},
	"net/http.ListenAndServe":         {arg: 1, handler: true},
	"net/http.ListenAndServeTLS":      {arg: 3, handler: true},
	"net/http.Serve":                  {arg: 1, handler: true},
	"net/http.ServeTLS":               {arg: 1, handler: true},
	// Wrappers whose result serves requests by calling the handler given.
	"net/http.StripPrefix":           {arg: 1, handler: true},
	"net/http.TimeoutHandler":        {arg: 0, handler: true},
	"net/http.MaxBytesHandler":       {arg: 0, handler: true},
	"net/http.AllowQuerySemicolons":  {arg: 0, handler: true},
	"net/http/httptest.NewServer":    {arg: 0, handler: true},
	"net/http/httptest.NewTLSServer": {arg: 0, handler: true},
	// The handler of a server that the test starts later (Start).
	"net/http/httptest.NewUnstartedServer": {arg: 0, handler: true},
}

// spawnerPkgs are the packages of the spawners, to skip the other calls
// before building a full name (TestSpawnerTable keeps it complete).
var spawnerPkgs = map[string]bool{
	"sync": true, "golang.org/x/sync/errgroup": true, "time": true, "context": true,
	"runtime": true, "net/http": true, "net/http/httptest": true,
}

// spawnCall records the goroutine a call of a spawner starts with its
// argument, and the handler a conversion to http.HandlerFunc makes (a
// HandlerFunc is only ever made to be served).
func (w *walker) spawnCall(call *ast.CallExpr) {
	b := w.b
	if tv, ok := b.info.Types[call.Fun]; ok && tv.IsType() {
		if isNetHTTP(tv.Type, "HandlerFunc") && len(call.Args) == 1 {
			w.spawned(call.Args[0], true)
		}
		return
	}
	f := instantiatedFunc(b.info, call)
	if f == nil || f.Pkg() == nil || !spawnerPkgs[f.Pkg().Path()] {
		return
	}
	sp, ok := spawners[f.Origin().FullName()]
	if !ok || sp.arg >= len(call.Args) {
		return
	}
	w.spawned(call.Args[sp.arg], sp.handler)
}

// serverLit records the handler of an http.Server literal: the server runs
// it for each request.
func (w *walker) serverLit(lit *ast.CompositeLit) {
	if !isNetHTTP(w.b.info.TypeOf(lit), "Server") {
		return
	}
	for _, e := range lit.Elts {
		if kv, ok := e.(*ast.KeyValueExpr); ok {
			if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Handler" {
				w.spawned(kv.Value, true)
			}
		}
	}
}

// serverAssign records the handler assigned to an http.Server's Handler
// field (srv.Handler = h), as serverLit does for a literal.
func (w *walker) serverAssign(as *ast.AssignStmt) {
	if len(as.Lhs) != len(as.Rhs) {
		return
	}
	for i, l := range as.Lhs {
		se, ok := ast.Unparen(l).(*ast.SelectorExpr)
		if !ok || se.Sel.Name != "Handler" {
			continue
		}
		sel := w.b.info.Selections[se]
		if sel == nil || sel.Kind() != types.FieldVal {
			continue
		}
		recv := sel.Recv()
		if p, ok := recv.Underlying().(*types.Pointer); ok {
			recv = p.Elem()
		}
		if isNetHTTP(recv, "Server") {
			w.spawned(as.Rhs[i], true)
		}
	}
}

// isNetHTTP reports whether t is net/http's named type name.
func isNetHTTP(t types.Type, name string) bool {
	n, ok := types.Unalias(t).(*types.Named)
	if !ok {
		return false
	}
	o := n.Obj()
	return o.Pkg() != nil && o.Pkg().Path() == "net/http" && o.Name() == name
}

// spawned records that the value of e runs in another goroutine: a
// function value becomes a root; for a handler, so does the ServeHTTP
// method of a concrete type that implements http.Handler. The variables e
// names or its literal captures escape.
func (w *walker) spawned(e ast.Expr, handler bool) {
	b := w.b
	// The value is made here: only what it names escapes, and the
	// functions it calls to make it (newHandler()) run here too.
	b.escape(e, false)
	key, _, _ := w.funcValue(e)
	if key == "" && handler {
		key = w.serveHTTP(e)
	}
	if key == "" {
		return
	}
	b.roots[key] = true
	if handler {
		if b.handlers == nil {
			b.handlers = map[string]bool{}
		}
		b.handlers[key] = true
	}
}

// serveHTTP is the key of the ServeHTTP method that serves requests for a
// handler value of a concrete type (a type the index may see the source
// of); "" for an interface value, nil, or a HandlerFunc conversion (whose
// function spawnCall roots).
func (w *walker) serveHTTP(e ast.Expr) string {
	t := w.b.info.TypeOf(e)
	if t == nil || types.IsInterface(t) || isNetHTTP(t, "HandlerFunc") {
		return ""
	}
	o, _, _ := types.LookupFieldOrMethod(t, true, nil, "ServeHTTP")
	f, ok := o.(*types.Func)
	if !ok {
		return ""
	}
	return w.b.objKey(f.Origin())
}

// escape marks the variables named in n as shared with another goroutine,
// those a literal in n captures included; with roots set, the functions n
// names become roots (a go statement's call: go f(x), go s.run()), but
// not the ones called inside it: in go f(g()) or go newWorker().run(),
// the caller evaluates g() and newWorker() before the goroutine starts.
func (b *builder) escape(n ast.Node, roots bool) {
	top := n
	here := map[*ast.Ident]bool{}
	ast.Inspect(n, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if n != top {
				if id := funIdent(n.Fun); id != nil {
					here[id] = true
				}
			}
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
				if roots && !here[n] {
					b.roots[b.objKey(o.Origin())] = true
				}
			case *types.Var:
				b.escaped[o] = true
			}
		}
		return true
	})
}

// perRequest is the set of parameters of the handlers the server runs (not
// their receivers): each request has its own ResponseWriter and Request,
// so a map reached from them (r.Header, w.Header()) is not shared by the
// handler running in many goroutines, unless the handler lets it go.
func (b *builder) perRequest() map[types.Object]bool {
	per := map[types.Object]bool{}
	for k := range b.handlers {
		fn := b.funcs[k]
		if fn == nil {
			continue
		}
		for _, p := range fn.paramList {
			if p != nil {
				per[p] = true
			}
		}
	}
	return per
}
