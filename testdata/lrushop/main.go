// Command lrushop: eight request handlers share one LRU cache of
// github.com/hashicorp/golang-lru/v2 (pinned in go.mod). The cache's one
// lock is hot in Get and Add: the lines that wait are the library's, and the
// lines a person can change are the calls below. Goroutines that queue on
// that one lock, each released by the one before, are a queue, not a chain.
//
// With -trace, -mutexprofile and -blockprofile it writes an execution trace
// and the runtime's mutex and block profiles of its run.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// work burns CPU without sleeping, as a handler does between cache calls.
func work(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i * i
	}
	return s
}

func handle(cache *lru.Cache[string, int], w, i int) {
	key := fmt.Sprint("user", (w*7+i)%200)
	if _, ok := cache.Get(key); !ok { // lockscope:cache-get
		cache.Add(key, work(500)) // lockscope:cache-add
	}
	work(2000)
}

func main() {
	d := flag.Duration("d", 500*time.Millisecond, "how long to run")
	traceOut := flag.String("trace", "", "write an execution trace here")
	mutexOut := flag.String("mutexprofile", "", "write the mutex profile here")
	blockOut := flag.String("blockprofile", "", "write the block profile here")
	flag.Parse()
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	if *traceOut != "" {
		f, err := os.Create(*traceOut)
		if err != nil {
			panic(err)
		}
		if err := trace.Start(f); err != nil {
			panic(err)
		}
		defer f.Close()
		defer trace.Stop()
	}
	cache, err := lru.New[string, int](64)
	if err != nil {
		panic(err)
	}
	stop := time.Now().Add(*d)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				handle(cache, w, i)
			}
		}()
	}
	wg.Wait()
	for name, out := range map[string]string{"mutex": *mutexOut, "block": *blockOut} {
		if out == "" {
			continue
		}
		f, err := os.Create(out)
		if err != nil {
			panic(err)
		}
		if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
			panic(err)
		}
		f.Close()
	}
}
