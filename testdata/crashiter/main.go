// Command crashiter ranges over a global map in one goroutine while another
// writes it with no lock. It dies with "fatal error: concurrent map iteration
// and map write", raised in the iterating goroutine.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"time"
)

var scores = map[string]int{}

func bump(name string) {
	scores[name]++ // lockscope:crashiter-write
}

func total() int {
	sum := 0
	for _, v := range scores { // lockscope:crashiter-range
		sum += v
	}
	return sum
}

func main() {
	d := flag.Duration("d", 10*time.Second, "give up after this long")
	flag.Parse()
	names := []string{"ada", "bob", "cy", "dee", "eve", "fay", "gus", "hal", "ivy", "jo"}
	go func() {
		for i := 0; ; i++ {
			bump(names[i%len(names)])
		}
	}()
	go func() {
		// Locking the reader to its thread makes the dump say "[running,
		// locked to thread]", a header variant the parser must read.
		runtime.LockOSThread()
		for {
			_ = total()
		}
	}()
	time.Sleep(*d)
	fmt.Println("survived")
}
