// Package other holds a package-level map and its lock, written from
// package main.
package other

import "sync"

// Mu guards Shared.
var Mu sync.Mutex

// Shared is written by main under Mu.
var Shared = map[string]int{}

// Put writes Shared under Mu.
func Put(k string) {
	Mu.Lock()
	Shared[k] = 1 // lockscope:other-put
	Mu.Unlock()
}
