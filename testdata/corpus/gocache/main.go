// Command gocache: eight request handlers share one in-memory cache of
// github.com/patrickmn/go-cache (pinned in go.mod). Its one RWMutex is hot
// in Get and Set: the lines that wait are the library's, and the lines a
// person can change are the calls below.
package main

import (
	"flag"
	"fmt"
	"sync"
	"time"

	cache "github.com/patrickmn/go-cache"
)

// work burns CPU without sleeping, as a handler does between cache calls.
func work(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i * i
	}
	return s
}

func handle(c *cache.Cache, w, i int) {
	key := fmt.Sprint("session", (w*7+i)%500)
	if _, ok := c.Get(key); !ok { // lockscope:gocache-get
		c.Set(key, work(300), time.Second) // lockscope:gocache-set
	}
	if i%4 == 0 {
		c.Set("last", w, cache.NoExpiration) // lockscope:gocache-last
	}
	work(1500)
}

func main() {
	d := flag.Duration("d", 1500*time.Millisecond, "how long to run")
	flag.Parse()
	c := cache.New(time.Second, 100*time.Millisecond)
	stop := time.Now().Add(*d)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				handle(c, w, i)
			}
		}()
	}
	wg.Wait()
	fmt.Println("sessions:", c.ItemCount())
}
