package session

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/lockscope/lockscope/internal/capture"
	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/dapx"
	"github.com/lockscope/lockscope/internal/pipeline"
	"github.com/lockscope/lockscope/internal/recipes"
	"github.com/lockscope/lockscope/internal/transport"
)

// extension holds lockscope's own part of a session: the launch it saw,
// the capture it runs and the report it keeps. It learns about the
// debuggee only from the DAP traffic the session shows it, and it turns
// captured bytes into a report only through internal/report, so the
// analysis never sees DAP.
type extension struct {
	s    *Session
	info launchInfo // guarded by s.mu

	mu      sync.Mutex
	pipe    *pipeline.Pipeline
	report  *contention.Report
	sent    []byte // fingerprint of the last report event
	stopped bool   // the debuggee is stopped (breakpoint, pause, crash)
	exited  bool
	// startedOnce: Delve accepted a launch or attach in this session.
	startedOnce bool
	// requests cancels the lockscope/* requests in flight, by client seq.
	requests map[int]context.CancelFunc
	inj      *capture.Injection
	agent    *capture.Agent
	output   *pipeline.Output              // the debuggee's output, read for race reports
	progress map[string]context.CancelFunc // our progress ids -> cancel

	catchBPs    int            // second-writer breakpoints the client has set
	catchByFile map[string]int // the same, per file
	restarts    int            // crash restarts so far
	restarting  bool           // swallow the initialized event of a restart
	// resumed: a client restart's new run is being configured; its
	// configurationDone must tell the client the program runs (see
	// observeResponse).
	resumed bool
	// bpRequests are the client's breakpoint requests in the order it sent
	// them, which a crash restart replays to a new Delve: in that order
	// Delve gives every breakpoint the id the client already knows.
	bpRequests []bpRequest

	clientArgs  json.RawMessage // the launch arguments as the client sent them
	launchArgs  json.RawMessage // the launch arguments Delve got, for crash restarts
	dlvPath     string          // the launch's dlvPath attribute
	stopOnEntry bool            // Delve stops at entry after configurationDone
	stopRun     func()          // ends the capture loops of the program that runs

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newExtension(s *Session) *extension {
	ctx, cancel := context.WithCancel(context.Background())
	p := pipeline.New()
	return &extension{s: s, pipe: p, report: contention.Empty(), ctx: ctx, cancel: cancel,
		output:   p.NewOutput(contention.Source{}),
		progress: map[string]context.CancelFunc{}, requests: map[int]context.CancelFunc{}}
}

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
	case "launch", "attach":
		e.started()
	case "configurationDone":
		// Delve runs the program now and says nothing more, unless it
		// stops at entry (its stopped event came before this response).
		e.mu.Lock()
		if !e.stopOnEntry {
			e.stopped = false
		}
		resumed := e.resumed && !e.stopOnEntry
		e.resumed = false
		e.mu.Unlock()
		if resumed {
			// After a restart from a stop, VS Code still showed the old run
			// paused (its Call Stack, Locals and the Continue button): a new
			// Delve sends no continued event for a run that simply starts.
			e.s.sendEvent("continued", map[string]any{"threadId": 1, "allThreadsContinued": true})
		}
	}
}

// filterThreads leaves the capture agent's own goroutines out of a threads
// response, unless the launch asked to see them (showAgentGoroutines): they
// are lockscope's, and they sat among the user's in the Call Stack. Only
// this response is decoded; the threads it keeps go out as Delve wrote
// them.
func (e *extension) filterThreads(h transport.Header, msg []byte) (transport.Header, []byte) {
	e.s.mu.Lock()
	show := e.info.Config.ShowAgentGoroutines
	e.s.mu.Unlock()
	e.mu.Lock()
	inj := e.inj
	e.mu.Unlock()
	if show || inj == nil || !h.Success {
		return h, msg
	}
	ids, err := inj.AgentGoroutines()
	if err != nil || len(ids) == 0 {
		return h, msg
	}
	var body map[string]json.RawMessage
	var threads []json.RawMessage
	if json.Unmarshal(transport.Raw(msg, h.Body), &body) != nil || json.Unmarshal(body["threads"], &threads) != nil {
		return h, msg
	}
	kept := make([]json.RawMessage, 0, len(threads))
	for _, th := range threads {
		var t struct {
			ID int64 `json:"id"`
		}
		if json.Unmarshal(th, &t) == nil && ids[t.ID] {
			continue
		}
		kept = append(kept, th)
	}
	if len(kept) == len(threads) {
		return h, msg
	}
	body["threads"], _ = json.Marshal(kept)
	nb, err := json.Marshal(body)
	if err != nil {
		return h, msg
	}
	out := replaceSpan(msg, h.Body, nb)
	nh, err := transport.Peek(out)
	if err != nil {
		return h, msg
	}
	return nh, out
}

// observeEvent sees every event from Delve before the client does. It may
// return work to run after the event has reached the client.
//
// When hold is true the session does not forward the event: the extension
// owns it. That happens for an exception stop, which is forwarded once
// onException has looked at it (or swallowed when it restarts the program),
// and for the initialized event of such a restart.
func (e *extension) observeEvent(h transport.Header, msg []byte) (after func(), hold bool) {
	switch h.Event {
	case "stopped":
		e.mu.Lock()
		e.stopped = true
		e.mu.Unlock()
		var b struct {
			Reason   string `json:"reason"`
			ThreadID int    `json:"threadId"`
		}
		_ = json.Unmarshal(transport.Raw(msg, h.Body), &b)
		if b.Reason == "exception" {
			return func() { e.goAsync(func() { e.onException(b.ThreadID, h, msg) }) }, true
		}
	case "initialized":
		e.mu.Lock()
		swallow := e.restarting
		e.restarting = false
		e.mu.Unlock()
		if swallow {
			return nil, true
		}
	case "continued":
		e.mu.Lock()
		e.stopped = false
		e.mu.Unlock()
	case "output":
		var b struct {
			Category string `json:"category"`
			Output   string `json:"output"`
		}
		_ = json.Unmarshal(transport.Raw(msg, h.Body), &b)
		if b.Category == "stderr" || b.Category == "stdout" {
			e.onOutput(b.Output)
		}
	case "exited":
		// Read what the agent saved at exit before the client hears that
		// the session ended, so that the final report arrives first.
		e.onExited()
	case "terminated":
		e.mu.Lock()
		e.exited = true
		e.mu.Unlock()
	}
	return nil, false
}

// onOutput feeds the program's output to the race report parser.
func (e *extension) onOutput(text string) {
	_, _ = e.output.Write([]byte(text))
	if e.output.Races() > 0 {
		e.goAsync(func() { e.rebuild(false) })
	}
}

// onException reads a crash stop: when Delve stopped on a fatal map error,
// the report gets the crash with the user frame that tripped it, the map's
// other writers and ready-made second-writer breakpoints.
//
// The second-writer recipe races the runtime's own check: sometimes the
// runtime sees the concurrent write first and throws. When the client has
// such breakpoints set, the program was launched, and tries remain, the
// session restarts the program with the same breakpoints instead of
// showing the crash, and says so in the Debug Console. Otherwise the stop
// (held back by observeEvent) goes to the client now.
func (e *extension) onException(thread int, h transport.Header, msg []byte) {
	forwarded := false
	forward := func() {
		if !forwarded {
			forwarded = true
			e.s.toClient(msg, h, -1)
		}
	}
	defer forward()
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	_, resp, err := e.s.call(ctx, "exceptionInfo", map[string]any{"threadId": thread})
	if err != nil {
		e.s.log.Warn("exceptionInfo", "err", err)
		return
	}
	var info struct {
		Body struct {
			ExceptionID string `json:"exceptionId"`
			Description string `json:"description"`
		} `json:"body"`
	}
	_ = json.Unmarshal(resp, &info)
	if info.Body.ExceptionID != "fatal error" {
		return // a panic, not a runtime fatal error
	}
	// Delve quotes the reason: "\"concurrent map writes\"".
	reason := strings.Trim(info.Body.Description, `"`)
	if pipeline.IsMapCrash(reason) && e.shouldRestart() {
		if err := e.restartAfterCrash(reason); err != nil {
			e.console("lockscope: could not restart after the crash: " + err.Error())
		}
		// Swallowed: the program runs again, or (the restart failed) the
		// crashed one is gone with its Delve and the session has ended.
		forwarded = true
		return
	}
	_, resp, err = e.s.call(ctx, "stackTrace", map[string]any{"threadId": thread, "levels": 50})
	if err != nil {
		e.s.log.Warn("stackTrace at the crash", "err", err)
		return
	}
	var st struct {
		Body struct {
			StackFrames []struct {
				Name   string `json:"name"`
				Line   int    `json:"line"`
				Source struct {
					Path string `json:"path"`
				} `json:"source"`
			} `json:"stackFrames"`
		} `json:"body"`
	}
	_ = json.Unmarshal(resp, &st)
	frames := make([]contention.Frame, 0, len(st.Body.StackFrames))
	for _, f := range st.Body.StackFrames {
		frames = append(frames, contention.Frame{Function: f.Name, File: f.Source.Path, Line: f.Line})
	}
	ok := e.pipe.CrashStop(reason, frames, int64(thread))
	forward()
	if ok {
		e.rebuild(true)
	}
}

// MaxCrashRestarts bounds how often one session restarts a program whose
// crash beat a second-writer breakpoint.
const MaxCrashRestarts = recipes.DefaultRestarts

// shouldRestart reports whether a map crash should be retried: the client
// set second-writer breakpoints, lockscope launched the program, and tries
// remain.
func (e *extension) shouldRestart() bool {
	e.s.mu.Lock()
	request := e.info.Request
	e.s.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if request != "launch" || e.catchBPs == 0 || e.restarts >= MaxCrashRestarts {
		return false
	}
	e.restarts++
	return true
}

// restartAfterCrash runs the program again, on a new Delve (see
// Session.relaunch), with the launch Delve got and the same agent, without
// stopping at entry (the user is past it), and with the client's
// breakpoints replayed; the client is not asked to configure anything.
func (e *extension) restartAfterCrash(reason string) error {
	e.mu.Lock()
	n := e.restarts
	args := map[string]json.RawMessage{}
	_ = json.Unmarshal(e.launchArgs, &args)
	dlvPath, client := e.dlvPath, e.clientArgs
	e.mu.Unlock()
	e.s.mu.Lock()
	info := e.info
	e.s.mu.Unlock()
	args["stopOnEntry"] = json.RawMessage("false")
	e.console(fmt.Sprintf("lockscope: the runtime's %q beat the second-writer breakpoint; restarting the program with the same breakpoints (try %d of %d)", reason, n, MaxCrashRestarts))
	// The build is cached: a restart takes about as long as linking.
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Minute)
	defer cancel()
	rerr := e.s.relaunch(ctx, true, func() (launchPlan, *reqError) {
		e.endRun(true)
		return launchPlan{client: client, args: args, info: info, dlvPath: dlvPath}, nil
	})
	if rerr != nil {
		return rerr
	}
	return nil
}

// replayBreakpoints sends the client's breakpoint requests to a new Delve.
func (e *extension) replayBreakpoints(ctx context.Context, bc *backendConn) {
	e.mu.Lock()
	reqs := append([]bpRequest(nil), e.bpRequests...)
	e.mu.Unlock()
	for _, r := range reqs {
		if _, _, err := e.s.callOn(ctx, bc, r.command, r.args); err != nil {
			e.s.log.Warn("replaying breakpoints", "command", r.command, "err", err)
		}
	}
}

// bpRequest is one breakpoint request of the client's.
type bpRequest struct {
	command string
	args    json.RawMessage
}

// noteBreakpoints records a breakpoint request of the client's (see
// bpRequests) and counts its second-writer breakpoints, the ones a crash
// restart serves.
func (e *extension) noteBreakpoints(h transport.Header, msg []byte) {
	raw := transport.Raw(msg, h.Arguments)
	e.mu.Lock()
	e.bpRequests = append(e.bpRequests, bpRequest{command: h.Command, args: append(json.RawMessage(nil), raw...)})
	e.mu.Unlock()
	if h.Command != "setBreakpoints" {
		return
	}
	var args struct {
		Source struct {
			Path string `json:"path"`
		} `json:"source"`
		Breakpoints []struct {
			Condition string `json:"condition"`
		} `json:"breakpoints"`
	}
	if json.Unmarshal(raw, &args) != nil {
		return
	}
	n := 0
	for _, bp := range args.Breakpoints {
		if recipes.IsMapWritingCondition(bp.Condition) {
			n++
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.catchByFile == nil {
		e.catchByFile = map[string]int{}
	}
	e.catchBPs += n - e.catchByFile[args.Source.Path]
	e.catchByFile[args.Source.Path] = n
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
