// Command inversion takes two locks in both orders: a lock-order inversion.
// transferAB takes accountsMu then ordersMu; transferBA takes ordersMu then
// accountsMu. Run together they would deadlock sooner or later, so the
// program runs them in alternating phases, each phase in one order only:
// it never deadlocks, but the execution trace still sees holders of
// accountsMu wait for ordersMu (phase AB) and holders of ordersMu wait for
// accountsMu (phase BA). The waits-for graph (internal/graph) must mark
// that cycle.
package main

import (
	"flag"
	"fmt"
	"sync"
	"time"
)

var (
	accountsMu sync.Mutex
	ordersMu   sync.Mutex
	accounts   = map[string]int{}
	orders     = map[string]int{}
)

func busy(d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
	}
}

func transferAB() {
	accountsMu.Lock() // lockscope:ab-first
	ordersMu.Lock()   // lockscope:ab-second
	accounts["a"]++
	orders["a"]++
	ordersMu.Unlock()
	accountsMu.Unlock()
}

func transferBA() {
	ordersMu.Lock()   // lockscope:ba-first
	accountsMu.Lock() // lockscope:ba-second
	orders["b"]++
	accounts["b"]++
	accountsMu.Unlock()
	ordersMu.Unlock()
}

// auditOrders holds ordersMu while it works, so that a transferAB holding
// accountsMu waits for it.
func auditOrders() {
	ordersMu.Lock()
	busy(300 * time.Microsecond)
	ordersMu.Unlock() // lockscope:audit-orders-unlock
}

// auditAccounts does the same for transferBA.
func auditAccounts() {
	accountsMu.Lock()
	busy(300 * time.Microsecond)
	accountsMu.Unlock() // lockscope:audit-accounts-unlock
}

// phase runs each function in its own goroutine, in a loop, for d.
func phase(d time.Duration, fs ...func()) {
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				f()
			}
		}()
	}
	wg.Wait()
}

func main() {
	d := flag.Duration("d", 2*time.Second, "how long to run")
	flag.Parse()
	end := time.Now().Add(*d)
	for n := 0; time.Now().Before(end); n++ {
		// One order at a time: the phases never overlap, so no deadlock.
		if n%2 == 0 {
			phase(20*time.Millisecond, transferAB, transferAB, auditOrders)
		} else {
			phase(20*time.Millisecond, transferBA, transferBA, auditAccounts)
		}
	}
	fmt.Println("accounts:", len(accounts), "orders:", len(orders))
}
