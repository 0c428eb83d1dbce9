// Command deadlock takes two locks in opposite orders on two goroutines
// while main waits for both: a lock-order deadlock. Run alone, the runtime
// ends it within milliseconds with "fatal error: all goroutines are asleep
// - deadlock!" (exit status 2); under lockscope's agent it must die the
// same way, and lockscope must name the cycle.
package main

import (
	"fmt"
	"sync"
	"time"
)

var (
	a sync.Mutex // the accounts lock
	b sync.Mutex // the audit lock
)

func transfer(wg *sync.WaitGroup, ready chan struct{}) {
	defer wg.Done()
	a.Lock() // lockscope:transfer-lock-a
	<-ready
	b.Lock() // lockscope:transfer-lock-b
	b.Unlock()
	a.Unlock()
}

func audit(wg *sync.WaitGroup, ready chan struct{}) {
	defer wg.Done()
	b.Lock() // lockscope:audit-lock-b
	<-ready
	a.Lock() // lockscope:audit-lock-a
	a.Unlock()
	b.Unlock()
}

func main() {
	var wg sync.WaitGroup
	ready := make(chan struct{})
	wg.Add(2)
	go transfer(&wg, ready)
	go audit(&wg, ready)
	// Both goroutines hold their first lock before either asks for its
	// second: the deadlock happens on every run, not by chance.
	time.Sleep(50 * time.Millisecond)
	close(ready)
	wg.Wait() // lockscope:main-wait
	fmt.Println("no deadlock")
}
