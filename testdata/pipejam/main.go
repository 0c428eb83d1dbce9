// Command pipejam: writers share one io.Pipe, whose write holds the pipe's
// mutex while it waits on a channel for the reader. The first writer waits
// on that channel (the reader starts late); every writer after it waits on
// the mutex, from the same line. The line is a lock's: its first wait, on
// the channel, must not name it. With -trace it writes an execution trace
// of its run.
package main

import (
	"flag"
	"io"
	"os"
	"runtime/trace"
	"sync"
	"time"
)

func send(w io.Writer, b []byte) {
	w.Write(b) // lockscope:pipe-write
}

func main() {
	d := flag.Duration("d", 300*time.Millisecond, "how long the writers run")
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
	pr, pw := io.Pipe()
	stop := time.Now().Add(*d)
	var wg sync.WaitGroup
	writer := func() {
		defer wg.Done()
		b := make([]byte, 64)
		for time.Now().Before(stop) {
			send(pw, b)
		}
	}
	// One writer first: with no reader yet, it waits on the pipe's channel
	// while it holds the pipe's mutex.
	wg.Add(1)
	go writer()
	time.Sleep(20 * time.Millisecond)
	for range 7 {
		wg.Add(1)
		go writer()
	}
	time.Sleep(20 * time.Millisecond)
	done := make(chan struct{})
	go func() {
		// A slow reader: the writers queue on the mutex.
		b := make([]byte, 64)
		for {
			if _, err := pr.Read(b); err != nil {
				close(done)
				return
			}
			time.Sleep(20 * time.Microsecond)
		}
	}()
	wg.Wait()
	pw.Close()
	<-done
}
