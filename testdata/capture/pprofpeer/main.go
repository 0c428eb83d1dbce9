// Command pprofpeer contends on a mutex (with an inlined helper on the
// stack) and, once every goroutine is done, writes runtime/pprof's own mutex
// and block profiles to the directory in $PPROFPEER_OUT. A capture test
// compares them with the agent's, which are written without runtime/pprof.
package main

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

var (
	mu    sync.Mutex
	total int
)

// add is small enough to be inlined into its callers.
func add(n int) {
	mu.Lock()
	total += n
	for i := 0; i < 2000; i++ {
		total ^= i
	}
	mu.Unlock()
}

func worker(wg *sync.WaitGroup, deadline time.Time) {
	defer wg.Done()
	for i := 0; time.Now().Before(deadline); i++ {
		add(i)
	}
}

func main() {
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	deadline := time.Now().Add(300 * time.Millisecond)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go worker(&wg, deadline)
	}
	wg.Wait()
	// Nothing contends from here on: both writers see the same records.
	runtime.SetMutexProfileFraction(0)
	runtime.SetBlockProfileRate(0)
	out := os.Getenv("PPROFPEER_OUT")
	for _, kind := range []string{"mutex", "block"} {
		f, err := os.Create(filepath.Join(out, kind+".pb.gz"))
		if err != nil {
			panic(err)
		}
		if err := pprof.Lookup(kind).WriteTo(f, 0); err != nil {
			panic(err)
		}
		f.Close()
	}
}
