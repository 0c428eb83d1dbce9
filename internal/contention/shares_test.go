package contention

import (
	"math"
	"testing"
)

// A lock hotspot's share is its part of the lock wait time of its kind:
// the WaitGroup and channel waits in the same block profile do not dilute
// it (the only lock line of a program once read 6.8%).
func TestSharesCountLockWaitsApart(t *testing.T) {
	hs := []Hotspot{
		{Kind: KindBlock, Lock: true, DelayNs: 300},
		{Kind: KindBlock, Lock: true, DelayNs: 100},
		{Kind: KindBlock, Lock: false, DelayNs: 9600}, // a WaitGroup.Wait
		{Kind: KindMutex, Lock: true, DelayNs: 50},
	}
	ComputeShares(hs)
	for i, want := range []float64{0.75, 0.25, 1, 1} {
		if math.Abs(hs[i].Share-want) > 1e-9 {
			t.Errorf("hotspot %d: share %v, want %v", i, hs[i].Share, want)
		}
	}
}
