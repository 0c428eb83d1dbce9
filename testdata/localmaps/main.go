// Command localmaps tallies words under one hot lock, with maps of every
// kind inside the critical section: maps the function makes for itself and
// keeps (no other goroutine can reach them, whatever lock is held), and
// maps that are made locally but then leave the function — returned,
// stored in a field, handed to a goroutine or a function, captured by a
// closure — or that alias a shared map.
package main

import (
	"flag"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Service keeps word totals; mu guards totals and last.
type Service struct {
	mu     sync.Mutex
	totals map[string]int
	last   map[string]int
	sink   chan map[string]int
}

// Tally adds the words of one line to the totals.
func (s *Service) Tally(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := make(map[string]int)
	for _, w := range strings.Fields(line) {
		counts[w]++ // lockscope:local-count
	}
	var seen map[string]bool
	seen = map[string]bool{}
	for w, n := range counts {
		s.totals[w] += n // lockscope:shared-total
		seen[w] = true   // lockscope:local-seen
	}
	if len(seen) > 100 {
		clear(counts) // lockscope:local-clear
	}
}

// Snapshot returns a copy of the totals: the copy leaves by return.
func (s *Service) Snapshot() map[string]int {
	out := map[string]int{}
	s.mu.Lock()
	for w, n := range s.totals {
		out[w] = n // lockscope:returned
	}
	s.mu.Unlock()
	return out
}

// Remember keeps the words of a line as the last one: stored in a field.
func (s *Service) Remember(line string) {
	m := make(map[string]int)
	for _, w := range strings.Fields(line) {
		m[w]++ // lockscope:stored
	}
	s.mu.Lock()
	s.last = m
	s.mu.Unlock()
}

// Bump writes the totals through a local name: an alias, not a new map.
func (s *Service) Bump(w string) {
	s.mu.Lock()
	m := s.totals
	m[w]++ // lockscope:alias
	s.mu.Unlock()
}

// Publish hands a new map to another goroutine.
func (s *Service) Publish(w string) {
	m := map[string]int{}
	m[w] = 1 // lockscope:to-goroutine
	go func(m map[string]int) { s.sink <- m }(m)
}

// Send hands a new map over a channel.
func (s *Service) Send(w string) {
	m := map[string]int{}
	m[w] = 1 // lockscope:sent
	s.sink <- m
}

// Fill passes a new map to a function, which may keep it.
func (s *Service) Fill(w string) {
	m := map[string]int{}
	m[w] = 1 // lockscope:passed
	s.keep(m)
}

func (s *Service) keep(m map[string]int) {
	s.mu.Lock()
	s.last = m
	s.mu.Unlock()
}

// Later captures a new map in a closure, which may run anywhere.
func (s *Service) Later(w string) func() int {
	m := map[string]int{}
	m[w] = 1 // lockscope:captured
	return func() int { return len(m) }
}

func main() {
	d := flag.Duration("d", time.Second, "how long to run")
	flag.Parse()
	s := &Service{totals: map[string]int{}, sink: make(chan map[string]int, 1)}
	go func() {
		for range s.sink {
		}
	}()
	stop := make(chan struct{})
	time.AfterFunc(*d, func() { close(stop) })
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s.Tally(fmt.Sprintf("a b c w%d", i%50))
				if i%100 == 0 {
					s.Snapshot()
					s.Remember("x y")
					s.Bump("z")
					s.Publish("p")
					s.Send("q")
					s.Fill("r")
					s.Later("l")()
				}
			}
		}(w)
	}
	wg.Wait()
	fmt.Println("words:", len(s.Snapshot()))
}
