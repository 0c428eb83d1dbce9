package main

import "testing"

func TestCompute(t *testing.T) {
	got := compute(4) // lockscope:test-compute
	if got != 6 {
		t.Fatalf("compute(4) = %d, want 6", got)
	}
}
