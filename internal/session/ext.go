package session

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/lockscope/lockscope/internal/capture"
	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/dapx"
	"github.com/lockscope/lockscope/internal/pipeline"
)

// extension holds lockscope's own part of a session: the launch it saw,
// the capture it runs and the report it keeps. It learns about the
// debuggee only from the DAP traffic the session shows it, and it turns
// captured bytes into a report only through internal/report, so the
// analysis never sees DAP.
type extension struct {
	s *Session

	mu     sync.Mutex
	dbg    debuggee // what lockscope knows of the program; guarded by mu
	pipe   *pipeline.Pipeline
	report *contention.Report
	sent   []byte // fingerprint of the last report event
	// requests cancels the lockscope/* requests in flight, by client seq.
	requests map[int]context.CancelFunc
	inj      *capture.Injection
	agent    *capture.Agent
	output   *pipeline.Output              // the debuggee's output, read for race reports
	progress map[string]context.CancelFunc // our progress ids -> cancel
	stopRun  func()                        // ends the capture loops of the program that runs
	stops    int                           // stopped events so far: the window read at one is for it alone (stopwindow.go)
	// oldGoNote is the note noteOldGo put in the report: the report keeps
	// its notes across a restart, which must not add it again.
	oldGoNote string

	catchBPs    int            // second-writer breakpoints the client has set
	catchByFile map[string]int // the same, per file
	// bpRequests are the client's breakpoint requests in the order it sent
	// them, which a crash restart replays to a new Delve: in that order
	// Delve gives every breakpoint the id the client already knows.
	bpRequests []bpRequest

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// debuggee is the program's state as the DAP traffic shows it, in one
// place: which launch started it, and whether it runs, is stopped, has
// exited or is being restarted.
type debuggee struct {
	info launchInfo // the launch or attach Delve accepted last
	// started: Delve accepted a launch or attach in this session.
	started bool
	stopped bool // stopped at a breakpoint, a pause or a crash
	exited  bool
	// restarting swallows the initialized event of a crash restart.
	restarting bool
	// resumed: a client restart's new run is being configured; its
	// configurationDone must tell the client the program runs (see
	// observeResponse).
	resumed  bool
	restarts int // crash restarts so far

	clientArgs  json.RawMessage // the launch arguments as the client sent them
	launchArgs  json.RawMessage // the launch arguments Delve got, for crash restarts
	dlvPath     string          // the launch's dlvPath attribute
	stopOnEntry bool            // Delve stops at entry after configurationDone

	// ranFrom is when this run of the program first ran (zero before):
	// the adapter's clock, which counts from configurationDone and so also
	// the program's start. Its running time is the time since, less stops.
	ranFrom time.Time
	// stops are this run's stops (from the stopped event to the resume),
	// in order; the last one's to is zero while it lasts. The program's
	// clock runs on while Delve holds it, so an agent's profile spans its
	// stops, and runningWithin takes them out.
	stops []stop
	// covered is how long the mutex and block profiles in the report
	// cover, stops left out: what a saved or compared capture is divided
	// by for a comparison per second. 0: not known.
	covered time.Duration
}

// stop is one stop of the program in a debugger, on this process's clock.
type stop struct{ from, to time.Time }

// setStopped records a stop (stopped) or a resume, and keeps the clock of
// the program's running time.
func (d *debuggee) setStopped(stopped bool, now time.Time) {
	d.stopped = stopped
	n := len(d.stops)
	inStop := n > 0 && d.stops[n-1].to.IsZero()
	switch {
	case !stopped && d.ranFrom.IsZero():
		d.ranFrom = now
	case !stopped && inStop:
		d.stops[n-1].to = now
	case stopped && !d.ranFrom.IsZero() && !inStop:
		d.stops = append(d.stops, stop{from: now})
	}
}

// runTime is how long the program has run, not counting its stops.
func (d *debuggee) runTime(now time.Time) time.Duration {
	if d.ranFrom.IsZero() {
		return 0
	}
	return d.runningWithin(d.ranFrom, now)
}

// runningWithin is how long the program ran between from and to, times
// read from the agent's clock (capture.Span): the span less the part of
// each stop inside it. The stops are the times lockscope saw the stopped
// event and the continue response pass by, after the program really
// stopped and before Delve lets it run again, so each stop inside the span
// leaves that much too much running time: 10 to 20 ms a stop, measured
// against the gaps a busy program saw in its own clock at 5 pauses.
// Delve's own short halts (evaluating a breakpoint's condition, setting a
// breakpoint while the program runs) send no event and are not left out.
func (d *debuggee) runningWithin(from, to time.Time) time.Duration {
	ran := to.Sub(from)
	for _, st := range d.stops {
		end := st.to
		if end.IsZero() || end.After(to) {
			end = to
		}
		begin := st.from
		if begin.Before(from) {
			begin = from
		}
		if end.After(begin) {
			ran -= end.Sub(begin)
		}
	}
	return max(ran, 0)
}

// newRun starts the clock again for a new run of the program.
func (d *debuggee) newRun() {
	d.stopped, d.exited = false, false
	d.ranFrom, d.stops, d.covered = time.Time{}, nil, 0
}

// profiled notes that the report's mutex and block profiles were just
// replaced, and what they cover: with the agent's span, the span less the
// stops in it. Without one the profiles are a service's net/http/pprof
// (pprofURL), cumulative from whenever the service set the rates, which
// only the adapter's clock can stand in for: the program's running time
// since configurationDone, stops left out, when lockscope launched it
// (the program's start counts too); nothing known when lockscope
// attached to a service that ran before.
func (e *extension) profiled(span capture.Span, ok bool) {
	attach := e.launchInfo().Request == "attach"
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case ok:
		e.dbg.covered = e.dbg.runningWithin(span.Start(), span.End())
	case attach:
		e.dbg.covered = 0
	default:
		e.dbg.covered = e.dbg.runTime(time.Now())
	}
}

// profiledFor is profiled with a fixed length: a delta profile of a
// service's net/http/pprof (lockscope/capture with pprofURL) covers the
// seconds it asked for.
func (e *extension) profiledFor(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dbg.covered = d
}

// launchInfo is the launch or attach Delve accepted last.
func (e *extension) launchInfo() launchInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dbg.info
}

func (e *extension) setLaunchInfo(info launchInfo) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dbg.info = info
}

func newExtension(s *Session) *extension {
	ctx, cancel := context.WithCancel(context.Background())
	p := pipeline.New()
	return &extension{s: s, pipe: p, report: contention.Empty(), ctx: ctx, cancel: cancel,
		output:   p.NewOutput(contention.Source{}),
		progress: map[string]context.CancelFunc{}, requests: map[int]context.CancelFunc{}}
}

func (e *extension) snapshot() *contention.Report {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.report
}

// rebuild builds the report from the pipeline and sends the lockscope/report
// event when it changed (or always, when force is set).
func (e *extension) rebuild(force bool) *contention.Report {
	r := e.pipe.Build()
	fp := fingerprint(r)
	e.mu.Lock()
	changed := !bytes.Equal(fp, e.sent)
	e.report = r
	if changed || force {
		e.sent = fp
	}
	e.mu.Unlock()
	if changed || force {
		e.s.sendEvent(dapx.EventReport, r)
	}
	return r
}

// fingerprint is the report without its sources, whose times change at
// every refresh even when nothing else does.
func fingerprint(r *contention.Report) []byte {
	c := *r
	c.Sources = nil
	b, _ := json.Marshal(&c)
	return b
}

func (e *extension) goAsync(f func()) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer func() {
			if r := recover(); r != nil {
				e.s.log.Error("panic in lockscope background work", "panic", r, "stack", string(debug.Stack()))
				// Never silently: the user would trust a report that
				// stopped changing.
				e.console(fmt.Sprintf("lockscope: background work stopped after an internal error: %v", r))
			}
		}()
		f()
	}()
}

// close stops everything the extension started and removes its files.
func (e *extension) close() {
	e.cancel()
	e.wg.Wait()
	e.pipe.Close()
	e.mu.Lock()
	inj := e.inj
	e.inj = nil
	e.mu.Unlock()
	if inj != nil {
		_ = inj.Close()
	}
}
