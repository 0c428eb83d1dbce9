// Command ratelimit: eight request handlers share one token bucket of
// golang.org/x/time/rate (pinned in go.mod), as a service limits its
// callers. The Limiter's one mutex is hot in Allow and Tokens: the lines
// that wait are the library's, and the lines a person can change are the
// calls below.
package main

import (
	"flag"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// work burns CPU without sleeping, as a handler does between checks.
func work(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i * i
	}
	return s
}

func handle(lim *rate.Limiter, i int) bool {
	if !lim.Allow() { // lockscope:rate-allow
		return false
	}
	if i%8 == 0 && lim.Tokens() < 10 { // lockscope:rate-tokens
		work(100)
	}
	work(300)
	return true
}

func main() {
	d := flag.Duration("d", 1500*time.Millisecond, "how long to run")
	flag.Parse()
	lim := rate.NewLimiter(rate.Limit(1e6), 1000)
	stop := time.Now().Add(*d)
	var wg sync.WaitGroup
	var served [8]int
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				if handle(lim, i) {
					served[w]++
				}
			}
		}()
	}
	wg.Wait()
	fmt.Println("served per handler:", served)
}
