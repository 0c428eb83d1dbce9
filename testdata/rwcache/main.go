// Command rwcache has a map behind a sync.RWMutex: many readers take RLock
// while a refresher takes the write lock and rewrites entries.
package main

import (
	"flag"
	"fmt"
	"sync"
	"time"
)

type Cache struct {
	mu    sync.RWMutex
	items map[int]int
}

var cache = &Cache{items: map[int]int{}}

func work(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i ^ (i >> 3)
	}
	return s
}

func (c *Cache) Get(k int) int {
	c.mu.RLock()
	v := c.items[k]
	work(2000)
	c.mu.RUnlock()
	return v
}

func (c *Cache) Refresh(k int) {
	c.mu.Lock()
	c.items[k] = work(30000) // lockscope:rw-write
	c.mu.Unlock()            // lockscope:rw-unlock
}

func main() {
	d := flag.Duration("d", 2*time.Second, "how long to run (0 runs forever)")
	flag.Parse()
	stop := make(chan struct{})
	if *d > 0 {
		time.AfterFunc(*d, func() { close(stop) })
	}
	var wg sync.WaitGroup
	for r := 0; r < 6; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				cache.Get(i % 64)
			}
		}(r)
	}
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				cache.Refresh((i + w) % 64)
			}
		}(w)
	}
	wg.Wait()
	fmt.Println("items:", len(cache.items))
}
