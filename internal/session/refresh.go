package session

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/lockscope/lockscope/internal/capture"
	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/dapx"
	"github.com/lockscope/lockscope/internal/pipeline"
)

// DefaultRefresh is how often a running debuggee's profiles are fetched
// when the launch does not say.
const DefaultRefresh = 2 * time.Second

// startCapture starts the refresh loop of the program that runs now, which
// lasts until the session ends or the program is launched again (endRun).
func (e *extension) startCapture() {
	info := e.launchInfo()
	cfg := info.Config
	ctx, stop := context.WithCancel(e.ctx)
	e.mu.Lock()
	if e.stopRun != nil {
		e.stopRun()
	}
	e.stopRun = stop
	inj := e.inj
	e.mu.Unlock()
	if e.pipe.GoVersion() == "" && info.Mode == "exec" && info.Program != "" {
		e.pipe.SetGoVersion(pipeline.GoVersionOf(info.Program))
	}
	e.pipe.SetStuckThreshold(time.Duration(cfg.StuckAfterSeconds * float64(time.Second)))
	switch {
	case cfg.Capture == "off":
	case inj != nil:
		e.goAsync(func() { e.refreshLoop(ctx, inj, cfg) })
	case cfg.PprofURL != "":
		e.goAsync(func() { e.urlRefreshLoop(ctx, cfg) })
	}
}

// refreshPeriod is the launch's refreshSeconds, or the default.
func refreshPeriod(cfg dapx.LaunchConfig) time.Duration {
	if cfg.RefreshSeconds > 0 {
		return time.Duration(cfg.RefreshSeconds * float64(time.Second))
	}
	return DefaultRefresh
}

// every runs f each period while the program runs, then rebuilds the report
// (which sends the event when it changed). It never runs f while the
// program is stopped: the agent, or the service's net/http/pprof, lives
// inside it, and a stopped process cannot answer.
func (e *extension) every(run context.Context, period time.Duration, f func(ctx context.Context)) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-run.Done():
			return
		case <-tick.C:
		}
		e.mu.Lock()
		skip := e.dbg.stopped || e.dbg.exited
		e.mu.Unlock()
		if skip {
			continue
		}
		e.tick(run, period, f)
	}
}

// tick is one round of every. A panic in it is reported in the Debug
// Console and the loop goes on: a refresh that stops without a word leaves
// the user trusting a report that no longer changes.
func (e *extension) tick(run context.Context, period time.Duration, f func(ctx context.Context)) {
	defer func() {
		if r := recover(); r != nil {
			e.s.log.Error("panic in the live refresh", "panic", r, "stack", string(debug.Stack()))
			e.console(fmt.Sprintf("lockscope: the live refresh hit an internal error (%v); it goes on", r))
		}
	}()
	ctx, cancel := context.WithTimeout(run, period+5*time.Second)
	defer cancel()
	f(ctx)
	e.rebuild(false)
}

// refreshLoop fetches the running program's profiles from the injected
// agent every refresh period.
func (e *extension) refreshLoop(run context.Context, inj *capture.Injection, cfg dapx.LaunchConfig) {
	agent, err := inj.Connect(run)
	if err != nil {
		if run.Err() == nil {
			e.console("lockscope: " + err.Error())
		}
		return
	}
	e.mu.Lock()
	e.agent = agent
	e.mu.Unlock()
	traced := cfg.TraceSeconds <= 0
	e.every(run, refreshPeriod(cfg), func(ctx context.Context) {
		if err := e.fetchProfiles(ctx, agent, []string{contention.KindMutex, contention.KindBlock}); err != nil {
			e.s.log.Debug("refresh", "err", err)
			// After a crash restart a new agent runs: take its pid.
			if a, cerr := inj.Connect(ctx); cerr == nil {
				agent = a
				e.mu.Lock()
				e.agent = a
				e.mu.Unlock()
			}
		}
		// Goroutine dumps, within their time budget, find the lock waits
		// that never end (a deadlock, a lock held for good).
		if e.pipe.SampleDue() {
			if err := e.pipe.SampleGoroutines(ctx, agent); err != nil {
				e.s.log.Debug("goroutine dump", "err", err)
			}
		}
		if !traced {
			// One trace window early in the run gives the blocking chains;
			// lockscope/capture takes more on demand.
			traced = true
			e.captureTrace(run, agent, cfg.TraceSeconds)
		}
	})
}

// urlRefreshLoop fetches the cumulative profiles of a service that serves
// net/http/pprof (the launch's pprofURL), for sessions without the agent:
// attach, exec, or a remote dlv.
func (e *extension) urlRefreshLoop(run context.Context, cfg dapx.LaunchConfig) {
	reported := false
	e.every(run, refreshPeriod(cfg), func(ctx context.Context) {
		for _, k := range []string{contention.KindMutex, contention.KindBlock} {
			part, err := e.pipe.FetchURL(ctx, k, pipeline.URLOptions{Base: cfg.PprofURL, AllowHosts: cfg.AllowHosts})
			if err != nil {
				if !reported {
					reported = true // once: the service may not be up yet
					e.console("lockscope: " + err.Error())
				}
				return
			}
			e.pipe.Replace(part)
		}
		e.profiled(capture.Span{}, false)
	})
}

// captureTrace records one trace window of the running program into the
// report, under progress events.
func (e *extension) captureTrace(run context.Context, agent *capture.Agent, seconds float64) {
	err := e.withProgress(run, fmt.Sprintf("lockscope: tracing %gs", seconds), func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, time.Duration(seconds*float64(time.Second))+30*time.Second)
		defer cancel()
		part, err := e.pipe.FromAgent(ctx, agent, contention.KindTrace, seconds)
		if err != nil {
			return err
		}
		e.pipe.Replace(part)
		return nil
	})
	if err != nil && run.Err() == nil {
		e.console("lockscope: trace capture: " + err.Error())
	}
}

// fetchProfiles replaces the agent's profiles of the given kinds with fresh
// ones: they are cumulative since the program started.
func (e *extension) fetchProfiles(ctx context.Context, agent *capture.Agent, kinds []string) error {
	for _, k := range kinds {
		part, err := e.pipe.FromAgent(ctx, agent, k, 0)
		if err != nil {
			return err
		}
		e.pipe.Replace(part)
	}
	e.profiled(agent.Span(kinds...))
	return nil
}

// onExited reads what the agent saved when the program ended, so that a
// program that exits between two refreshes loses nothing.
func (e *extension) onExited() {
	e.mu.Lock()
	inj := e.inj
	e.dbg.exited = true
	e.dbg.setStopped(true, time.Now())
	e.mu.Unlock()
	if inj == nil {
		// The profiles of a pprofURL are those of the last refresh, which
		// said what they cover.
		return
	}
	_, errs := e.pipe.AgentFinal(e.ctx, inj, pipeline.FinalOptions{Path: inj.RendezvousDir()})
	// The profiles the agent saved at exit (or last, when it had no time
	// to) have replaced the live ones: their span is what the capture
	// covers now.
	if span, ok := inj.FinalSpan(); ok {
		e.profiled(span, true)
	}
	for _, err := range errs {
		e.console("lockscope: " + err.Error())
	}
	e.rebuild(false)
}
