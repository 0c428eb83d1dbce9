// Package broken does not type-check: the index must still find the writes
// it can and say what it could not.
package broken

import "sync"

var (
	mu sync.Mutex
	m  = map[string]int{}
)

func good(k string) {
	mu.Lock()
	m[k] = 1 // lockscope:broken-good
	mu.Unlock()
}

func bad(k string) {
	undefinedMap[k] = 2 // lockscope:broken-undefined
	m[k] = notAnInt     // lockscope:broken-badvalue
}
