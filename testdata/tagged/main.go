// Command tagged has a map write that only a build with
// -tags lockscope_extra compiles: the source index must be built with the
// build's own flags, or it reports other writes than the program has.
package main

import "sync"

var (
	mu   sync.Mutex
	seen = map[string]int{}
)

func record(k string) {
	mu.Lock()
	seen[k]++ // lockscope:untagged-write
	mu.Unlock()
}

func main() {
	record("a")
	extra()
}
