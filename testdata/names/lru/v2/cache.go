// Package lru is a fixture for the names lockscope prints: its import path
// ends in /v2, and its cache is generic.
package lru

import "sync"

// Cache is a generic cache behind one lock.
type Cache[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]V
}

// Get reads under the lock.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

// Keys is a generic function.
func Keys[M ~map[K]V, K comparable, V any](m M) []K {
	var ks []K
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
