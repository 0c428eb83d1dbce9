// Command racymap writes a map from two goroutines without a lock, slowly
// enough that it rarely crashes: the race detector finds it.
package main

import (
	"fmt"
	"sync"
	"time"
)

var seen = map[int]bool{}

func record(n int) {
	seen[n] = true // lockscope:racy-record
}

func forget(n int) {
	delete(seen, n) // lockscope:racy-forget
}

func main() {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			record(i)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			forget(i)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	wg.Wait()
	fmt.Println("entries:", len(seen))
}
