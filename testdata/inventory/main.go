// Command inventory drives store.Store from many goroutines.
package main

import (
	"flag"
	"fmt"
	"sync"
	"time"

	"github.com/lockscope/lockscope/testdata/inventory/store"
)

func main() {
	d := flag.Duration("d", 2*time.Second, "how long to run (0 runs forever)")
	flag.Parse()
	s := store.New()
	stop := make(chan struct{})
	if *d > 0 {
		time.AfterFunc(*d, func() { close(stop) })
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 1; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s.Add(fmt.Sprintf("item-%d", i%5), 1)
			}
		}(w)
	}
	wg.Wait()
	fmt.Println("item-1:", s.Count("item-1"))
}
