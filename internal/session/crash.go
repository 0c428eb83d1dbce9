package session

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/pipeline"
	"github.com/lockscope/lockscope/internal/recipes"
	"github.com/lockscope/lockscope/internal/transport"
)

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
	// A deadlock: the agent found every goroutine blocked and stepped
	// aside for the runtime's fatal error, which Delve stopped on with
	// every goroutine where it sits. The dump it saved names the cycle.
	// (Delve 1.27.2 has no exceptionInfo for this throw.)
	e.mu.Lock()
	inj := e.inj
	e.mu.Unlock()
	if inj != nil {
		if blocked, err := e.pipe.BlockedFinal(inj); err != nil {
			e.s.log.Warn("reading the agent's final goroutine dump", "err", err)
		} else if blocked {
			defer e.rebuild(true)
		}
	}
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
	forward()
	// The crash's writers and their breakpoints come from the source
	// index. A program that crashes at once can beat it (the index loads
	// in a helper of low priority while the program runs); the program is
	// stopped now, so wait for the index a while rather than send a crash
	// that names one writer.
	waitCtx, waitCancel := context.WithTimeout(e.ctx, crashIndexWait)
	t0 := time.Now()
	if !e.pipe.WaitIndex(waitCtx) && e.ctx.Err() == nil {
		e.s.log.Warn("the source index is not ready at the crash; the report names the other writers when it is", "waited", time.Since(t0))
	}
	waitCancel()
	if e.pipe.CrashStop(reason, frames, int64(thread)) {
		e.rebuild(true)
	}
}

// crashIndexWait bounds how long a crash report waits for the source index.
var crashIndexWait = 20 * time.Second

// MaxCrashRestarts bounds how often one session restarts a program whose
// crash beat a second-writer breakpoint.
const MaxCrashRestarts = recipes.DefaultRestarts

// shouldRestart reports whether a map crash should be retried: the client
// set second-writer breakpoints, lockscope launched the program, and tries
// remain.
func (e *extension) shouldRestart() bool {
	request := e.launchInfo().Request
	e.mu.Lock()
	defer e.mu.Unlock()
	if request != "launch" || e.catchBPs == 0 || e.dbg.restarts >= MaxCrashRestarts {
		return false
	}
	e.dbg.restarts++
	return true
}

// restartAfterCrash runs the program again, on a new Delve (see
// Session.relaunch), with the launch Delve got and the same agent, without
// stopping at entry (the user is past it), and with the client's
// breakpoints replayed; the client is not asked to configure anything.
func (e *extension) restartAfterCrash(reason string) error {
	e.mu.Lock()
	n := e.dbg.restarts
	args := map[string]json.RawMessage{}
	_ = json.Unmarshal(e.dbg.launchArgs, &args)
	dlvPath, client := e.dbg.dlvPath, e.dbg.clientArgs
	e.mu.Unlock()
	info := e.launchInfo()
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
