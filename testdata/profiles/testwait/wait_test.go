// Package testwait is a test whose goroutines fight for one mutex while the
// test function waits for them on a WaitGroup. Its profiles, recorded by
// `go test -blockprofile -mutexprofile`, check that the test's own wg.Wait
// is not called a hotspot (see ../README.md).
package testwait

import (
	"sync"
	"testing"
)

func TestWorkers(t *testing.T) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	n := 0
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20000; j++ {
				mu.Lock() // lockscope:test-lock
				n++
				for k := 0; k < 200; k++ {
					n += k & 1
				}
				mu.Unlock() // lockscope:test-unlock
			}
		}()
	}
	wg.Wait() // lockscope:test-wait
	if n == 0 {
		t.Fatal("no work done")
	}
}
