// Command timer looks dead for a while: its only goroutine waits in a
// select whose one way out is a timer, which a goroutine dump does not
// show. Then it wakes, collects garbage, sleeps (alive, so lockscope's
// agent may come back) and ends.
package main

import (
	"fmt"
	"runtime"
	"time"
)

func main() {
	never := make(chan int)
	select {
	case <-never:
	case <-time.After(1500 * time.Millisecond):
	}
	runtime.GC()
	time.Sleep(3 * time.Second)
	fmt.Println("woke")
}
