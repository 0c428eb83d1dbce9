// Command short contends on a lock for half a second and exits. It checks
// that profiles taken before exit are not lost.
package main

import (
	"sync"
	"time"
)

var (
	mu     sync.Mutex
	counts = map[int]int{}
)

func bump(i int) {
	mu.Lock()
	counts[i%7]++ // lockscope:short-write
	for j := 0; j < 5000; j++ {
		_ = j * j
	}
	mu.Unlock() // lockscope:short-unlock
}

func main() {
	deadline := time.Now().Add(500 * time.Millisecond)
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				bump(i)
			}
		}()
	}
	wg.Wait()
}
