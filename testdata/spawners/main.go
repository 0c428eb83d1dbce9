// Command spawners starts its goroutines through library calls, never
// with a go statement: sync.WaitGroup.Go, errgroup's Go and TryGo,
// time.AfterFunc, context.AfterFunc, runtime.SetFinalizer, and an HTTP
// server's handlers (each request in its own goroutine). No lock guards
// its maps, and each write a *-unguarded marker names runs in (or shares
// its map with) a goroutine a library call started: the index must call
// it unguarded, as it would with a go statement in the same place.
// It is its own module so that golang.org/x/sync stays out of lockscope's.
// The writes marked *-local run in one goroutine only (a sort's
// comparison, a request's own header): no unguarded report for them.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Tally counts events by kind; nothing guards its maps.
type Tally struct {
	workers map[string]int
	groups  map[string]int
	tries   map[string]int
	timers  map[string]int
	closed  map[int]bool
}

// work is started by wg.Go as a method value: its receiver is shared.
func (t *Tally) work() {
	t.workers["done"]++ // lockscope:wggo-method-unguarded
}

// group is called from a literal that errgroup.Go starts.
func (t *Tally) group(k string) {
	t.groups[k]++ // lockscope:errgroup-unguarded
}

// expire runs when a timer fires, in the timer's goroutine.
func (t *Tally) expire() {
	t.timers["expired"]++ // lockscope:afterfunc-unguarded
}

// conn is a resource whose finalizer records that it was closed.
type conn struct {
	id    int
	tally *Tally
}

// finalize runs in the runtime's finalizer goroutine.
func finalize(c *conn) {
	c.tally.closed[c.id] = true // lockscope:finalizer-unguarded
}

// server counts the requests of each path; its handlers run in a goroutine
// per request.
type server struct {
	hits    map[string]int
	wrapped map[string]int
}

// handleCount is registered with HandleFunc as a method value.
func (s *server) handleCount(w http.ResponseWriter, r *http.Request) {
	s.hits[r.URL.Path]++ // lockscope:handlefunc-unguarded
	// The request's own header and the response's: one goroutine each.
	r.Header["X-Seen"] = []string{"1"}    // lockscope:request-header-local
	w.Header()["X-Count"] = []string{"1"} // lockscope:response-header-local
	fmt.Fprint(w, len(r.Header))
}

// handleWrapped is converted to http.HandlerFunc and registered with Handle.
func (s *server) handleWrapped(w http.ResponseWriter, r *http.Request) {
	s.wrapped[r.URL.Path]++ // lockscope:handlerfunc-unguarded
}

// stats is an http.Handler registered with ServeMux.Handle.
type stats struct {
	seen map[string]int
}

func (h *stats) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.seen[r.Method]++ // lockscope:servehttp-unguarded
}

// api is the handler of an http.Server literal.
type api struct {
	calls map[string]int
}

func (a api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.calls[r.URL.Path]++ // lockscope:server-handler-unguarded
}

// audit is an http.Handler that reaches the mux through middleware.
type audit struct {
	seen map[string]int
}

func (a *audit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.seen[r.URL.Path]++ // lockscope:middleware-handler-unguarded
}

// logged wraps next: the server calls next from the wrapper's goroutine.
func logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(r.Method, r.URL.Path)
		next.ServeHTTP(w, r)
	})
}

// metrics is assigned to a server's Handler field.
type metrics struct {
	scrapes map[string]int
}

func (m *metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.scrapes[r.RemoteAddr]++ // lockscope:server-field-unguarded
}

// rank sorts names by how often they appear; the comparison runs inside
// sort.Slice and slices.SortFunc, in the caller's goroutine.
func rank(names []string) []string {
	compared := map[string]int{}
	sort.Slice(names, func(i, j int) bool {
		compared[names[i]]++ // lockscope:sort-slice-local
		return names[i] < names[j]
	})
	slices.SortFunc(names, func(a, b string) int {
		compared[a]++ // lockscope:sort-func-local
		return strings.Compare(a, b)
	})
	return names
}

func main() {
	t := &Tally{workers: map[string]int{}, groups: map[string]int{}, tries: map[string]int{},
		timers: map[string]int{}, closed: map[int]bool{}}
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(t.work)
		wg.Go(func() {
			seen["worker"]++ // lockscope:wggo-literal-unguarded
		})
	}
	seen["main"]++ // lockscope:wggo-captured-unguarded
	wg.Wait()

	var g errgroup.Group
	for range 4 {
		g.Go(func() error {
			t.group("go")
			return nil
		})
		g.TryGo(func() error {
			t.tries["try"]++ // lockscope:trygo-unguarded
			return nil
		})
	}
	_ = g.Wait()

	timer := time.AfterFunc(time.Millisecond, t.expire)
	defer timer.Stop()
	pending := map[string]bool{"job": true}
	ctx, cancel := context.WithCancel(context.Background())
	context.AfterFunc(ctx, func() {
		delete(pending, "job") // lockscope:ctx-afterfunc-unguarded
	})
	cancel()

	runtime.SetFinalizer(&conn{id: 1, tally: t}, finalize)
	runtime.GC()

	s := &server{hits: map[string]int{}, wrapped: map[string]int{}}
	visits := map[string]int{}
	mux := http.NewServeMux()
	mux.HandleFunc("/count", s.handleCount)
	mux.Handle("/wrapped", http.HandlerFunc(s.handleWrapped))
	mux.Handle("/stats", &stats{seen: map[string]int{}})
	mux.Handle("/audited", logged(&audit{seen: map[string]int{}}))
	http.HandleFunc("/visit", func(w http.ResponseWriter, r *http.Request) {
		visits[r.URL.Path]++ // lockscope:handler-literal-unguarded
	})
	// The default mux serves what mux does not.
	mux.Handle("/", http.DefaultServeMux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	apiSrv := httptest.NewUnstartedServer(nil)
	apiSrv.Config = &http.Server{Handler: api{calls: map[string]int{}}}
	apiSrv.Start()
	defer apiSrv.Close()
	metricsSrv := httptest.NewUnstartedServer(nil)
	metricsSrv.Config.Handler = &metrics{scrapes: map[string]int{}}
	metricsSrv.Start()
	defer metricsSrv.Close()
	for _, u := range []string{srv.URL + "/count", srv.URL + "/wrapped", srv.URL + "/stats", srv.URL + "/visit", srv.URL + "/audited",
		apiSrv.URL + "/v1", metricsSrv.URL + "/metrics"} {
		get(u)
	}
	fmt.Println(rank([]string{"b", "a", "c"}), len(seen), len(t.groups), len(visits))
}

// get fetches u and drops the body.
func get(u string) {
	resp, err := http.Get(u)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
}
