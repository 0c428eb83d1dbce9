// Command syncrunners writes maps inside functions that run at once, in
// the calling goroutine, under the caller's locks: function values given
// to the standard library's synchronous runners (once.Do, sort.Slice,
// slices.SortFunc, strings.Map, sync.Map's Range, maps.DeleteFunc,
// slices.Collect), range-over-func iterators, a parameter handed to a
// runner or ranged over, a parameter called inside a literal that is
// called in place (singleflight's doCall), and a call in the arguments of
// a go or defer statement, which the caller evaluates. Next to them, the
// shapes that really run elsewhere or later, with no lock: the markers
// ending in -unguarded. Those ending in -local have no lock and are not
// shared.
package main

import (
	"container/heap"
	"fmt"
	"iter"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Store is a table guarded by mu.
type Store struct {
	mu       sync.Mutex
	once     sync.Once
	lazy     sync.Once
	cold     sync.Once
	byName   sync.Map
	keys     []string
	index    map[string]int
	hits     map[string]int
	runes    map[rune]int
	removed  map[string]int
	seen     map[string]int
	visits   map[string]int
	listed   map[string]int
	walked   map[string]int
	flights  map[string]int
	later    map[string]int
	warm     map[string]int
	late     map[string]int
	scratch  map[string]int
	released map[string]int
	produced map[string]int
	drained  map[string]int
	scanned  map[string]int
	queue    queue
	ranked   ranked
	loose    looseRanked
	hooks    []func()
}

// NewStore makes an empty store.
func NewStore() *Store {
	return &Store{
		index: map[string]int{}, hits: map[string]int{}, runes: map[rune]int{}, removed: map[string]int{},
		seen: map[string]int{}, visits: map[string]int{}, listed: map[string]int{}, walked: map[string]int{},
		flights: map[string]int{}, later: map[string]int{}, warm: map[string]int{}, late: map[string]int{},
		scratch: map[string]int{}, released: map[string]int{}, produced: map[string]int{},
		drained: map[string]int{}, scanned: map[string]int{},
		queue: queue{pos: map[string]int{}}, ranked: ranked{rank: map[string]int{}},
		loose: looseRanked{ranked{rank: map[string]int{}}},
	}
}

// queue is a heap of keys that keeps each key's place in pos: heap's
// functions call its methods inside the call.
type queue struct {
	keys []string
	pos  map[string]int
}

func (q *queue) Len() int           { return len(q.keys) }
func (q *queue) Less(i, j int) bool { return q.keys[i] < q.keys[j] }

func (q *queue) Swap(i, j int) {
	q.keys[i], q.keys[j] = q.keys[j], q.keys[i]
	q.pos[q.keys[i]] = i // lockscope:heap-swap-guarded
	q.pos[q.keys[j]] = j
}

func (q *queue) Push(x any) {
	q.pos[x.(string)] = len(q.keys) // lockscope:heap-push-guarded
	q.keys = append(q.keys, x.(string))
}

func (q *queue) Pop() any {
	k := q.keys[len(q.keys)-1]
	q.keys = q.keys[:len(q.keys)-1]
	delete(q.pos, k) // lockscope:heap-pop-guarded
	return k
}

// ranked is sorted by sort.Sort, which calls its methods in the call.
type ranked struct {
	keys []string
	rank map[string]int
}

func (r *ranked) Len() int           { return len(r.keys) }
func (r *ranked) Less(i, j int) bool { return r.keys[i] < r.keys[j] }
func (r *ranked) Swap(i, j int) {
	r.keys[i], r.keys[j] = r.keys[j], r.keys[i]
	r.rank[r.keys[i]] = i // lockscope:sort-swap-guarded
}

// looseRanked is sorted by sort.Sort with no lock held.
type looseRanked struct{ ranked }

func (r *looseRanked) Swap(i, j int) {
	r.keys[i], r.keys[j] = r.keys[j], r.keys[i]
	r.rank[r.keys[i]] = i // lockscope:sort-unlocked-unguarded
}

var (
	totalsMu sync.Mutex
	totals   = map[string]int{}
)

// countName counts a name; slices.IndexFunc runs it under totalsMu.
func countName(name string) bool {
	totals[name]++ // lockscope:indexfunc-guarded
	return name == "stop"
}

// compareKeys orders keys for slices.SortFunc, which runs it under s.mu.
func (s *Store) compareKeys(a, b string) int {
	s.hits["sortfunc"]++ // lockscope:sortfunc-guarded
	return strings.Compare(a, b)
}

// each is an iterator: a range-over-func loop calls it in place.
func (s *Store) each(yield func(string) bool) {
	for k := range s.index {
		s.visits[k]++ // lockscope:rangeiter-guarded
		if !yield(k) {
			return
		}
	}
}

// names is an iterator that slices.Collect runs before it returns.
func (s *Store) names(yield func(string) bool) {
	s.listed["names"]++ // lockscope:collect-guarded
	yield("names")
}

// keysOf makes an iterator that is only ever ranged over: it runs in the
// loop, under the loop's locks.
func (s *Store) keysOf() iter.Seq[string] {
	return func(yield func(string) bool) {
		for k := range s.index {
			s.produced[k]++ // lockscope:factory-guarded
			if !yield(k) {
				return
			}
		}
	}
}

// pending makes an iterator that is ranged over, and also kept and run
// in a goroutine with no lock.
func (s *Store) pending() iter.Seq[string] {
	return func(yield func(string) bool) {
		s.drained["pending"]++ // lockscope:factory-stored-unguarded
		yield("pending")
	}
}

// scan goes on after its yield returns false: then with the lock its
// loop gave up before returning.
func (s *Store) scan(yield func(string) bool) {
	if !yield("stop") {
		s.scanned["after"]++ // lockscope:iter-return-unguarded
	}
}

// scanAll goes on after its yield returns false, as scan does.
func (s *Store) scanAll(yield func(string) bool) {
	if !yield("stop") {
		s.scanned["all"]++ // lockscope:iter-break-outer-unguarded
	}
}

// Scan leaves its range-over-func loop by a return, with the lock given
// up.
func (s *Store) Scan() {
	s.mu.Lock()
	for k := range s.scan {
		if k == "stop" {
			s.mu.Unlock()
			return
		}
	}
	s.mu.Unlock()
}

// ScanAll leaves its inner range-over-func loop by a break to the outer
// loop, with the lock given up.
func (s *Store) ScanAll() {
	s.mu.Lock()
	unlocked := false
outer:
	for range 2 {
		for k := range s.scanAll {
			if k == "stop" {
				s.mu.Unlock()
				unlocked = true
				break outer
			}
		}
	}
	if !unlocked {
		s.mu.Unlock()
	}
}

// Closure visits keys recursively through a literal kept in a local
// variable that is only ever called: it runs in Closure's goroutine, and
// seen is Closure's own. marks is captured by a literal that a goroutine
// calls too, and timed by one handed to time.AfterFunc.
func (s *Store) Closure(keys []string) int {
	seen := map[string]bool{}
	var visit func(i int)
	visit = func(i int) {
		if i >= len(keys) || seen[keys[i]] {
			return
		}
		seen[keys[i]] = true // lockscope:visitor-local
		visit(i + 1)
	}
	visit(0)
	marks := map[string]int{}
	var mark func(k string)
	mark = func(k string) {
		marks[k]++ // lockscope:visitor-go-unguarded
	}
	mark("here")
	go func() { mark("there") }()
	timed := map[string]int{}
	later := func() {
		timed["fired"]++ // lockscope:visitor-afterfunc-unguarded
	}
	time.AfterFunc(time.Millisecond, later)
	return len(seen) + len(marks) + len(timed)
}

// publishLocked has to be called with s.mu held.
func (s *Store) publishLocked(k string) {
	s.hits["published:"+k]++ // lockscope:var-helper-guarded
}

// Publish holds s.mu while it calls its local literals: one only ever
// called runs under it; one also kept in s.hooks may run anywhere.
func (s *Store) Publish(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	record := func(k string) {
		s.index["record:"+k] = 1 // lockscope:var-literal-guarded
		s.publishLocked(k)
	}
	record(k)
	keep := func() {
		s.late["keep"]++ // lockscope:var-escaped-unguarded
	}
	keep()
	s.hooks = append(s.hooks, keep)
}

// initOnce hands f to a runner: it only calls f, at the call.
func (s *Store) initOnce(f func()) { s.lazy.Do(f) }

// visit ranges over seq: it calls seq in place.
func (s *Store) visit(seq func(yield func(string) bool)) {
	for k := range seq {
		_ = k
	}
}

// doCall runs fn inside a literal called in place, behind a recover, as
// singleflight's doCall does.
func (s *Store) doCall(fn func()) {
	func() {
		defer func() { _ = recover() }()
		fn()
	}()
}

// doLocked takes the lock inside the literal it calls in place.
func (s *Store) doLocked(fn func()) {
	func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		fn()
	}()
}

// doUnlocked gives the caller's lock up inside the literal, around fn.
func (s *Store) doUnlocked(fn func()) {
	func() {
		s.mu.Unlock()
		fn()
		s.mu.Lock()
	}()
}

// doReleased takes the lock, then gives it up inside the literal around
// fn.
func (s *Store) doReleased(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	func() {
		s.mu.Unlock()
		fn()
		s.mu.Lock()
	}()
}

// doLater runs fn in a new goroutine, from a literal started with go.
func (s *Store) doLater(fn func()) {
	go func() { fn() }()
}

// Work runs every shape once; main runs it in several goroutines.
func (s *Store) Work(i int) {
	k := fmt.Sprint(i)

	s.mu.Lock()
	s.once.Do(func() {
		s.index["init"] = 1 // lockscope:once-guarded
	})
	sort.Slice(s.keys, func(a, b int) bool {
		s.hits["slice"]++ // lockscope:sortslice-guarded
		return s.keys[a] < s.keys[b]
	})
	slices.SortFunc(s.keys, s.compareKeys)
	_ = strings.Map(func(r rune) rune {
		s.runes[r]++ // lockscope:stringsmap-guarded
		return r
	}, k)
	s.byName.Range(func(key, v any) bool {
		s.index[key.(string)] = v.(int) // lockscope:syncmap-guarded
		return true
	})
	maps.DeleteFunc(s.index, func(key string, v int) bool {
		s.removed[key] = v // lockscope:mapsdelete-guarded
		return v < 0
	})
	for name := range s.each {
		s.seen[name]++ // lockscope:rangebody-guarded
	}
	_ = slices.Collect(s.names)
	heap.Push(&s.queue, k)
	if s.queue.Len() > 3 {
		heap.Pop(&s.queue)
	}
	sort.Sort(&s.ranked)
	for k := range s.keysOf() {
		_ = k
	}
	for range s.pending() {
	}
	s.initOnce(func() {
		s.index["lazy"] = 2 // lockscope:param-runner-guarded
	})
	s.visit(func(yield func(string) bool) {
		s.walked["visit"]++ // lockscope:param-range-guarded
		yield("visit")
	})
	s.doCall(func() {
		s.flights["call"]++ // lockscope:inplace-param-guarded
	})
	s.doUnlocked(func() {
		s.flights["unlocked"]++ // lockscope:inplace-unlocked-unguarded
	})
	s.doLater(func() {
		s.later["later"]++ // lockscope:inplace-go-unguarded
	})
	// A function that keeps its argument and runs it later is no runner.
	warm := sync.OnceFunc(func() {
		s.late["oncefunc"]++ // lockscope:oncefunc-unguarded
	})
	// Made under the lock, run later in a goroutine with none.
	seq := s.pending()
	s.mu.Unlock()
	warm()
	go func() {
		for range seq {
		}
	}()
	s.Scan()
	s.ScanAll()
	_ = s.Closure([]string{k})
	s.Publish(k)

	s.doLocked(func() {
		s.flights["locked"]++ // lockscope:inplace-own-lock-guarded
	})
	s.doReleased(func() {
		s.flights["released"]++ // lockscope:inplace-released-unguarded
	})
	// No lock held: a runner runs the value with nothing held.
	sort.Sort(&s.loose)
	s.cold.Do(func() {
		s.warm["cold"] = 1 // lockscope:once-unguarded
	})
	go func() {
		sort.Slice(s.keys, func(a, b int) bool {
			s.hits["goroutine"]++ // lockscope:sort-in-goroutine-unguarded
			return false
		})
	}()
}

// worker is started by go statements whose arguments call its methods.
type worker struct {
	mu    sync.Mutex
	table map[string]int
	done  map[string]int
}

// prepare fills the table before the goroutine that runs it starts.
func (w *worker) prepare() *worker {
	w.table["prepared"] = 1 // lockscope:goarg-local
	return w
}

// prepareLocked is evaluated by a go statement under w.mu.
func (w *worker) prepareLocked() *worker {
	w.table["locked"] = 1 // lockscope:goarg-guarded
	return w
}

// snapshot is evaluated by a defer statement under w.mu.
func (w *worker) snapshot() int {
	w.done["snapshot"]++ // lockscope:deferarg-guarded
	return len(w.done)
}

// release runs when finish returns, after w.mu is given up.
func (w *worker) release(n int) {
	w.done["released"] = n // lockscope:defercall-unguarded
}

// finish defers release with an argument evaluated under the lock.
func (w *worker) finish() {
	w.mu.Lock()
	defer w.release(w.snapshot())
	w.mu.Unlock()
}

// fill runs in its own goroutine, with no lock.
func (w *worker) fill() {
	w.table["filled"]++ // lockscope:gofunc-unguarded
}

// runWorker is a goroutine.
func runWorker(w *worker) {
	w.mu.Lock()
	w.table["run"]++
	w.mu.Unlock()
	w.finish()
}

func main() {
	s := NewStore()
	s.keys = []string{"b", "a"}
	s.byName.Store("a", 1)
	for i := range 4 {
		go s.Work(i)
	}
	w := &worker{table: map[string]int{}, done: map[string]int{}}
	go runWorker(w.prepare())
	w.mu.Lock()
	go runWorker(w.prepareLocked())
	w.mu.Unlock()
	go w.fill()
	totalsMu.Lock()
	_ = slices.IndexFunc([]string{"a", "stop"}, countName)
	totalsMu.Unlock()
	time.Sleep(100 * time.Millisecond)
}
