package graph

import (
	"bytes"
	"os"
	"sync"
)

// FileLines returns a [Lines] that reads files from disk, each at most once.
// mapPath, when not nil, maps a report path to the file to read (a report
// made on another machine names that machine's paths).
func FileLines(mapPath func(string) string) Lines {
	var mu sync.Mutex
	cache := map[string][][]byte{}
	return func(file string, line int) (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		ls, ok := cache[file]
		if !ok {
			p := file
			if mapPath != nil {
				p = mapPath(file)
			}
			// An unreadable file leaves its nodes unnamed; the graph is
			// still drawn.
			if data, err := os.ReadFile(p); err == nil {
				ls = bytes.Split(data, []byte("\n"))
			}
			cache[file] = ls
		}
		if line < 1 || line > len(ls) {
			return "", false
		}
		return string(ls[line-1]), true
	}
}
