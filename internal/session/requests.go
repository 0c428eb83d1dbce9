package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/dapx"
	"github.com/lockscope/lockscope/internal/pipeline"
	"github.com/lockscope/lockscope/internal/report"
	"github.com/lockscope/lockscope/internal/transport"
)

// track returns the context of a lockscope/* request, which a DAP cancel
// with its seq as requestId ends (see cancelRequest). The read loop calls
// it before the handler's goroutine starts, so that a cancel read right
// after the request finds it.
func (e *extension) track(seq int) context.Context {
	ctx, cancel := context.WithCancel(e.ctx)
	e.mu.Lock()
	e.requests[seq] = cancel
	e.mu.Unlock()
	return ctx
}

// untrack forgets a finished request.
func (e *extension) untrack(seq int) {
	e.mu.Lock()
	cancel := e.requests[seq]
	delete(e.requests, seq)
	e.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// cancelRequest handles a DAP cancel by requestId for a lockscope/*
// request in flight; it reports false when the id is not ours, so the
// cancel goes to Delve.
func (e *extension) cancelRequest(seq int) bool {
	e.mu.Lock()
	cancel, ok := e.requests[seq]
	e.mu.Unlock()
	if ok {
		cancel()
	}
	return ok
}

// handlers maps each lockscope/* command to its handler.
func (e *extension) handlers() map[string]func(ctx context.Context, args json.RawMessage) (any, *reqError) {
	return map[string]func(context.Context, json.RawMessage) (any, *reqError){
		dapx.CommandReport:      e.onReport,
		dapx.CommandClear:       e.onClear,
		dapx.CommandCapture:     e.onCapture,
		dapx.CommandLoad:        e.onLoad,
		dapx.CommandBreakpoints: e.onBreakpoints,
		dapx.CommandSave:        e.onSave,    // save.go
		dapx.CommandCompare:     e.onCompare, // save.go
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

func badArgs(err error) *reqError {
	return &reqError{id: dapx.ErrBadArguments, summary: "Invalid arguments", details: err.Error(), showUser: true}
}

// handle answers one lockscope/* request. A panic becomes an error
// response; the session lives on.
func (e *extension) handle(ctx context.Context, h transport.Header, msg []byte) {
	defer e.untrack(h.Seq)
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
	body, rerr := fn(ctx, transport.Raw(msg, h.Arguments))
	if rerr != nil {
		e.s.sendError(h.Seq, h.Command, rerr.id, rerr.summary, rerr.details, rerr.showUser)
		return
	}
	e.s.sendResponse(h.Seq, h.Command, body)
}

func decodeArgs(raw json.RawMessage, v any) *reqError {
	if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return badArgs(err)
	}
	return nil
}

func (e *extension) onReport(ctx context.Context, _ json.RawMessage) (any, *reqError) {
	return e.snapshot(), nil
}

func (e *extension) onClear(ctx context.Context, _ json.RawMessage) (any, *reqError) {
	e.pipe.Clear()
	return e.rebuild(true), nil
}

func (e *extension) onBreakpoints(ctx context.Context, raw json.RawMessage) (any, *reqError) {
	var args dapx.BreakpointsArguments
	if err := decodeArgs(raw, &args); err != nil {
		return nil, err
	}
	if args.File == "" || args.Line <= 0 {
		return nil, badArgs(fmt.Errorf("lockscope/breakpoints needs a file and a line"))
	}
	bps, reason := e.pipe.BreakpointsAt(e.snapshot(), args.File, args.Line)
	if bps == nil {
		bps = []contention.Breakpoint{}
	}
	return dapx.BreakpointsResponseBody{Breakpoints: bps, Reason: reason}, nil
}

var progressSeq atomic.Int64

// withProgress runs f under DAP progress events when the client supports
// them; a cancel request for the progress id cancels f's context.
func (e *extension) withProgress(ctx context.Context, title string, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.s.mu.Lock()
	supported := e.s.progress
	e.s.mu.Unlock()
	id := "lockscope-" + strconv.FormatInt(progressSeq.Add(1), 10)
	if supported {
		e.mu.Lock()
		e.progress[id] = cancel
		e.mu.Unlock()
		e.s.sendEvent("progressStart", map[string]any{"progressId": id, "title": title, "cancellable": true})
		defer func() {
			e.mu.Lock()
			delete(e.progress, id)
			e.mu.Unlock()
			e.s.sendEvent("progressEnd", map[string]any{"progressId": id})
		}()
	}
	err := f(ctx)
	if ctx.Err() == context.Canceled && e.ctx.Err() == nil {
		return errCancelled
	}
	return err
}

var errCancelled = errors.New("cancelled")

// cancelProgress handles a DAP cancel request for one of our progress ids.
// It reports false when the id is not ours, so the request goes to Delve.
func (e *extension) cancelProgress(progressID string) bool {
	e.mu.Lock()
	cancel, ok := e.progress[progressID]
	e.mu.Unlock()
	if ok {
		cancel()
	}
	return ok
}

func (e *extension) onCapture(ctx context.Context, raw json.RawMessage) (any, *reqError) {
	var args dapx.CaptureArguments
	if err := decodeArgs(raw, &args); err != nil {
		return nil, err
	}
	kinds := args.Kinds
	if len(kinds) == 0 {
		kinds = []string{contention.KindMutex, contention.KindBlock}
	}
	for _, k := range kinds {
		if k != contention.KindMutex && k != contention.KindBlock && k != contention.KindTrace {
			return nil, badArgs(fmt.Errorf("unknown capture kind %q (want mutex, block or trace)", k))
		}
	}
	cfg := e.launchInfo().Config
	e.mu.Lock()
	agent, stopped, exited := e.agent, e.dbg.stopped, e.dbg.exited
	e.mu.Unlock()
	if agent == nil && cfg.PprofURL == "" {
		return nil, &reqError{id: dapx.ErrNoProgram, summary: "Nothing to capture from", showUser: true,
			details: "the program runs without lockscope's agent (capture is off, the mode is exec or attach, or it has not started yet) and no pprofURL is set"}
	}
	if exited {
		// A state, not a fault: no notification (showUser) for it.
		return nil, &reqError{id: dapx.ErrNoProgram, summary: "The program has exited",
			details: "there is no running program to capture from; the report holds what was saved when it exited (lockscope/report)"}
	}
	if stopped && agent != nil {
		// The agent lives inside the stopped process: asking it would hang.
		// A state the user chose, not a fault: no notification (showUser).
		return nil, &reqError{id: dapx.ErrProgramStopped, summary: "The program is stopped",
			details: "lockscope captures from a running program, and this one is stopped (at a breakpoint, a pause or a crash). Continue it, then capture again; the last report is still there (lockscope/report)"}
	}
	seconds := args.Seconds
	if seconds <= 0 {
		seconds = cfg.TraceSeconds
	}
	if seconds <= 0 {
		seconds = 2
	}
	err := e.withProgress(ctx, "lockscope: capturing "+strings.Join(kinds, ", "), func(ctx context.Context) error {
		// All kinds first, then the report: a cancel or a failure part
		// way leaves the report as it was.
		var parts []*report.Part
		for _, k := range kinds {
			var part *report.Part
			var err error
			if agent != nil {
				part, err = e.pipe.FromAgent(ctx, agent, k, seconds)
			} else {
				part, err = e.pipe.FetchURL(ctx, k, pipeline.URLOptions{Base: cfg.PprofURL, Seconds: seconds, AllowHosts: cfg.AllowHosts})
			}
			if err != nil {
				return err
			}
			parts = append(parts, part)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, part := range parts {
			e.pipe.Replace(part)
		}
		if slices.Contains(kinds, contention.KindMutex) || slices.Contains(kinds, contention.KindBlock) {
			if agent != nil {
				e.profiled(agent.Span(kinds...))
			} else {
				// The service's delta profiles, over the seconds asked for
				// in whole seconds (capture.FetchURL rounds them up, as
				// net/http/pprof takes no fraction for them).
				e.profiledFor(time.Duration(math.Ceil(seconds)) * time.Second)
			}
		}
		return nil
	})
	if errors.Is(err, errCancelled) {
		return nil, &reqError{id: dapx.ErrCancelled, summary: "Capture cancelled", details: "the capture was cancelled"}
	}
	if err != nil {
		return nil, &reqError{id: dapx.ErrCaptureFailed, summary: "Capture failed", details: err.Error(), showUser: true}
	}
	return e.rebuild(false), nil
}

func (e *extension) onLoad(ctx context.Context, raw json.RawMessage) (any, *reqError) {
	var args dapx.LoadArguments
	if err := decodeArgs(raw, &args); err != nil {
		return nil, err
	}
	if args.Path == "" {
		return nil, badArgs(errors.New("lockscope/load needs a path"))
	}
	if len(args.Path) > maxPath {
		return nil, badArgs(fmt.Errorf("a path of %d bytes is longer than any file system takes (%d); it begins %q",
			len(args.Path), maxPath, dapx.Shorten(args.Path)))
	}
	err := e.withProgress(ctx, "lockscope: loading "+dapx.Shorten(args.Path), func(ctx context.Context) error {
		if args.Kind == "" && pipeline.IsCaptureFile(args.Path) {
			// A capture saved by lockscope/save or analyze --save.
			c, err := pipeline.OpenCapture(args.Path)
			if err != nil {
				return err
			}
			_, err = e.pipe.AddCapture(ctx, c)
			return err
		}
		part, err := e.pipe.LoadFile(ctx, args.Path, args.Kind)
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err // cancelled at the last moment: the report stays as it was
		}
		e.pipe.Add(part)
		return nil
	})
	if errors.Is(err, errCancelled) {
		return nil, &reqError{id: dapx.ErrCancelled, summary: "Load cancelled", details: "the load was cancelled"}
	}
	if err != nil {
		// Errors name the file; a long path is quoted by its start only.
		details := strings.ReplaceAll(err.Error(), args.Path, dapx.Shorten(args.Path))
		return nil, &reqError{id: dapx.ErrLoadFailed, summary: "Load failed", details: details, showUser: true}
	}
	return e.rebuild(false), nil
}

// maxPath is Linux's PATH_MAX: no file has a longer path.
const maxPath = 4096
