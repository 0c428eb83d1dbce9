// Package store keeps balances under one mutex. Its module path,
// "ledgerdemo", has no dot, as internal services' often have not: it is
// the user's code all the same.
package store

import "sync"

// Store is a map of balances under one lock.
type Store struct {
	mu       sync.Mutex
	balances map[string]int
}

// New returns an empty store.
func New() *Store { return &Store{balances: map[string]int{}} }

func work(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i * i
	}
	return s
}

// Deposit adds amount to account, holding the lock while it works.
func (s *Store) Deposit(account string, amount int) {
	s.mu.Lock() // lockscope:store-lock
	s.balances[account] += amount + work(20000)%2
	s.mu.Unlock() // lockscope:store-unlock
}
