package main

import (
	"sync/atomic"
	"testing"
)

// BenchmarkAdd counts events from 8 goroutines per CPU: each op is one Add,
// the work the gate divides the wait by.
func BenchmarkAdd(b *testing.B) {
	s := NewStore()
	var next atomic.Int64
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Add(keys[int(next.Add(1))%len(keys)])
		}
	})
}

func TestCount(t *testing.T) {
	s := NewStore()
	for _, k := range keys[:10] {
		s.Add(k)
		s.Add(k)
	}
	for _, k := range keys[:10] {
		if got := s.Count(k); got != 2 {
			t.Fatalf("Count(%q) = %d, want 2", k, got)
		}
	}
}
