// Command fieldcallbacks calls functions through function-typed struct
// fields, set when a value is made, the way caches call their eviction
// and removal hooks (bigcache's shard calls s.onRemove under its lock):
// a method value of the shard itself, a literal handed down through a
// variable and a constructor's parameter, a named function, and the
// method value of another value (the cache that owns all the shards).
// Next to them, fields the index cannot see all the values of: an
// exported one, one also read as a value and started with go, and one
// set from a parameter of an exported function.
package main

import (
	"fmt"
	"sync"
	"time"
)

var (
	totalsMu sync.Mutex
	totals   = map[string]int{}
	// removed counts removals across all the shards, which each hold only
	// their own lock when they call the cache's noteRemoved.
	removed = map[string]int{}
)

// shard is one shard of a cache; mu guards its maps.
type shard struct {
	mu      sync.Mutex
	items   map[string]int
	evicted map[string]int
	// onEvict is s.evictOldest, set on the shard itself.
	onEvict func()
	// onRemove is a literal handed down through a variable and a
	// parameter; onDrop, the cache's method value.
	onRemove func(key string)
	onDrop   func(key string)
	// count is a named function.
	count func(key string)
	// spill is also started with go: it runs where the index does not
	// follow it.
	spill func(key string)
	// audit is set from a parameter of an exported function.
	audit func(key string)
	// OnFull is exported: another package may set it.
	OnFull func()
}

// cache owns the shards.
type cache struct {
	shards []*shard
}

// countKey counts a key under totalsMu, which its callers hold.
func countKey(key string) {
	totals["count:"+key]++ // lockscope:named-guarded
}

// newShard makes a shard that calls onRemove and onDrop for each key it
// drops.
func newShard(onRemove, onDrop func(string)) *shard {
	s := &shard{items: map[string]int{}, evicted: map[string]int{}, onRemove: onRemove, onDrop: onDrop, count: countKey,
		spill: func(key string) {
			totals["spill:"+key]++ // lockscope:spill-unguarded
		},
		OnFull: func() {
			totals["full"]++ // lockscope:exported-unguarded
		},
	}
	s.onEvict = s.evictOldest
	return s
}

// SetAudit sets the audit hook: exported, so any caller may pass any
// function.
func (s *shard) SetAudit(audit func(string)) { s.audit = audit }

// evictOldest runs through s.onEvict, with s.mu held.
func (s *shard) evictOldest() {
	for k := range s.items {
		delete(s.items, k) // lockscope:self-guarded
		s.evicted[k]++
		return
	}
}

// noteRemoved is the cache's method value that every shard calls under
// its own lock: two shards may run it at once.
func (c *cache) noteRemoved(key string) {
	removed[key]++ // lockscope:other-value-unguarded
	_ = c
}

// Set stores a key, evicting first when the shard is full.
func (s *shard) Set(key string, v int) {
	s.mu.Lock()
	if len(s.items) >= 4 {
		s.onEvict()
	}
	s.items[key] = v
	s.mu.Unlock()
}

// Delete drops a key and tells the cache, under the shard's lock only.
func (s *shard) Delete(key string) {
	s.mu.Lock()
	delete(s.items, key)
	s.onDrop(key)
	s.mu.Unlock()
}

// Remove drops a key and tells the hooks, under totalsMu too.
func (s *shard) Remove(key string) {
	totalsMu.Lock()
	s.mu.Lock()
	delete(s.items, key)
	if s.onRemove != nil {
		s.onRemove(key)
	}
	s.count(key)
	s.spill(key)
	if s.audit != nil {
		s.audit(key)
	}
	s.OnFull()
	s.mu.Unlock()
	totalsMu.Unlock()
	go s.spill(key)
}

func main() {
	c := &cache{}
	var onRemove func(string)
	if len(c.shards) == 0 {
		onRemove = func(key string) {
			totals["removed:"+key]++ // lockscope:literal-guarded
		}
	}
	for range 2 {
		c.shards = append(c.shards, newShard(onRemove, c.noteRemoved))
	}
	c.shards[0].SetAudit(func(key string) {
		totals["audit:"+key]++ // lockscope:audit-unguarded
	})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := c.shards[i%len(c.shards)]
			k := fmt.Sprint(i)
			s.Set(k, i)
			s.Delete(k)
			s.Remove(k)
		}()
	}
	wg.Wait()
	time.Sleep(10 * time.Millisecond)
}
