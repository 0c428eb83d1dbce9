// Command rwrecursive takes a read lock twice on one goroutine while a
// writer queues in between: the writer waits for the first read lock, and
// the second read lock waits behind the writer. The runtime ends it with
// "all goroutines are asleep - deadlock!".
package main

import (
	"sync"
	"time"
)

var (
	mu    sync.RWMutex
	table = map[string]int{}
)

func lookup(k string) int {
	mu.RLock() // lockscope:rw-inner-rlock
	defer mu.RUnlock()
	return table[k]
}

func sum(keys []string) int {
	mu.RLock() // lockscope:rw-outer-rlock
	defer mu.RUnlock()
	time.Sleep(100 * time.Millisecond) // the writer queues meanwhile
	n := 0
	for _, k := range keys {
		n += lookup(k) // lockscope:rw-call
	}
	return n
}

func main() {
	go func() {
		time.Sleep(50 * time.Millisecond)
		mu.Lock() // lockscope:rw-writer-lock
		table["a"] = 1
		mu.Unlock()
	}()
	println(sum([]string{"a", "b"}))
}
