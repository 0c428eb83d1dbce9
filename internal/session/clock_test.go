package session

import (
	"testing"
	"time"
)

// TestRunTimeLeavesStopsOut: the program's running time, which a saved
// capture's profiles are divided by, counts only the time between resumes
// and stops; a second resume or stop in a row changes nothing, and a new
// run starts from zero.
func TestRunTimeLeavesStopsOut(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	var d debuggee
	d.setStopped(false, at(0))
	d.setStopped(false, at(1)) // a continued event after the continue response
	d.setStopped(true, at(3))  // a breakpoint: 3 s of running
	d.setStopped(true, at(4))
	if got := d.runTime(at(50)); got != 3*time.Second {
		t.Errorf("stopped after 3 s of running: %v", got)
	}
	d.setStopped(false, at(60))
	if got := d.runTime(at(62)); got != 5*time.Second {
		t.Errorf("running again for 2 s: %v, want 5s", got)
	}
	d.newRun()
	if got := d.runTime(at(70)); got != 0 || d.stopped || d.exited {
		t.Errorf("a new run: %v stopped=%v exited=%v, want 0 and running", got, d.stopped, d.exited)
	}
}

// TestRunningWithinLeavesOutStopsInTheSpan: what an agent's profile covers
// is its span less the stops inside it: a stop wholly inside comes off
// whole, one across either end only for its part inside, one before or
// after not at all, and a stop that still lasts counts to the span's end.
// A new run forgets the stops of the last.
func TestRunningWithinLeavesOutStopsInTheSpan(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	var d debuggee
	d.setStopped(false, at(0)) // configurationDone: no stop
	d.setStopped(true, at(1))  // before the span
	d.setStopped(false, at(2))
	d.setStopped(true, at(3)) // across its start
	d.setStopped(false, at(5))
	d.setStopped(false, at(5.5)) // a continued event after the response
	d.setStopped(true, at(6))    // inside
	d.setStopped(true, at(6.5))
	d.setStopped(false, at(8))
	d.setStopped(true, at(9)) // across its end
	d.setStopped(false, at(11))
	d.setStopped(true, at(12)) // after it
	d.setStopped(false, at(13))
	for _, tc := range []struct {
		from, to float64
		want     float64
	}{
		{4, 10, 6 - 1 - 2 - 1}, // the span [4, 10]
		{2, 3, 1},              // between stops
		{6.5, 7.5, 0},          // inside a stop
		{0, 14, 14 - 1 - 2 - 2 - 2 - 1},
	} {
		if got := d.runningWithin(at(tc.from), at(tc.to)); got != time.Duration(tc.want*float64(time.Second)) {
			t.Errorf("running within [%g, %g]: %v, want %gs", tc.from, tc.to, got, tc.want)
		}
	}
	d.setStopped(true, at(20)) // still stopped
	if got := d.runningWithin(at(19), at(22)); got != time.Second {
		t.Errorf("a stop that still lasts at the span's end: %v, want 1s", got)
	}
	d.newRun()
	if got := d.runningWithin(at(0), at(14)); got != 14*time.Second {
		t.Errorf("after a new run: %v, want the whole 14s", got)
	}
}
