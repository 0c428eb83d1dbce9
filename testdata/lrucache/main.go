// Command lrucache runs a session cache on two real LRU caches of
// github.com/hashicorp/golang-lru/v2 (pinned in go.mod): eight workers
// hammer Add and Get, so each cache's one lock is hot in Add and Get, while
// the caches' other methods (Purge, Resize, Remove...) are never called.
// The libraries' helpers (removeOldest, removeElement, addToBucket: "Has to
// be called with lock!") write the caches' maps with the lock their callers
// hold.
//
// With -mutexprofile and -blockprofile it writes the runtime's mutex and
// block profiles when it ends, as go test does.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/hashicorp/golang-lru/v2/expirable"
)

// work burns CPU without sleeping, as a request handler does between cache
// calls.
func work(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i * i
	}
	return s
}

func main() {
	d := flag.Duration("d", 2*time.Second, "how long to run")
	workers := flag.Int("workers", 8, "goroutines using the caches")
	mutexOut := flag.String("mutexprofile", "", "write the mutex profile here")
	blockOut := flag.String("blockprofile", "", "write the block profile here")
	flag.Parse()
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)

	sessions, err := lru.New[string, int](64)
	if err != nil {
		panic(err)
	}
	tokens := expirable.NewLRU[string, string](64, nil, time.Minute)

	stop := make(chan struct{})
	time.AfterFunc(*d, func() { close(stop) })
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("user-%d", (i*7+w)%200)
				if _, ok := sessions.Get(key); !ok {
					sessions.Add(key, i)
				}
				if _, ok := tokens.Get(key); !ok {
					tokens.Add(key, key)
				}
				work(2000)
			}
		}(w)
	}
	wg.Wait()
	fmt.Println("sessions:", sessions.Len(), "tokens:", tokens.Len())
	write := func(name, path string) {
		if path == "" {
			return
		}
		f, err := os.Create(path)
		if err != nil {
			panic(err)
		}
		if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
			panic(err)
		}
		if err := f.Close(); err != nil {
			panic(err)
		}
	}
	write("mutex", *mutexOut)
	write("block", *blockOut)
}
