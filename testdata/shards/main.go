// Command shards counts events from several goroutines in a Store
// (store.go) while a reporter and a ticker share a Stats lock. It is the
// before-and-after program of lockscope's comparison tests: store.go holds
// one coarse lock across a slow step, fix/store.go.txt splits it into
// shards, and the Stats lock stays as it is, only moved down by the edit.
package main

import (
	"flag"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// slowStep stands for slow work done under a lock (a write, a call): the
// goroutine sleeps, so the wait does not depend on the number of CPUs.
func slowStep() { time.Sleep(20 * time.Microsecond) }

// keys are the event keys, made once.
var keys = func() []string {
	k := make([]string, 1024)
	for i := range k {
		k[i] = "key-" + strconv.Itoa(i)
	}
	return k
}()

// run counts events in workers goroutines until stop closes, each pausing
// between events as a server between requests (so the fix changes the
// wait, not the rate of events), while two reporters take the Stats lock
// in turn; it returns the events counted.
func run(s *Store, st *Stats, workers int, stop <-chan struct{}) int64 {
	var wg sync.WaitGroup
	counted := make([]int64, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s.Add(keys[(w*7919+i)%len(keys)])
				counted[w]++
				time.Sleep(100 * time.Microsecond) // the rest of the request
			}
		}()
	}
	// The reporter holds the Stats lock for 2ms at a time and the ticker
	// waits for it each time: nearly a second of wait per second, whatever
	// the Store does.
	ready, done := make(chan struct{}), make(chan struct{})
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(ready)
		for {
			select {
			case <-stop:
				return
			default:
			}
			st.Hold(2*time.Millisecond, ready)
			<-done
		}
	}()
	go func() {
		defer wg.Done()
		for range ready {
			st.Tick()
			done <- struct{}{}
		}
	}()
	wg.Wait()
	var n int64
	for _, c := range counted {
		n += c
	}
	return n
}

func main() {
	workers := flag.Int("workers", 8, "goroutines that count")
	d := flag.Duration("d", time.Second, "how long to run")
	flag.Parse()
	s, st := NewStore(), &Stats{} // lockscope:shards-main
	stop := make(chan struct{})
	time.AfterFunc(*d, func() { close(stop) })
	n := run(s, st, *workers, stop)
	fmt.Println("counted", n, "events;", st.hits, "reports")
}
