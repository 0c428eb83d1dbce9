// Package lonely_test has test files only: the capture agent must join this
// package (as a _test.go file) when lockscope debugs its tests.
package lonely_test

import (
	"sync"
	"testing"
)

var sink int

func TestLonely(t *testing.T) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	n := 0
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20000; j++ {
				mu.Lock()
				n++ // lockscope:lonely-inc
				for k := 0; k < 200; k++ {
					sink += k
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if n != 80000 {
		t.Fatalf("n = %d, want 80000", n)
	}
}

// BenchmarkLonely contends on one mutex from every P; analyze --test
// --bench runs it.
func BenchmarkLonely(b *testing.B) {
	var mu sync.Mutex
	n := 0
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			n++
			for k := 0; k < 200; k++ {
				sink += k
			}
			mu.Unlock() // lockscope:lonely-bench-unlock
		}
	})
}
