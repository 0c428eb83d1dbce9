// Command crashonce dies of "fatal error: concurrent map writes" the first
// time it runs; run again (its -marker file exists by then) it prints
// "second run" and exits. The crash restart test uses it: on the first run
// the runtime's crash always wins, and the restarted program's output must
// still reach the client.
package main

import (
	"flag"
	"fmt"
	"os"
)

var hits = map[int]int{}

func write(i int) {
	hits[i%4]++ // lockscope:crashonce-write
}

// spare never runs; it carries the test's second-writer breakpoint, whose
// presence makes the session restart the program after a map crash.
func spare() {
	hits[99] = 0 // lockscope:crashonce-spare
}

func main() {
	marker := flag.String("marker", "", "a file that says the program ran before")
	flag.Parse()
	if _, err := os.Stat(*marker); err == nil {
		fmt.Println("second run")
		return
	}
	if err := os.WriteFile(*marker, nil, 0o600); err != nil {
		panic(err)
	}
	if len(os.Args) > 99 {
		spare()
	}
	for w := 0; w < 2; w++ {
		go func() {
			for i := 0; ; i++ {
				write(i)
			}
		}()
	}
	select {}
}
