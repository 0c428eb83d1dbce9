// Command singleflight: eight request handlers load configuration through
// one golang.org/x/sync/singleflight Group (pinned in go.mod), so that
// concurrent loads of one key run once. The Group's one mutex is hot in Do
// and in doCall: the lines that wait are the library's, and the line a
// person can change is the call below.
package main

import (
	"flag"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// work burns CPU without sleeping, as a handler does between loads.
func work(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i * i
	}
	return s
}

func handle(g *singleflight.Group, w, i int) int {
	key := fmt.Sprint("tenant", (w+i)%16)
	v, _, _ := g.Do(key, func() (any, error) { // lockscope:singleflight-do
		return work(200), nil
	})
	work(800)
	return v.(int)
}

func main() {
	d := flag.Duration("d", 1500*time.Millisecond, "how long to run")
	flag.Parse()
	var g singleflight.Group
	stop := time.Now().Add(*d)
	var wg sync.WaitGroup
	var calls [8]int
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				calls[w] += handle(&g, w, i) & 1
			}
		}()
	}
	wg.Wait()
	fmt.Println("odd results per handler:", calls)
}
