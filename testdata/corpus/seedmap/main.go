// Command seedmap is the field guide's minimal reproducer of "fatal
// error: concurrent map writes": ten goroutines write one map with no
// lock. The guide says it crashes "with very high probability"; on a busy
// machine one round can finish first, so the round repeats until the
// runtime kills the program, as it always does in the end.
package main

import "sync"

func main() {
	for round := 0; round < 10000; round++ {
		m := make(map[int]int)
		var wg sync.WaitGroup

		// Ten goroutines write the same map at once.
		for i := 0; i < 10; i++ {
			wg.Add(1)
			go func(id int) {
				defer wg.Done()
				for j := 0; j < 1000; j++ {
					m[id*1000+j] = j // lockscope:seed-map-write
				}
			}(i)
		}
		wg.Wait()
	}
}
