// Command forms has one map write of every kind the index must recognise,
// under every locking shape it must understand. It is never run; it is
// indexed and built.
package main

import (
	"sync"

	o "github.com/lockscope/lockscope/testdata/mapwrites/forms/other"
)

var (
	mu    sync.Mutex
	rw    sync.RWMutex
	outer sync.Mutex
	m     = map[string]int{}
	nest  = map[string]map[string]int{"a": {}}
	arr   = []map[int]int{{}, {}}
)

type counter struct {
	sync.Mutex // embedded
	n          map[int]int
}

type box struct {
	mu *sync.Mutex
	m  map[string]int
}

func get() map[string]int { return m }

func forms(k string, v int) {
	mu.Lock()
	m[k] = v            // lockscope:f-assign
	m[k] += v           // lockscope:f-opassign
	m[k]++              // lockscope:f-inc
	m[k]--              // lockscope:f-dec
	delete(m, k)        // lockscope:f-delete
	clear(m)            // lockscope:f-clear
	v, m[k] = 1, v      // lockscope:f-multi
	m[k], m["x"] = 2, 3 // lockscope:f-multi2
	mu.Unlock()
	_ = v
}

func nested(k string) {
	outer.Lock()
	m[k] = 1 // lockscope:nest-outer-only
	mu.Lock()
	m[k] = 2 // lockscope:nest-both
	mu.Unlock()
	outer.Unlock()
	m[k] = 3 // lockscope:nest-after
}

func earlyReturn(k string, fail bool) {
	mu.Lock()
	if fail {
		mu.Unlock()
		return
	}
	m[k] = 4 // lockscope:early-still-held
	mu.Unlock()
	m[k] = 5 // lockscope:early-after-unlock
}

func deferred(k string) {
	mu.Lock()
	defer mu.Unlock() // lockscope:deferred-unlock
	if k == "" {
		return
	}
	for i := 0; i < 3; i++ {
		m[k] = i // lockscope:deferred-loop
	}
}

func branchUnlock(k string, b bool) {
	mu.Lock()
	if b {
		mu.Unlock()
	}
	m[k] = 6 // lockscope:branch-maybe
	if !b {
		mu.Unlock()
	}
}

func loopUnlock(keys []string) {
	mu.Lock()
	for _, k := range keys {
		m[k] = 7 // lockscope:loop-unlocked-inside
		mu.Unlock()
		mu.Lock()
	}
	mu.Unlock()
}

func readLocked(k string) {
	rw.RLock()
	m[k] = 8 // lockscope:rlock-write
	rw.RUnlock()
	rw.Lock()
	m[k] = 9 // lockscope:rw-write
	rw.Unlock()
}

func (c *counter) bump(i int) {
	c.Lock()
	c.n[i]++ // lockscope:embedded-write
	c.Unlock()
}

func (b box) valueRecv(k string) {
	b.mu.Lock()
	b.m[k] = 1 // lockscope:value-recv
	b.mu.Unlock()
}

func otherPkg(k string) {
	o.Mu.Lock()
	o.Shared[k] = 2 // lockscope:other-main
	o.Mu.Unlock()
}

func odd(k string, i int) {
	mu.Lock()
	get()[k] = 1     // lockscope:from-call
	nest["a"][k] = 1 // lockscope:map-of-maps
	arr[i][1] = 1    // lockscope:slice-elem
	arr[i+1][2] = 1  // lockscope:slice-elem-expr
	mu.Unlock()
}

func closureNotGuarded(k string) {
	mu.Lock()
	f := func() {
		m[k] = 10 // lockscope:closure-write
	}
	mu.Unlock()
	f()
}

func locals() int {
	private := map[int]int{}
	private[1] = 1 // lockscope:local-private
	shared := map[int]int{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		shared[2] = 2 // lockscope:local-in-goroutine
	}()
	// The writes are ordered (the program must not race when it runs
	// under the debugger); the index still sees the maps as shared.
	wg.Wait()
	shared[1] = 1 // lockscope:local-captured
	passed := map[int]int{}
	done := make(chan struct{})
	go fill(passed, done)
	<-done
	passed[3] = 3 // lockscope:local-passed
	return len(private)
}

func fill(p map[int]int, done chan struct{}) {
	p[1] = 1 // lockscope:param-in-goroutine
	close(done)
}

func notInGoroutine(p map[int]int) {
	p[2] = 2 // lockscope:param-main-only
}

func main() {
	forms("a", 1)
	nested("a")
	earlyReturn("a", false)
	deferred("a")
	branchUnlock("a", true)
	loopUnlock([]string{"a"})
	readLocked("a")
	(&counter{n: map[int]int{}}).bump(1)
	box{mu: new(sync.Mutex), m: map[string]int{}}.valueRecv("a")
	otherPkg("a")
	o.Put("b")
	odd("a", 0)
	closureNotGuarded("a")
	locals()
	notInGoroutine(map[int]int{})
}
