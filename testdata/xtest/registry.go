// Package xtest is a registry with an external test package (package
// xtest_test in registry_test.go), the shape whose indexing in test mode
// once produced a bogus "no required module provides package" note.
package xtest

import "sync"

var (
	mu    sync.Mutex
	names = map[string]int{}
)

// Register records a name under the registry's lock.
func Register(name string) {
	mu.Lock()
	names[name]++ // lockscope:xtest-write
	mu.Unlock()
}
