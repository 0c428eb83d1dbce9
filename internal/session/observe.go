package session

import (
	"encoding/json"
	"time"

	"github.com/lockscope/lockscope/internal/transport"
)

// observeResponse sees every response from Delve to the client.
func (e *extension) observeResponse(h transport.Header, msg []byte) {
	if !h.Success {
		return
	}
	switch h.Command {
	case "continue", "next", "stepIn", "stepOut", "stepBack", "reverseContinue":
		e.mu.Lock()
		e.dbg.setStopped(false, time.Now())
		e.mu.Unlock()
		// Time spent paused is not time spent waiting for a lock: the
		// stuck analysis starts again from the dumps taken from now on.
		e.pipe.ClearGoroutines()
	case "launch", "attach":
		e.started()
	case "configurationDone":
		// Delve runs the program now and says nothing more, unless it
		// stops at entry (its stopped event came before this response).
		e.mu.Lock()
		if !e.dbg.stopOnEntry {
			e.dbg.setStopped(false, time.Now())
		}
		resumed := e.dbg.resumed && !e.dbg.stopOnEntry
		e.dbg.resumed = false
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
	show := e.launchInfo().Config.ShowAgentGoroutines
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
		e.dbg.setStopped(true, time.Now())
		e.mu.Unlock()
		// The first stop is what F5 waited for: the index may type-check
		// now (see waitIndex).
		e.pipe.ResumeIndex()
		var b struct {
			Reason   string `json:"reason"`
			ThreadID int    `json:"threadId"`
		}
		_ = json.Unmarshal(transport.Raw(msg, h.Body), &b)
		e.onStop(b.Reason)
		if b.Reason == "exception" {
			return func() { e.goAsync(func() { e.onException(b.ThreadID, h, msg) }) }, true
		}
	case "initialized":
		e.mu.Lock()
		swallow := e.dbg.restarting
		e.dbg.restarting = false
		e.mu.Unlock()
		if swallow {
			return nil, true
		}
	case "continued":
		e.mu.Lock()
		e.dbg.setStopped(false, time.Now())
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
		e.dbg.exited = true
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
