// Command timer looks dead for a while: its only goroutine waits in a
// select whose one way out is a timer, which a goroutine dump does not
// show. Then it wakes, collects garbage, sleeps (alive, so lockscope's
// agent may come back) and ends; with -exit it ends as soon as it wakes.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"time"
)

func main() {
	exit := flag.Bool("exit", false, "end as soon as the timer fires")
	flag.Parse()
	never := make(chan int)
	select {
	case <-never:
	case <-time.After(1500 * time.Millisecond):
	}
	if *exit {
		fmt.Println("woke")
		return
	}
	runtime.GC()
	time.Sleep(3 * time.Second)
	fmt.Println("woke")
}
