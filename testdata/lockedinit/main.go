// Command lockedinit takes or gives up a lock in the init statement of an
// if or a for, and calls a helper that writes a map in the condition: the
// condition runs after the init, so the helper runs with the lock state
// the init leaves.
package main

import (
	"fmt"
	"sync"
)

// Set is a set of names; mu guards seen.
type Set struct {
	mu   sync.Mutex
	seen map[string]bool
}

// Reserve takes the lock in the if's init, then reserves k in its
// condition: reserveLocked runs under s.mu.
func (s *Set) Reserve(k string) bool {
	if s.mu.Lock(); s.reserveLocked(k) {
		s.mu.Unlock()
		return true
	}
	s.mu.Unlock()
	return false
}

// Fill takes the lock in the for's init, and fills in its condition.
func (s *Set) Fill(keys []string) {
	for s.mu.Lock(); s.fillLocked(keys); {
		keys = keys[1:]
	}
	s.mu.Unlock()
}

// reserveLocked marks k seen; the caller holds s.mu.
func (s *Set) reserveLocked(k string) bool {
	if s.seen[k] {
		return false
	}
	s.seen[k] = true // lockscope:reserve-write
	return true
}

// fillLocked marks the first key seen; the caller holds s.mu.
func (s *Set) fillLocked(keys []string) bool {
	if len(keys) == 0 {
		return false
	}
	s.seen[keys[0]] = true // lockscope:fill-write
	return true
}

// Release gives the lock up in the if's init, then forgets k in the
// condition: forget runs with nothing held.
func (s *Set) Release(k string) {
	s.mu.Lock()
	if s.mu.Unlock(); s.forget(k) {
		fmt.Println("forgot", k)
	}
}

// forget deletes k; its one caller has just given the lock up: the bug.
func (s *Set) forget(k string) bool {
	delete(s.seen, k) // lockscope:forget-write
	return true
}

func main() {
	s := &Set{seen: map[string]bool{}}
	var wg sync.WaitGroup
	for i := range 4 {
		// wg.Go starts the goroutine, with no go statement in sight: its
		// literal is a goroutine all the same, so forget's write is shared.
		wg.Go(func() {
			k := fmt.Sprint("k", i)
			s.Reserve(k)
			s.Fill([]string{k + "b", k + "c"})
			s.Release(k)
		})
	}
	wg.Wait()
	fmt.Println(len(s.seen))
}
