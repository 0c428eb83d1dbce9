// Command lockedhelpers is a cache whose map writes sit in helpers that
// their callers call with the lock held, in the shapes real caches use:
// setWithoutLock, removeOldestEntry, a *Locked suffix, "Has to be called
// with lock!", recursion, a helper two calls deep, and an inner structure
// that only the outer lock guards. One helper, bump, has a caller that
// forgot the lock (Touch), and one that fmt calls (String): it is sometimes
// unguarded. MergeFrom holds its
// own lock while it writes another cache through the helper: the wrong
// value's lock. Run long enough, it dies of "concurrent map writes": the bug
// the index points at.
package main

import (
	"flag"
	"fmt"
	"sync"
	"time"
)

// index is an inner structure with no lock of its own: Cache guards it.
type index struct {
	byLen map[int]int
}

// add is called with the owner's lock held.
func (x *index) add(n int) {
	x.byLen[n]++ // lockscope:inner-add
}

// Cache is an LRU-ish cache; mu guards everything below it.
type Cache struct {
	mu    sync.Mutex
	items map[string]int
	order []string
	size  int
	stats map[string]int
	idx   index
}

// NewCache makes an empty cache of the given size.
func NewCache(size int) *Cache {
	return &Cache{items: map[string]int{}, size: size, stats: map[string]int{}, idx: index{byLen: map[int]int{}}}
}

// Add stores k with the lock held, through the helpers.
func (c *Cache) Add(k string, v int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setWithoutLock(k, v)
	c.idx.add(len(k))
	if len(c.order) > c.size {
		c.removeOldestEntry()
	}
}

// setWithoutLock stores k; the caller holds c.mu.
func (c *Cache) setWithoutLock(k string, v int) {
	if _, ok := c.items[k]; !ok {
		c.order = append(c.order, k)
	}
	c.items[k] = v // lockscope:helper-set
}

// removeOldestEntry evicts the oldest key. Has to be called with lock!
func (c *Cache) removeOldestEntry() {
	if len(c.order) == 0 {
		return
	}
	oldest := c.order[0]
	c.order = c.order[1:]
	c.deleteLocked(oldest)
}

// deleteLocked removes k; the caller holds c.mu (two calls up, in Add).
func (c *Cache) deleteLocked(k string) {
	delete(c.items, k) // lockscope:helper-delete
}

// Shrink evicts n entries under the lock, through a recursive helper.
func (c *Cache) Shrink(n int) {
	c.mu.Lock()
	c.evictN(n)
	c.mu.Unlock()
}

// evictN evicts n entries, one per call. Has to be called with lock!
func (c *Cache) evictN(n int) {
	if n == 0 || len(c.order) == 0 {
		return
	}
	c.removeOldestEntry()
	c.stats["evicted"]++ // lockscope:helper-recursive
	c.evictN(n - 1)
}

// Get reads k and counts the hit under the lock.
func (c *Cache) Get(k string) (int, bool) {
	c.mu.Lock()
	v, ok := c.items[k]
	c.bump(k)
	if len(c.stats) > 1000 {
		resetStats(c)
	}
	c.mu.Unlock()
	return v, ok
}

// Touch counts a hit without reading, and forgets the lock: the bug.
func (c *Cache) Touch(k string) {
	c.bump(k) // lockscope:touch-call
}

// String describes the cache for fmt, which calls it through the
// fmt.Stringer interface: code the index does not see, holding no lock.
func (c *Cache) String() string {
	c.bump("described") // lockscope:string-call
	return fmt.Sprintf("cache of %d", c.size)
}

// hooks are run by name, from a table: whoever runs them holds no lock.
var hooks = map[string]func(*Cache){"reset": resetStats}

// resetStats clears the counters; Get calls it with the lock held, and the
// hooks table lets anyone call it without.
func resetStats(c *Cache) {
	c.stats["resets"]++ // lockscope:hook-write
}

// bump counts a hit of k. Has to be called with lock!
func (c *Cache) bump(k string) {
	c.stats[k]++ // lockscope:helper-sometimes
}

// Flush empties the cache; it unlocks in the middle, as a slow flush
// does, and writes after taking the lock again.
func (c *Cache) Flush() {
	c.mu.Lock()
	c.flushLocked()
	c.mu.Unlock()
}

// flushLocked is called with c.mu held and gives it up around the slow
// part: the write after the Unlock is unguarded, the one after the
// Lock again is guarded.
func (c *Cache) flushLocked() {
	n := len(c.items)
	c.mu.Unlock()
	time.Sleep(time.Millisecond)
	c.stats["flushing"] = n // lockscope:flush-unlocked
	c.mu.Lock()
	clear(c.items) // lockscope:flush-relocked
	c.order = c.order[:0]
}

// MergeFrom copies o's entries into c. It holds c.mu, not o.mu, while it
// writes o's map through the helper.
func (c *Cache) MergeFrom(o *Cache) {
	c.mu.Lock()
	o.stampLocked("merged") // lockscope:merge-call
	c.mu.Unlock()
}

// stampLocked marks the cache; the caller holds c.mu.
func (c *Cache) stampLocked(tag string) {
	c.stats[tag] = 1 // lockscope:stamp-write
}

func main() {
	d := flag.Duration("d", time.Second, "how long to run")
	flag.Parse()
	c, other := NewCache(16), NewCache(16)
	stop := make(chan struct{})
	time.AfterFunc(*d, func() { close(stop) })
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("k%d", (i*3+w)%40)
				c.Add(k, i)
				c.Get(k)
				if i%100 == 0 {
					c.Shrink(2)
					other.MergeFrom(c)
				}
			}
		}(w)
	}
	wg.Add(1)
	go func() {
		// The buggy callers run rarely, so that the program seldom
		// crashes: the index finds them all the same.
		defer wg.Done()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				c.Touch("k1")
				if i%20 == 0 {
					hooks["reset"](c)
				}
				if i%10 == 0 {
					c.Flush()
				}
			}
		}
	}()
	wg.Wait()
	fmt.Println(c, "entries:", len(c.items))
}
