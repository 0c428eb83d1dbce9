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
