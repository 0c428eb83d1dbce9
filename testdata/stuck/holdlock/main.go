// Command holdlock holds one lock for a long time (-hold) while three
// goroutines wait for it and a fourth keeps working: a stall, not a
// deadlock, so the runtime never ends it. Nothing shows in the mutex and
// block profiles until the lock is released; lockscope must name the
// waiters and the holder from a goroutine dump.
package main

import (
	"flag"
	"fmt"
	"sync"
	"time"
)

type registry struct {
	mu    sync.Mutex
	items map[string]int
}

var reg = &registry{items: map[string]int{}}

// flush holds the registry's lock while it waits for a slow backend.
func flush(backend <-chan struct{}) {
	reg.mu.Lock() // lockscope:flush-lock
	defer reg.mu.Unlock()
	<-backend // lockscope:flush-wait
	reg.items = map[string]int{}
}

func record(name string) {
	reg.mu.Lock() // lockscope:record-lock
	reg.items[name]++
	reg.mu.Unlock()
}

// busy keeps the program alive and allocating, as a service's other
// requests would.
func busy(stop <-chan struct{}) int {
	n := 0
	for {
		select {
		case <-stop:
			return n
		default:
		}
		s := make([]byte, 1024)
		n += len(s)
		time.Sleep(time.Millisecond)
	}
}

func main() {
	hold := flag.Duration("hold", 30*time.Second, "how long flush holds the lock")
	flag.Parse()
	backend := make(chan struct{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); flush(backend) }()
	time.Sleep(20 * time.Millisecond) // flush takes the lock first
	for _, name := range []string{"a", "b", "c"} {
		wg.Add(1)
		go func() { defer wg.Done(); record(name) }()
	}
	done := make(chan int)
	go func() { done <- busy(stop) }()
	time.Sleep(*hold)
	close(backend)
	wg.Wait()
	close(stop)
	fmt.Println("released after", *hold, "worked", <-done > 0)
}
