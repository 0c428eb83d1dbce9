package session

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lockscope/lockscope/internal/capture"
	"github.com/lockscope/lockscope/internal/dapx"
	"github.com/lockscope/lockscope/internal/pipeline"
)

// flightWindow is the flight recorder's window a launch asks for: the
// flightRecorder attribute in seconds, 0 for none, capture.DefaultFlight
// when absent.
func flightWindow(cfg dapx.LaunchConfig) time.Duration {
	if cfg.FlightRecorder == nil {
		return capture.DefaultFlight
	}
	return time.Duration(*cfg.FlightRecorder * float64(time.Second))
}

// flightMaxRate is the blocking rate above which the agent stops the
// flight recorder: capture.DefaultFlightMaxRate when it runs by default,
// none when the launch asked for it.
func flightMaxRate(cfg dapx.LaunchConfig) int {
	if cfg.FlightRecorder == nil {
		return capture.DefaultFlightMaxRate
	}
	return 0
}

// stopReasons are the stops whose moments before lockscope reads: the
// program ran up to them. A step ran a line or two, and an entry stop
// ran nothing.
var stopReasons = map[string]bool{
	"breakpoint": true, "function breakpoint": true, "data breakpoint": true,
	"instruction breakpoint": true, "exception": true, "pause": true,
}

// onStop starts reading the flight recorder's window before a stop, when
// the agent runs one. It runs alongside the client's own requests at the
// stop and never resumes the program: every goroutine stays where the stop
// froze it.
func (e *extension) onStop(reason string) {
	e.mu.Lock()
	e.stops++
	seq, inj := e.stops, e.inj
	e.mu.Unlock()
	if inj == nil || inj.Flight() <= 0 || !stopReasons[reason] {
		return
	}
	e.goAsync(func() { e.readStopWindow(seq, reason, inj) })
}

// stillStopped reports whether the stop seq is still the program's state:
// a stale window must not replace a newer one.
func (e *extension) stillStopped(seq int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stops == seq && e.dbg.stopped && !e.dbg.exited
}

// readStopWindow reads the window before stop seq out of the stopped
// program's memory (or, for a deadlock, out of the file the agent saved
// when it stepped aside and stopped the recorder) and puts its chains in
// the report.
func (e *extension) readStopWindow(seq int, reason string, inj *capture.Injection) {
	ctx, cancel := context.WithTimeout(e.ctx, time.Minute)
	defer cancel()
	t0 := time.Now()
	gv := e.pipe.GoVersion()
	w, err := capture.ReadFlightWindow(ctx, dapDebugger{e.s}, inj.PackageName(), gv)
	if at, rate, off := inj.FlightOff(); errors.Is(err, capture.ErrFlightOff) && off {
		err = fmt.Errorf("the flight recorder stopped at %s: the program blocked %d times a second, where recording every block would cost it more than 5%%; set \"lockscope.flightRecorder\" to a window in seconds to keep it on whatever it costs",
			at.Format("15:04:05"), rate)
	}
	if errors.Is(err, capture.ErrFlightOff) {
		if _, blocked, berr := inj.Blocked(); berr == nil && blocked {
			f, ferr := inj.OpenFinalTrace(capture.FinalFlight)
			if ferr == nil && f != nil {
				defer f.Close()
				if !e.stillStopped(seq) {
					return
				}
				if aerr := e.pipe.AddStopWindow(ctx, f, pipeline.StopWindow{Reason: "deadlock", Saved: true, Path: inj.RendezvousDir()}); aerr != nil {
					e.pipe.NoStopWindow(aerr)
				}
				e.rebuild(false)
				return
			}
		}
	}
	if !e.stillStopped(seq) {
		// The program went on, or stopped again: this window is old news,
		// and reading a running program fails anyway.
		e.s.log.Debug("window before the stop dropped: the program moved on", "err", err)
		return
	}
	if err != nil {
		e.s.log.Info("no window before the stop", "err", err)
		e.pipe.NoStopWindow(err)
		e.rebuild(false)
		return
	}
	aerr := e.pipe.AddStopWindow(ctx, bytes.NewReader(w.Trace), pipeline.StopWindow{
		Reason: reason, Span: w.Span, Generations: w.Generations, Path: inj.RendezvousDir()})
	if aerr != nil {
		e.pipe.NoStopWindow(aerr)
	}
	e.s.log.Info("window before the stop", "reason", reason, "bytes", len(w.Trace), "generations", w.Generations, "span", w.Span, "took", time.Since(t0), "err", aerr)
	e.rebuild(false)
}

// dapDebugger reads the stopped program through the session's own
// requests to Delve (evaluate, variables, readMemory), which the client
// never sees.
type dapDebugger struct{ s *Session }

func (d dapDebugger) call(ctx context.Context, command string, args any, body any) error {
	_, resp, err := d.s.call(ctx, command, args)
	if err != nil {
		// Delve says what went wrong in the error body.
		var e struct {
			Body struct {
				Error struct {
					Format string `json:"format"`
				} `json:"error"`
			} `json:"body"`
		}
		if resp != nil && json.Unmarshal(resp, &e) == nil && e.Body.Error.Format != "" {
			return fmt.Errorf("%w: %s", err, e.Body.Error.Format)
		}
		return err
	}
	var m struct {
		Body json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(resp, &m); err != nil {
		return fmt.Errorf("%s: %w", command, err)
	}
	if err := json.Unmarshal(m.Body, body); err != nil {
		return fmt.Errorf("%s: %w", command, err)
	}
	return nil
}

func (d dapDebugger) Evaluate(ctx context.Context, expr string) (capture.DebugValue, error) {
	var b struct {
		Result             string `json:"result"`
		VariablesReference int    `json:"variablesReference"`
	}
	// "watch": an error is not shown to the user, who did not ask.
	err := d.call(ctx, "evaluate", map[string]any{"expression": expr, "context": "watch"}, &b)
	return capture.DebugValue{Value: b.Result, Ref: b.VariablesReference}, err
}

func (d dapDebugger) Children(ctx context.Context, ref, start, count int) ([]capture.DebugValue, error) {
	args := map[string]any{"variablesReference": ref}
	if count > 0 {
		args["filter"], args["start"], args["count"] = "indexed", start, count
	}
	var b struct {
		Variables []struct {
			Name               string `json:"name"`
			Value              string `json:"value"`
			VariablesReference int    `json:"variablesReference"`
			MemoryReference    string `json:"memoryReference"`
		} `json:"variables"`
	}
	if err := d.call(ctx, "variables", args, &b); err != nil {
		return nil, err
	}
	out := make([]capture.DebugValue, len(b.Variables))
	for i, v := range b.Variables {
		out[i] = capture.DebugValue{Name: v.Name, Value: v.Value, Ref: v.VariablesReference, MemoryRef: v.MemoryReference}
	}
	return out, nil
}

func (d dapDebugger) ReadMemory(ctx context.Context, memRef string, count int) ([]byte, error) {
	var b struct {
		Data string `json:"data"`
	}
	if err := d.call(ctx, "readMemory", map[string]any{"memoryReference": memRef, "offset": 0, "count": count}, &b); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(b.Data)
}
