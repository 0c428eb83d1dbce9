// Command stopwindow contends on one lock for a few seconds and then
// reaches a checkpoint, where the end-to-end tests stop it at a breakpoint
// and read the flight recorder's window before the stop. With -crash it
// ends instead with the runtime's "concurrent map writes", a crash stop.
package main

import (
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

var (
	mu      sync.Mutex
	balance int
	hits    = map[int]int{}
	// ticks grows as long as the program runs: a test reads it twice at
	// a stop to see that nothing resumed the program in between.
	ticks atomic.Int64
)

func spin(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i * i
	}
	return s
}

func deposit(n int) {
	mu.Lock() // lockscope:sw-lock
	balance += n
	spin(200000)
	mu.Unlock() // lockscope:sw-unlock
}

func count(k int) {
	for {
		hits[k]++ // lockscope:sw-crash
	}
}

func checkpoint() int {
	mu.Lock()
	defer mu.Unlock()
	return balance // lockscope:sw-stop
}

func main() {
	crash := flag.Bool("crash", false, "end with concurrent map writes")
	d := flag.Duration("d", 3*time.Second, "how long the depositors contend first")
	flag.Parse()
	go func() {
		for {
			ticks.Add(1)
		}
	}()
	for i := 0; i < 8; i++ {
		go func() {
			for {
				deposit(1)
			}
		}()
	}
	time.Sleep(*d)
	if *crash {
		go count(1)
		count(2)
	}
	fmt.Println("balance", checkpoint())
}
