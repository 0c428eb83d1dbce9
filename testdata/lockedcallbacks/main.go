// Command lockedcallbacks is a sharded cache whose map writes sit in
// functions passed as values to a call that runs them then and there,
// with a lock held, in the shapes real caches use: a method value handed
// to an eviction check that the caller runs under its shard lock (as
// bigcache's onEvict(..., s.removeOldestEntry)), a function literal given
// to a helper that takes the lock around it, and a named function run
// under a package-level lock, also when the helper passes the callback on
// to another that runs it. Next to them, the shapes where the value does
// not run under the lock: kept in a struct field and called later, started
// with go, called after the helper gives the lock up (unless it takes it
// again first) or passes it on to one that does, called once with the lock
// and once without, and the method value of another shard than the one
// whose lock is held; and a recursive helper that passes the callback to
// itself, which the index does not follow. Run long enough, the unguarded
// ones die of "concurrent map writes": the bugs the index points at.
package main

import (
	"flag"
	"fmt"
	"sync"
	"time"
)

// Shard is one shard of the cache; mu guards every field below it.
type Shard struct {
	mu        sync.Mutex
	entries   map[uint64]int64 // key -> the time it was stored
	order     []uint64
	max       int
	counts    map[string]int
	hooked    map[string]int
	refreshed map[string]int
	drained   map[string]int
	peeked    map[string]int
	tallies   map[string]int
	forgotten map[string]int
	notes     map[string]int
	yields    map[string]int
	spins     map[string]int
	hook      func()
}

// NewShard makes an empty shard of at most max entries.
func NewShard(max int) *Shard {
	return &Shard{
		entries: map[uint64]int64{}, max: max, counts: map[string]int{},
		hooked: map[string]int{}, refreshed: map[string]int{}, drained: map[string]int{},
		peeked: map[string]int{}, tallies: map[string]int{}, forgotten: map[string]int{},
		notes: map[string]int{}, yields: map[string]int{}, spins: map[string]int{},
	}
}

// Set stores k under the lock, evicting the oldest entry first if it has
// expired or the shard is full: removeOldest runs inside onEvict, with
// s.mu held.
func (s *Shard) Set(k uint64, now int64) {
	s.mu.Lock()
	s.onEvict(now, s.removeOldest) // lockscope:evict-from-set
	s.entries[k] = now
	s.order = append(s.order, k)
	s.mu.Unlock()
}

// Sweep evicts every expired entry under the lock, as a janitor
// goroutine does.
func (s *Shard) Sweep(now int64) {
	s.mu.Lock()
	for s.onEvict(now, s.removeOldest) { // lockscope:evict-from-sweep
	}
	s.mu.Unlock()
}

// onEvict calls evict when the oldest entry has expired or the shard is
// full; the caller holds s.mu. evict is only ever called here.
func (s *Shard) onEvict(now int64, evict func(reason string) bool) bool {
	if len(s.order) == 0 {
		return false
	}
	if now-s.entries[s.order[0]] > 10 {
		return evict("expired")
	}
	if len(s.order) > s.max {
		return evict("full")
	}
	return false
}

// removeOldest drops the oldest entry. It is only ever passed to onEvict.
func (s *Shard) removeOldest(reason string) bool {
	k := s.order[0]
	s.order = s.order[1:]
	delete(s.entries, k)  // lockscope:evict-delete
	s.counts["evicted"]++ // lockscope:evict-count
	s.counts[reason] += 1 // lockscope:evict-reason
	return true
}

// locked runs f with s.mu held, if there is an f.
func (s *Shard) locked(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f != nil {
		f() // lockscope:locked-call
	}
}

// Count counts k under the lock, through locked.
func (s *Shard) Count(k string) {
	s.locked(func() {
		s.counts[k]++ // lockscope:literal-write
	})
}

// totals are counted across shards; totalsMu guards them.
var (
	totalsMu sync.Mutex
	totals   = map[string]int{}
)

// withTotals runs f with totalsMu held.
func withTotals(f func(string)) {
	totalsMu.Lock()
	f("hits") // lockscope:totals-call
	totalsMu.Unlock()
}

// addHit is only ever run by withTotals.
func addHit(k string) {
	totals[k]++ // lockscope:named-write
}

// Arm installs onHook as the shard's hook, under the lock, and runs it
// once there; the hook is kept in a field and Fire calls it later, with
// no lock held.
func (s *Shard) Arm() {
	s.mu.Lock()
	s.setHook(s.onHook) // lockscope:stored-value
	s.onHook()
	s.mu.Unlock()
}

// setHook keeps f for later.
func (s *Shard) setHook(f func()) { s.hook = f }

// Fire runs the hook, if one is set.
func (s *Shard) Fire() {
	s.mu.Lock()
	h := s.hook
	s.mu.Unlock()
	if h != nil {
		h()
	}
}

// onHook counts a firing.
func (s *Shard) onHook() {
	s.hooked["fired"]++ // lockscope:stored-write
}

// Refresh refreshes under the lock, and asks for one more: background
// runs it in a goroutine of its own, which holds nothing.
func (s *Shard) Refresh() {
	s.mu.Lock()
	s.refresh()
	s.background(s.refresh) // lockscope:go-value
	s.mu.Unlock()
}

// background starts f.
func (s *Shard) background(f func()) { go f() }

// refresh counts a refresh.
func (s *Shard) refresh() {
	s.refreshed["count"]++ // lockscope:go-write
}

// Drain is called with nothing held; it takes the lock, and unlockThen
// gives it up before it runs the callback.
func (s *Shard) Drain() {
	s.mu.Lock()
	s.unlockThen(s.drain)
	s.mu.Unlock()
}

// unlockThen runs f with s.mu released; the caller holds s.mu.
func (s *Shard) unlockThen(f func()) {
	s.mu.Unlock()
	f()
	s.mu.Lock()
}

// drain counts a drain.
func (s *Shard) drain() {
	s.drained["count"]++ // lockscope:after-unlock-write
}

// Compact is called with nothing held; relockThen gives the lock up for
// the slow part and takes it again before it runs the callback.
func (s *Shard) Compact() {
	s.mu.Lock()
	s.relockThen(s.compact)
	s.mu.Unlock()
}

// relockThen runs f with s.mu held, after a pause without it; the caller
// holds s.mu.
func (s *Shard) relockThen(f func()) {
	s.mu.Unlock()
	time.Sleep(time.Microsecond)
	s.mu.Lock()
	f() // lockscope:relock-call
}

// compact counts a compaction.
func (s *Shard) compact() {
	s.counts["compacted"]++ // lockscope:relocked-write
}

// Peek counts a peek; peekThen reads the size under the lock and runs
// the callback after releasing it.
func (s *Shard) Peek() {
	s.peekThen(func() {
		s.peeked["count"]++ // lockscope:after-own-unlock-write
	})
}

// peekThen runs f, after the lock is released, when the shard is not
// empty.
func (s *Shard) peekThen(f func()) {
	s.mu.Lock()
	n := len(s.order)
	s.mu.Unlock()
	if n > 0 {
		f()
	}
}

// Tally runs tally twice through both: once with the lock, once without.
func (s *Shard) Tally() { s.both(s.tally) }

// both runs f under the lock, then again after releasing it.
func (s *Shard) both(f func()) {
	s.mu.Lock()
	f()
	s.mu.Unlock()
	f()
}

// tally counts a tally.
func (s *Shard) tally() {
	s.tallies["count"]++ // lockscope:twice-write
}

// Note counts k through each, which passes the callback on to locked.
func (s *Shard) Note(k string) {
	s.each(func() {
		s.notes[k]++ // lockscope:passed-on-write
	})
}

// each runs f with s.mu held, by handing it to locked.
func (s *Shard) each(f func()) { s.locked(f) }

// Stamp runs stamp through under, which holds s.mu while visit runs it.
func (s *Shard) Stamp() { s.under(s.stamp) }

// under runs f through visit with s.mu held.
func (s *Shard) under(f func()) {
	s.mu.Lock()
	s.visit(f) // lockscope:under-call
	s.mu.Unlock()
}

// stamp counts a stamp.
func (s *Shard) stamp() {
	s.notes["stamped"]++ // lockscope:held-at-pass-write
}

// Yield runs yielded through lockThenYield, which takes s.mu and hands the
// callback to unlockThen: that releases the lock before it runs it.
func (s *Shard) Yield() { s.lockThenYield(s.yielded) }

// lockThenYield runs f through unlockThen, from under s.mu.
func (s *Shard) lockThenYield(f func()) {
	s.mu.Lock()
	s.unlockThen(f)
	s.mu.Unlock()
}

// yielded counts a yield.
func (s *Shard) yielded() {
	s.yields["count"]++ // lockscope:released-by-next-write
}

// Hand is called with nothing held; it takes the lock, and handOff gives
// it up before it passes the callback on to visit.
func (s *Shard) Hand() {
	s.mu.Lock()
	s.handOff(s.handed)
	s.mu.Unlock()
}

// handOff runs f through visit with s.mu released; the caller holds s.mu.
func (s *Shard) handOff(f func()) {
	s.mu.Unlock()
	s.visit(f)
	s.mu.Lock()
}

// handed counts a hand-off.
func (s *Shard) handed() {
	s.yields["handed"]++ // lockscope:released-before-pass-write
}

// Spin runs spun under the lock through a recursive helper: the index
// does not follow a cycle of passes, so spun is entered as a value is.
func (s *Shard) Spin() {
	s.mu.Lock()
	s.spin(3, s.spun)
	s.mu.Unlock()
}

// spin runs f after n more passes to itself.
func (s *Shard) spin(n int, f func()) {
	if n == 0 {
		f()
		return
	}
	s.spin(n-1, f)
}

// spun counts a spin.
func (s *Shard) spun() {
	s.spins["count"]++ // lockscope:cycle-write
}

// MergeInto holds s.mu while it runs o's forget through visit: the lock
// of another shard than the one forget writes.
func (s *Shard) MergeInto(o *Shard) {
	s.mu.Lock()
	s.visit(o.forget)
	s.mu.Unlock()
}

// visit runs f.
func (s *Shard) visit(f func()) { f() }

// forget counts a merge on the receiver's own map.
func (s *Shard) forget() {
	s.forgotten["merged"]++ // lockscope:other-shard-write
}

func main() {
	d := flag.Duration("d", time.Second, "how long to run")
	flag.Parse()
	a, b := NewShard(32), NewShard(32)
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
				now := int64(i)
				a.Set(uint64(i*4+w), now)
				a.Count(fmt.Sprint("k", i%8))
				withTotals(addHit)
				if i%50 == 0 {
					a.Sweep(now)
				}
			}
		}(w)
	}
	wg.Add(1)
	go func() {
		// The buggy callers run rarely, so that the program seldom
		// crashes: the index finds them all the same.
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			a.Arm()
			a.Fire()
			a.Refresh()
			a.Drain()
			a.Compact()
			a.Peek()
			a.Tally()
			a.Note(fmt.Sprint("n", i%4))
			a.Stamp()
			a.Yield()
			a.Hand()
			a.Spin()
			b.MergeInto(a)
		}
	}()
	wg.Wait()
	fmt.Println("entries:", len(a.entries), "totals:", totals["hits"])
}
