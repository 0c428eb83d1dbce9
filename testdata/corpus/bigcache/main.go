// Command bigcache: eight request handlers share one in-memory cache of
// github.com/allegro/bigcache/v3 (pinned in go.mod), configured with few
// shards so that handlers meet on the same shard lock. Each shard's
// RWMutex is hot in Get and Set: the lines that wait are the library's,
// and the lines a person can change are the calls below. Entries live one
// second, so the shard's evictions (removeOldestEntry, run as a callback
// under the shard's lock) happen while the program runs.
package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/allegro/bigcache/v3"
)

// work burns CPU without sleeping, as a handler does between cache calls.
func work(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i * i
	}
	return s
}

func handle(c *bigcache.BigCache, w, i int) {
	key := fmt.Sprint("session", (w*7+i)%500)
	if _, err := c.Get(key); err != nil { // lockscope:bigcache-get
		c.Set(key, strconv.AppendInt(nil, int64(work(300)), 10)) // lockscope:bigcache-set
	}
	if i%4 == 0 {
		c.Set("last", []byte(strconv.Itoa(w))) // lockscope:bigcache-last
	}
	work(1500)
}

func main() {
	d := flag.Duration("d", 2500*time.Millisecond, "how long to run")
	flag.Parse()
	cfg := bigcache.DefaultConfig(time.Second)
	cfg.Shards = 4
	cfg.MaxEntriesInWindow = 1000
	cfg.Verbose = false
	c, err := bigcache.New(context.Background(), cfg)
	if err != nil {
		panic(err)
	}
	defer c.Close()
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
	fmt.Println("sessions:", c.Len())
}
