// Command oldmod is a module whose go.mod says go 1.19: the language
// version of its files, which lockscope's agent joins. It contends on one
// lock for a moment and exits.
package main

import (
	"fmt"
	"sync"
)

func main() {
	var mu sync.Mutex
	var wg sync.WaitGroup
	n := 0
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 2000; j++ {
				mu.Lock()
				for k := 0; k < 20000; k++ {
					n += k & 1
				}
				mu.Unlock() // lockscope:oldmod-unlock
			}
		}()
	}
	wg.Wait()
	fmt.Println(n)
}
