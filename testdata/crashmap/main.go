// Command crashmap writes a global map from two functions with no lock. It
// dies with "fatal error: concurrent map writes".
package main

import (
	"flag"
	"fmt"
	"time"
)

var hits = map[string]int{}

func hit(page string) {
	hits[page]++ // lockscope:crash-hit
}

func resetPage(page string) {
	hits[page] = 0 // lockscope:crash-reset
}

func main() {
	d := flag.Duration("d", 10*time.Second, "give up after this long")
	flag.Parse()
	pages := []string{"/", "/a", "/b", "/c"}
	go func() {
		for i := 0; ; i++ {
			resetPage(pages[i%len(pages)])
		}
	}()
	go func() {
		for i := 0; ; i++ {
			hit(pages[i%len(pages)])
		}
	}()
	time.Sleep(*d)
	fmt.Println("survived")
}
