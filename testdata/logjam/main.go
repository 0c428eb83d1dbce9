// Command logjam: sixteen goroutines log through one log.Logger to a slow
// writer. The lock they queue on is the Logger's own, inside the standard
// library (log.(*Logger).output); the line a person can change is the
// Printf call below. With -trace it writes an execution trace of its run.
package main

import (
	"flag"
	"log"
	"os"
	"runtime/trace"
	"sync"
	"time"
)

// slowWriter stands for a log sink on a slow disk or a full pipe: the
// Logger holds its lock for the whole write.
type slowWriter struct{}

func (slowWriter) Write(p []byte) (int, error) {
	deadline := time.Now().Add(100 * time.Microsecond)
	for time.Now().Before(deadline) {
	}
	return len(p), nil
}

func record(l *log.Logger, worker, i int) {
	l.Printf("worker %d: request %d done", worker, i) // lockscope:log-call
}

func main() {
	d := flag.Duration("d", 500*time.Millisecond, "how long to run")
	out := flag.String("trace", "", "write an execution trace here")
	flag.Parse()
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			panic(err)
		}
		if err := trace.Start(f); err != nil {
			panic(err)
		}
		defer f.Close()
		defer trace.Stop()
	}
	logger := log.New(slowWriter{}, "", 0)
	stop := time.Now().Add(*d)
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				record(logger, w, i)
			}
		}()
	}
	wg.Wait()
}
