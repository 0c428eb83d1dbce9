// Command ledgerbench is testdata/ledger with a throughput count: eight
// depositors fight for one mutex for -d, then it prints "ops N". The capture
// benchmark runs it with and without the agent to measure the agent's cost.
package main

import (
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

var (
	balMu    sync.Mutex
	balances = map[string]int{}
	ops      atomic.Int64
)

func work(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i * i
	}
	return s
}

// hold is how much work a deposit does with the lock held (-work).
var hold = 2000

func deposit(account string, amount int) {
	balMu.Lock()
	balances[account] += amount // lockscope:bench-write
	work(hold)
	balMu.Unlock() // lockscope:bench-unlock
	ops.Add(1)
}

func main() {
	d := flag.Duration("d", time.Second, "how long to run")
	workers := flag.Int("workers", 8, "depositors")
	flag.IntVar(&hold, "work", hold, "work done with the lock held, in loop iterations (2000: about a microsecond)")
	flag.Parse()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			account := fmt.Sprintf("acct-%d", w%3)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				deposit(account, i)
			}
		}(w)
	}
	time.Sleep(*d)
	close(stop)
	wg.Wait()
	fmt.Println("ops", ops.Load())
}
