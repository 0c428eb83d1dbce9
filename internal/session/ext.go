package session

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/dapx"
	"github.com/lockscope/lockscope/internal/transport"
)

// extension holds lockscope's own part of a session: the launch it saw,
// the capture it runs and the report it keeps. It learns about the
// debuggee only from the DAP traffic the session shows it.
type extension struct {
	s    *Session
	info launchInfo // guarded by s.mu

	mu      sync.Mutex
	report  *contention.Report
	stopped bool // the debuggee is stopped (at a breakpoint, a pause, a crash)
	exited  bool

	ctx    context.Context
	cancel context.CancelFunc
}

func newExtension(s *Session) *extension {
	ctx, cancel := context.WithCancel(context.Background())
	return &extension{s: s, report: contention.Empty(), ctx: ctx, cancel: cancel}
}

// handlers maps each lockscope/* command to its handler. A handler returns
// the response body, or an error carrying a stable id.
func (e *extension) handlers() map[string]func(ctx context.Context, seq int, args json.RawMessage) (any, *reqError) {
	return map[string]func(context.Context, int, json.RawMessage) (any, *reqError){
		dapx.CommandReport: e.onReport,
		dapx.CommandClear:  e.onClear,
	}
}

// reqError is an error response: a stable id, a summary and details.
type reqError struct {
	id       int
	summary  string
	details  string
	showUser bool
}

func (e *reqError) Error() string { return e.summary + ": " + e.details }

// handle answers one lockscope/* request. A panic becomes an error
// response; the session lives on.
func (e *extension) handle(h transport.Header, msg []byte) {
	defer func() {
		if r := recover(); r != nil {
			e.s.log.Error("panic in a lockscope request", "command", h.Command, "panic", r, "stack", string(debug.Stack()))
			e.s.sendError(h.Seq, h.Command, dapx.ErrInternal, "Internal error",
				fmt.Sprintf("lockscope failed while handling %s: %v", h.Command, r), true)
		}
	}()
	fn, ok := e.handlers()[h.Command]
	if !ok {
		e.s.sendError(h.Seq, h.Command, dapx.ErrUnknownCommand, "Unknown command",
			fmt.Sprintf("lockscope does not know the command %q", h.Command), false)
		return
	}
	body, rerr := fn(e.ctx, h.Seq, transport.Raw(msg, h.Arguments))
	if rerr != nil {
		e.s.sendError(h.Seq, h.Command, rerr.id, rerr.summary, rerr.details, rerr.showUser)
		return
	}
	e.s.sendResponse(h.Seq, h.Command, body)
}

func (e *extension) snapshot() *contention.Report {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.report
}

func (e *extension) onReport(ctx context.Context, seq int, _ json.RawMessage) (any, *reqError) {
	return e.snapshot(), nil
}

func (e *extension) onClear(ctx context.Context, seq int, _ json.RawMessage) (any, *reqError) {
	e.mu.Lock()
	e.report = contention.Empty()
	r := e.report
	e.mu.Unlock()
	e.s.sendEvent(dapx.EventReport, r)
	return r, nil
}

// prepareLaunch lets the extension change the launch arguments.
func (e *extension) prepareLaunch(info *launchInfo, args map[string]json.RawMessage) error {
	return nil
}

// launchFailed undoes what prepareLaunch set up.
func (e *extension) launchFailed() {}

// observeResponse sees every response from Delve to the client.
func (e *extension) observeResponse(h transport.Header, msg []byte) {
	if !h.Success {
		return
	}
	switch h.Command {
	case "continue", "next", "stepIn", "stepOut", "stepBack", "reverseContinue":
		e.mu.Lock()
		e.stopped = false
		e.mu.Unlock()
	}
}

// observeEvent sees every event from Delve before the client does. It may
// return work to run after the event has reached the client.
func (e *extension) observeEvent(h transport.Header, msg []byte) func() {
	switch h.Event {
	case "stopped":
		e.mu.Lock()
		e.stopped = true
		e.mu.Unlock()
	case "continued":
		e.mu.Lock()
		e.stopped = false
		e.mu.Unlock()
	case "exited", "terminated":
		e.mu.Lock()
		e.exited = true
		e.mu.Unlock()
	}
	return nil
}

// close stops everything the extension started.
func (e *extension) close() {
	e.cancel()
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
