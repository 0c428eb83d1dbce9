// Command oldservice is a module whose go.mod says go 1.19: a service
// that serves net/http/pprof on the -listen address and holds a lock that
// its workers queue on, for ever. With a toolchain too old for lockscope's
// agent, a debug session still reads its profiles through pprofURL.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"sync"
	"time"
)

var mu sync.Mutex

// work holds the lock while it sleeps, so that the other workers park on
// it: Go 1.19's mutex profile records only a wait that parked.
func work() {
	mu.Lock()
	time.Sleep(200 * time.Microsecond)
	mu.Unlock() // lockscope:oldservice-unlock
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "serve net/http/pprof on this address")
	flag.Parse()
	// A service that wants these profiles turns them on itself.
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for w := 0; w < 4; w++ {
		go func() {
			for {
				work()
			}
		}()
	}
	fmt.Fprintln(os.Stderr, http.Serve(ln, nil))
	os.Exit(1)
}
