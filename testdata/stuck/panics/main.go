// Command panics panics on a goroutine after holding a lock for a moment:
// exit status 2 and "panic: ledger out of balance", with or without
// lockscope's agent.
package main

import (
	"sync"
	"time"
)

var mu sync.Mutex

func settle() {
	mu.Lock()
	defer mu.Unlock()
	time.Sleep(10 * time.Millisecond)
	panic("ledger out of balance") // lockscope:panic
}

func main() {
	done := make(chan struct{})
	go func() { settle(); close(done) }()
	<-done
}
