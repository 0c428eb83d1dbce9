// Command ledgerdemo: eight depositors queue on the lock of a store in a
// module whose path has no dot. With -trace it writes an execution trace.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/trace"
	"sync"
	"time"

	"ledgerdemo/store"
)

func main() {
	d := flag.Duration("d", 500*time.Millisecond, "how long to run")
	out := flag.String("trace", "", "write an execution trace here")
	flag.Parse()
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			panic(err)
		}
		if err := trace.Start(f); err != nil {
			panic(err)
		}
		defer f.Close()
		defer trace.Stop()
	}
	s := store.New()
	stop := time.Now().Add(*d)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				s.Deposit(fmt.Sprint("acct", i%4), 1) // lockscope:deposit-call
			}
		}()
	}
	wg.Wait()
}
