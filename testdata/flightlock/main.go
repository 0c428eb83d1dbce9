// Command flightlock fills a cache through golang.org/x/sync's
// singleflight while it holds the cache's lock: Do runs the function in
// the caller's goroutine, inside a literal that doCall calls in place, so
// the write is guarded by that lock; DoChan runs it in a new goroutine,
// where the lock is not held.
package main

import (
	"fmt"
	"sync"

	"golang.org/x/sync/singleflight"
)

var (
	mu     sync.Mutex
	cache  = map[string]string{}
	misses = map[string]int{}
	group  singleflight.Group
)

// lookup fills cache[k] once, with mu held.
func lookup(k string) {
	mu.Lock()
	defer mu.Unlock()
	group.Do(k, func() (any, error) {
		cache[k] = "v:" + k // lockscope:do-guarded
		return nil, nil
	})
}

// lookupAsync asks in the background: the function runs in doCall's own
// goroutine, after lookupAsync may have given mu up.
func lookupAsync(k string) <-chan singleflight.Result {
	mu.Lock()
	defer mu.Unlock()
	return group.DoChan(k, func() (any, error) {
		misses[k]++ // lockscope:dochan-unguarded
		return nil, nil
	})
}

func main() {
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			k := fmt.Sprint(i % 2)
			lookup(k)
			<-lookupAsync(k)
		})
	}
	wg.Wait()
}
