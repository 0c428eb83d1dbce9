// Command service is a small HTTP service that serves net/http/pprof, as
// many real services do, and has a contended lock in its request path. It
// writes its pprof address to the file named by -addr-file.
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

var (
	mu     sync.Mutex
	counts = map[string]int{}
)

func spin(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i % 7
	}
	return s
}

func record(path string) {
	mu.Lock()
	counts[path]++ // lockscope:service-write
	spin(20000)
	mu.Unlock() // lockscope:service-unlock
}

func main() {
	addrFile := flag.String("addr-file", "", "write the pprof address here")
	flag.Parse()
	// A service that wants these profiles turns them on itself.
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go func() { _ = http.Serve(ln, nil) }()
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(ln.Addr().String()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	for w := 0; w < 6; w++ {
		go func(w int) {
			for i := 0; ; i++ {
				record(fmt.Sprintf("/page/%d", i%4))
			}
		}(w)
	}
	for {
		time.Sleep(time.Hour)
	}
}
