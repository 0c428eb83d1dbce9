// Command sections is a fixture of the source index's critical sections:
// a goroutine literal takes, inside a statement of a function that holds
// the same mutex, a critical section of its own.
package main

import "sync"

func main() {
	var mu sync.Mutex
	mu.Lock() // lockscope:sections-outer-lock
	done := make(chan bool)
	go func() {
		mu.Lock()    // lockscope:sections-inner-lock
		done <- true // lockscope:sections-inner-held
		mu.Unlock()
	}()
	mu.Unlock() // lockscope:sections-outer-unlock
	<-done      // lockscope:sections-after
}
