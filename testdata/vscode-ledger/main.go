// Command ledger is testdata/ledger for the real-VS-Code suite: it also says
// when it starts (a restart shows in the Debug Console), and its launch.json
// runs it until stopped. The suite finds lines by lockscope:NAME markers.
package main

import (
	"flag"
	"fmt"
	"sync"
	"time"
)

var (
	balMu    sync.Mutex
	balances = map[string]int{}

	auditMu  sync.Mutex
	auditLog = map[int]string{}
)

func deposit(account string, amount int) {
	balMu.Lock()                // lockscope:hot-lock
	balances[account] += amount // lockscope:hot-write
	work(20000)
	balMu.Unlock() // lockscope:hot-unlock
}

// work burns CPU without sleeping, so the lock is held while time passes.
func work(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i * i
	}
	return s
}

func audit(n int) {
	auditMu.Lock()
	auditLog[n] = "checked" // lockscope:cold-write
	auditMu.Unlock()
}

func main() {
	d := flag.Duration("d", 2*time.Second, "how long to run (0 runs until stopped)")
	workers := flag.Int("workers", 8, "depositors")
	flag.Parse()
	fmt.Printf("ledger: %d depositors started\n", *workers)

	stop := make(chan struct{})
	if *d > 0 {
		time.AfterFunc(*d, func() { close(stop) })
	}
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
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				audit(n)
			}
		}
	}()
	wg.Wait()
	balMu.Lock()
	fmt.Println("accounts:", len(balances))
	balMu.Unlock()
}
