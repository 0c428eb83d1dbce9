// Command handoff builds a three-lock blocking chain: withdraw waits for the
// vault lock; transfer holds the vault and waits for the ledger lock;
// reconcile holds the ledger and waits for the audit lock; auditor holds the
// audit lock while it works.
package main

import (
	"flag"
	"fmt"
	"sync"
	"time"
)

var (
	vaultMu  sync.Mutex
	ledgerMu sync.Mutex
	auditMu  sync.Mutex
	vault    = map[string]int{}
)

func busy(d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
	}
}

func withdraw() {
	vaultMu.Lock() // lockscope:chain-waiter
	vault["cash"]--
	vaultMu.Unlock()
}

func transfer() {
	vaultMu.Lock()
	ledgerMu.Lock() // lockscope:chain-middle
	vault["cash"]++
	ledgerMu.Unlock()
	vaultMu.Unlock() // lockscope:chain-middle-unlock
}

func reconcile() {
	ledgerMu.Lock()
	auditMu.Lock() // lockscope:chain-last-wait
	auditMu.Unlock()
	ledgerMu.Unlock() // lockscope:chain-last-unlock
}

func auditor() {
	auditMu.Lock()
	busy(2 * time.Millisecond)
	auditMu.Unlock() // lockscope:chain-holder
}

func loop(stop chan struct{}, wg *sync.WaitGroup, f func(), pause time.Duration) {
	defer wg.Done()
	for {
		select {
		case <-stop:
			return
		default:
		}
		f()
		if pause > 0 {
			time.Sleep(pause)
		}
	}
}

func main() {
	d := flag.Duration("d", 2*time.Second, "how long to run (0 runs forever)")
	flag.Parse()
	stop := make(chan struct{})
	if *d > 0 {
		time.AfterFunc(*d, func() { close(stop) })
	}
	var wg sync.WaitGroup
	wg.Add(4)
	go loop(stop, &wg, auditor, 0)
	go loop(stop, &wg, reconcile, 100*time.Microsecond)
	go loop(stop, &wg, transfer, 100*time.Microsecond)
	go loop(stop, &wg, withdraw, 100*time.Microsecond)
	wg.Wait()
	fmt.Println("cash:", vault["cash"])
}
