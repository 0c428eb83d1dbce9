// Command basic is the debugging fixture: locals to inspect, a call to step
// into, goroutines to list, and output that looks like DAP framing.
package main

import (
	"flag"
	"fmt"
	"os"
	"sync"
	"time"
)

type point struct {
	X, Y int
}

func add(a, b int) int {
	sum := a + b // lockscope:add-body
	return sum
}

func compute(n int) int {
	total := 0
	for i := 0; i < n; i++ {
		total = add(total, i) // lockscope:compute-loop
	}
	return total // lockscope:compute-return
}

func worker(id int, start <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	<-start // lockscope:worker-wait
	_ = id
}

func main() {
	wait := flag.Duration("wait", 0, "sleep this long before exiting")
	flag.Parse()
	// Output that looks like a DAP header must never disturb the session.
	fmt.Fprint(os.Stdout, "Content-Length: 99999999\r\n\r\n")
	p := point{X: 3, Y: 4}
	name := "lockscope"
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go worker(i, start, &wg)
	}
	time.Sleep(50 * time.Millisecond)
	r := compute(5)               // lockscope:main-compute
	fmt.Println(name, p.X+p.Y, r) // lockscope:main-print
	close(start)
	wg.Wait()
	if *wait > 0 {
		time.Sleep(*wait)
	}
	fmt.Println("bye")
}
