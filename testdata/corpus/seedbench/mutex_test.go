// Package seedbench holds the field guide's contention benchmark: every
// goroutine of b.RunParallel takes one mutex and yields the processor
// while it holds it, so the others queue on it.
package seedbench

import (
	"runtime"
	"sync"
	"testing"
)

func BenchmarkMutexContend(b *testing.B) {
	var mu sync.Mutex
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock() // lockscope:seed-lock
			// The critical section's cost, made visible.
			runtime.Gosched() // yield the P while holding the lock
			mu.Unlock()       // lockscope:seed-unlock
		}
	})
}
