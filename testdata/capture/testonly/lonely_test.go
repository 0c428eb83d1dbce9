// Package lonely_test has test files only: the capture agent must join this
// package (as a _test.go file) when lockscope debugs its tests.
package lonely_test

import (
	"sync"
	"testing"
)

func TestLonely(t *testing.T) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	n := 0
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				mu.Lock()
				n++ // lockscope:lonely-inc
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if n != 4000 {
		t.Fatalf("n = %d, want 4000", n)
	}
}
