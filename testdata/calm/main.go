// Command calm takes locks that are never contended: each worker has its own
// mutex and map, and one goroutine uses a shared map alone.
package main

import (
	"flag"
	"fmt"
	"sync"
	"time"
)

type shard struct {
	mu sync.Mutex
	m  map[int]int
}

func main() {
	d := flag.Duration("d", time.Second, "how long to run")
	flag.Parse()
	shards := make([]*shard, 4)
	for i := range shards {
		shards[i] = &shard{m: map[int]int{}}
	}
	deadline := time.Now().Add(*d)
	var wg sync.WaitGroup
	for i, s := range shards {
		wg.Add(1)
		go func(i int, s *shard) {
			defer wg.Done()
			for n := 0; time.Now().Before(deadline); n++ {
				s.mu.Lock()
				s.m[n%100] = n // lockscope:calm-write
				s.mu.Unlock()
				time.Sleep(time.Millisecond)
			}
		}(i, s)
	}
	wg.Wait()
	fmt.Println("done")
}
