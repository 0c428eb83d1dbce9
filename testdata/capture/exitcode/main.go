// Command exitcode contends on a lock, then leaves with os.Exit(3): the
// agent's exit hook must still save the profiles on a failing exit.
package main

import (
	"os"
	"sync"
	"time"
)

var mu sync.Mutex

func spin() {
	mu.Lock()
	for i := 0; i < 20000; i++ {
		_ = i * i
	}
	mu.Unlock() // lockscope:exit-unlock
}

func main() {
	deadline := time.Now().Add(300 * time.Millisecond)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				spin()
			}
		}()
	}
	wg.Wait()
	os.Exit(3)
}
