package session

import (
	"context"
	"encoding/json"
	"time"

	"github.com/lockscope/lockscope/internal/dapx"
	"github.com/lockscope/lockscope/internal/transport"
)

// Restarts. Delve 1.27.2's own restart cannot keep the program's output:
// given program arguments (VS Code sends the launch configuration, args
// included) it resets the output redirect, and the new program writes to
// lockscope's stderr instead of the Debug Console; given none, a launch
// with remote output cannot restart at all. So lockscope restarts by
// launching again on a new Delve: the old one ends its run and kills its
// program, the launch is rewritten as at first (a new agent, the lockscope
// attribute stripped), and the new Delve builds (from the build cache, so
// about as long as a link) and runs it. The client keeps its breakpoints:
// VS Code sends them again when the new Delve says initialized, and a
// crash restart replays them itself.

// restartWait bounds a restart: a build from a cold cache can take minutes.
const restartWait = 10 * time.Minute

// relaunches reports whether lockscope restarts this session itself: a
// launch does; an attach is Delve's to refuse.
func (e *extension) relaunches() bool {
	return e.launchInfo().Request == "launch"
}

// onRestart answers the client's restart request (Ctrl+Shift+F5).
func (s *Session) onRestart(h transport.Header, msg []byte) {
	cfg, err := s.ext.restartConfig(transport.Raw(msg, h.Arguments))
	if err != nil {
		s.sendError(h.Seq, h.Command, dapx.ErrBadArguments, "Failed to restart", err.Error(), true)
		return
	}
	// Check the new configuration before the running program is ended for
	// it; preparing it runs child processes, which must wait until then.
	p, rerr := parseLaunch("launch", cfg)
	if rerr == nil {
		ctx, cancel := context.WithTimeout(s.ext.ctx, restartWait)
		defer cancel()
		rerr = s.relaunch(ctx, false, func() (launchPlan, *reqError) {
			s.ext.endRun(false)
			s.ext.forgetRun()
			if rerr := s.ext.prepare(&p); rerr != nil {
				return p, rerr
			}
			return p, nil
		})
	}
	if rerr != nil {
		s.sendError(h.Seq, h.Command, rerr.id, "Failed to restart", rerr.details, true)
		return
	}
	s.sendResponse(h.Seq, h.Command, nil)
}

// restartConfig is the launch configuration a restart runs: the one in the
// request (DAP sends the latest configuration), or, when a client sends
// none or one without a program (as Delve's own tests do), the last launch
// with the given attributes laid over it. Delve's restart attribute
// rebuild is dropped: a new launch always builds.
func (e *extension) restartConfig(raw json.RawMessage) (json.RawMessage, error) {
	var req struct {
		Arguments map[string]json.RawMessage `json:"arguments"`
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, err
		}
	}
	cfg := req.Arguments
	if _, full := cfg["program"]; !full {
		e.mu.Lock()
		last := e.dbg.clientArgs
		e.mu.Unlock()
		base := map[string]json.RawMessage{}
		if len(last) > 0 {
			if err := json.Unmarshal(last, &base); err != nil {
				return nil, err
			}
		}
		for k, v := range cfg {
			base[k] = v
		}
		cfg = base
	}
	delete(cfg, "rebuild")
	return json.Marshal(cfg)
}

// forgetRun drops what the ended program left in the report and the
// breakpoint requests, which the client sends again to the new Delve.
func (e *extension) forgetRun() {
	e.pipe.Clear()
	e.mu.Lock()
	e.bpRequests = nil
	e.mu.Unlock()
}

// relaunch ends the current run and launches again on a new Delve. plan
// runs once the old program is gone (it may start child processes, which
// the embedded Delve would reap while a debuggee runs) and returns the
// launch. A client restart (crash false) lets the client configure the new
// run: its initialized event goes to the client. A crash restart replays
// the client's breakpoints and runs the program itself. When the launch
// fails after the old program was ended, the session ends.
func (s *Session) relaunch(ctx context.Context, crash bool, plan func() (launchPlan, *reqError)) *reqError {
	s.relaunchMu.Lock()
	defer s.relaunchMu.Unlock()
	old := s.currentBackend()
	old.retired.Store(true)
	if _, _, err := s.callOn(ctx, old, "disconnect", map[string]any{"terminateDebuggee": true}); err != nil {
		s.log.Warn("ending the run before a restart", "err", err)
	}
	go old.b.Close()

	fail := func(rerr *reqError) *reqError {
		s.ext.launchFailed()
		s.log.Warn("restart failed; the session ends", "err", rerr)
		s.endSession()
		return rerr
	}
	p, rerr := plan()
	if rerr != nil {
		return fail(rerr)
	}
	args, err := json.Marshal(p.args)
	if err != nil {
		return fail(&reqError{id: dapx.ErrLaunchRewrite, summary: "Failed to launch", details: err.Error()})
	}
	dlvPath := p.dlvPath
	if dlvPath == "" {
		dlvPath = s.opts.DlvPath
	}
	b, err := s.opts.StartBackend(ctx, dlvPath, p.info.ProgramDir, p.dlvFlags)
	if err != nil {
		return fail(&reqError{id: dapx.ErrBackend, summary: "Failed to launch", details: err.Error()})
	}
	bc := s.setBackend(b)
	s.mu.Lock()
	s.termSent = false // a terminated of the old run never reached the client
	initArgs := s.initArgs
	s.mu.Unlock()
	s.ext.setLaunchInfo(p.info)
	if initArgs != nil {
		if _, _, err := s.callOn(ctx, bc, "initialize", initArgs); err != nil {
			return fail(&reqError{id: dapx.ErrBackend, summary: "Failed to launch", details: "initializing Delve: " + err.Error()})
		}
	}
	s.ext.launched(p.client, args, p.dlvPath)
	s.ext.relaunched(crash)
	if _, _, err := s.callOn(ctx, bc, "launch", json.RawMessage(args)); err != nil {
		// Delve sent the build's errors to the Debug Console already.
		return fail(&reqError{id: dapx.ErrLaunchRewrite, summary: "Failed to launch", details: err.Error()})
	}
	if !crash {
		s.ext.started()
		s.ext.rebuild(true) // the ended run's captures are gone from the report
		return nil
	}
	s.ext.startCapture()
	s.ext.replayBreakpoints(ctx, bc)
	s.ext.waitIndex()
	if _, _, err := s.callOn(ctx, bc, "configurationDone", nil); err != nil {
		return fail(&reqError{id: dapx.ErrBackend, summary: "Failed to launch", details: err.Error()})
	}
	return nil
}

// relaunched prepares the extension for the events of a new launch.
func (e *extension) relaunched(crash bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dbg.newRun()
	// A crash restart configures the new Delve itself: its initialized
	// event is not the client's.
	e.dbg.restarting = crash
	e.dbg.resumed = !crash
}

// endSession tells the client that the session is over and lets Serve
// return, when a restart could not bring up a new run.
func (s *Session) endSession() {
	s.mu.Lock()
	sent := s.termSent
	s.termSent = true
	s.mu.Unlock()
	if !sent {
		s.sendEvent("terminated", map[string]any{})
	}
	s.goneOnce.Do(func() { close(s.backendGone) })
}
