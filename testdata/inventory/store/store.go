// Package store keeps stock counts in a map inside a struct, guarded by a
// mutex field, and writes it from a method with defer Unlock.
package store

import "sync"

// Store counts items.
type Store struct {
	mu    sync.Mutex
	stock map[string]int
}

// New returns an empty store.
func New() *Store { return &Store{stock: map[string]int{}} }

func spin(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i & 7
	}
	return s
}

// Add adds n items. The map write sits under a deferred Unlock.
func (s *Store) Add(item string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock() // lockscope:store-unlock
	if n == 0 {
		return
	}
	s.stock[item] += n // lockscope:store-write
	spin(20000)
}

// Count returns the count of item.
func (s *Store) Count(item string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stock[item]
}
