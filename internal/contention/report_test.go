package contention

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
)

// The empty report carries [] for every list: tools outside the project
// read these fields and must never see null.
func TestEmptyReportHasLists(t *testing.T) {
	b, err := json.Marshal(Empty())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"hotspots", "chains", "mapWrites", "breakpoints", "races", "sources"} {
		if !strings.Contains(string(b), `"`+f+`":[]`) {
			t.Errorf("empty report %s: want %q as []", b, f)
		}
	}
	if strings.Contains(string(b), `"crash"`) {
		t.Errorf("empty report %s: want no crash", b)
	}
}

func TestFinalizeSharesAndOrder(t *testing.T) {
	r := &Report{
		Hotspots: []Hotspot{
			{Kind: KindBlock, File: "a.go", Line: 9, DelayNs: 100, Primitive: PrimChan},
			{Kind: KindMutex, File: "a.go", Line: 3, DelayNs: 300, Lock: true, Primitive: PrimMutex},
			{Kind: KindMutex, File: "a.go", Line: 5, DelayNs: 100, Lock: true, Primitive: PrimMutex},
			{Kind: KindBlock, File: "a.go", Line: 2, DelayNs: 50, Lock: true, Primitive: PrimMutex},
		},
		Chains: []Chain{
			{WaitNs: 900, Links: []Link{{Reason: "sync"}}},            // a WaitGroup
			{WaitNs: 10, Lock: true, Links: []Link{{Reason: "sync"}}}, // a lock
			{WaitNs: 5000, Links: []Link{{Reason: "chan receive"}}},   // a channel
			{WaitNs: 20, Lock: true, Links: []Link{{Reason: "sync"}}}, // a bigger lock
		},
	}
	r.Finalize()
	// Shares sum to 1 per kind and side (lock waits, other waits).
	sum := map[string]float64{}
	for _, h := range r.Hotspots {
		if h.Share < 0 || h.Share > 1 {
			t.Errorf("share %v out of range", h.Share)
		}
		sum[h.Kind+fmt.Sprint(h.Lock)] += h.Share
	}
	for k, s := range sum {
		if math.Abs(s-1) > 1e-9 {
			t.Errorf("shares of %s sum to %v, want 1", k, s)
		}
	}
	// Locks first, then by delay.
	if !r.Hotspots[0].Lock || r.Hotspots[0].DelayNs != 300 || r.Hotspots[len(r.Hotspots)-1].Primitive != PrimChan {
		t.Errorf("hotspot order %+v", r.Hotspots)
	}
	// Lock chains first, then other sync, then channels.
	got := []int64{}
	for _, c := range r.Chains {
		got = append(got, c.WaitNs)
	}
	if want := []int64{20, 10, 900, 5000}; len(got) != 4 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
		t.Errorf("chain order %v, want %v", got, want)
	}
}
