package main

import (
	"sync"
	"time"
)

// Store counts events by key behind one coarse lock, held across a slow
// step (a write to a log, say): every Add, whatever its key, waits for
// every other. fix/store.go.txt is the same Store split into shards, the
// fix that the comparison tests apply.
type Store struct {
	mu     sync.Mutex
	counts map[string]int
}

// NewStore returns an empty store.
func NewStore() *Store { return &Store{counts: map[string]int{}} }

// Add counts one event of key.
func (s *Store) Add(key string) {
	s.mu.Lock() // lockscope:coarse-lock
	s.counts[key]++
	slowStep()
	s.mu.Unlock() // lockscope:coarse-unlock
}

// Count returns the events counted for key.
func (s *Store) Count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[key]
}

// Stats is a counter behind a lock of its own, which the fix leaves as it
// is: only the lines above it move.
type Stats struct {
	mu   sync.Mutex
	hits int
}

// Hold takes the stats lock for d, as a slow report does, and tells ready
// once it holds it.
func (st *Stats) Hold(d time.Duration, ready chan<- struct{}) {
	st.mu.Lock()
	ready <- struct{}{}
	time.Sleep(d)
	st.mu.Unlock() // lockscope:stats-unlock
}

// Tick counts one hit; it waits for a Hold that is under way.
func (st *Stats) Tick() {
	st.mu.Lock() // lockscope:stats-lock
	st.hits++
	st.mu.Unlock()
}
