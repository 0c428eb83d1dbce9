// Command crashread reads a global map in one goroutine while the main
// goroutine writes it with no lock. It dies with "fatal error: concurrent map
// read and map write", raised in the reader. Under -race the detector reports
// the read against a write "by main goroutine" first.
package main

import (
	"flag"
	"fmt"
	"time"
)

var stock = map[int]int{}

func restock(item int) {
	stock[item] = item // lockscope:crashread-write
}

func peek(item int) int {
	return stock[item] // lockscope:crashread-read
}

func main() {
	d := flag.Duration("d", 10*time.Second, "give up after this long")
	flag.Parse()
	go func() {
		sum := 0
		for i := 0; ; i++ {
			sum += peek(i % 64)
		}
	}()
	// The writer is the main goroutine itself, so that race reports name it
	// as "main goroutine" rather than by number.
	deadline := time.Now().Add(*d)
	for i := 0; ; i++ {
		restock(i % 64)
		if i%4096 == 0 && time.Now().After(deadline) {
			break
		}
	}
	fmt.Println("survived")
}
