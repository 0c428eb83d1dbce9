// Package daptest is lockscope's own DAP test client. Delve's daptest
// client decodes with go-dap's default codec and cannot read lockscope's
// messages; this one keeps every message raw, peeks at its routing fields,
// and decodes bodies on demand into whatever type a test asks for.
//
// lockscope's own messages have helpers in the style of Delve's daptest:
// CaptureRequest, LoadRequest, ReportRequest, ClearRequest and
// BreakpointsRequest send the typed requests of [dapx], and
// ExpectReportResponse, ExpectBreakpointsResponse and ExpectReportEvent
// decode what comes back into dapx's types, so that a test reads the wire
// contract exactly as a client does.
package daptest

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-dap"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/dapx"
	"github.com/lockscope/lockscope/internal/transport"
)

// Message is one message from the adapter.
type Message struct {
	Raw        []byte
	Seq        int
	Type       string
	Command    string
	Event      string
	RequestSeq int
	Success    bool
	Body       json.RawMessage
	Message    string // an error response's message
	// N is the message's place in the stream, from 0: a test can ask for
	// what came after a point (see [Client.Mark]).
	N int
}

// Decode decodes the body into v.
func (m Message) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(m.Body, v); err != nil {
		t.Fatalf("decoding the body of %s: %v\n%s", m.Name(), err, m.Raw)
	}
}

// Name is the command or event name.
func (m Message) Name() string {
	if m.Type == "event" {
		return "event " + m.Event
	}
	return m.Type + " " + m.Command
}

// ErrorID returns the error id of an error response, or 0.
func (m Message) ErrorID() int {
	var b struct {
		Error struct {
			ID int `json:"id"`
		} `json:"error"`
	}
	_ = json.Unmarshal(m.Body, &b)
	return b.Error.ID
}

// Client talks DAP to an adapter.
type Client struct {
	w   *transport.Writer
	mu  sync.Mutex
	seq int

	cond     *sync.Cond
	msgs     []Message
	consumed []bool
	readErr  error
	// Timeout is the default wait for responses and events.
	Timeout time.Duration
}

// New returns a client reading the adapter from r and writing to w.
func New(r io.Reader, w io.Writer) *Client {
	c := &Client{w: transport.NewWriter(w), Timeout: 60 * time.Second}
	c.cond = sync.NewCond(&c.mu)
	go c.readLoop(r)
	return c
}

func (c *Client) readLoop(r io.Reader) {
	tr := transport.NewReader(r)
	for {
		raw, err := tr.Read()
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			c.cond.Broadcast()
			c.mu.Unlock()
			return
		}
		h, err := transport.Peek(raw)
		m := Message{Raw: raw, Seq: h.Seq, Type: h.Type, Command: h.Command, Event: h.Event,
			RequestSeq: h.RequestSeq, Success: h.Success, Body: transport.Raw(raw, h.Body)}
		if err != nil {
			m.Type = "invalid"
		}
		if h.Message.Valid() {
			_ = json.Unmarshal(transport.Raw(raw, h.Message), &m.Message)
		}
		c.mu.Lock()
		m.N = len(c.msgs)
		c.msgs = append(c.msgs, m)
		c.consumed = append(c.consumed, false)
		c.cond.Broadcast()
		c.mu.Unlock()
	}
}

// nextSeq returns the seq of the next request.
func (c *Client) nextSeq() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	return c.seq
}

// write frames a message and sends it.
func (c *Client) write(m any) {
	raw, err := json.Marshal(m)
	if err != nil {
		panic(err) // a test's own message that does not encode
	}
	_ = c.w.Write(raw)
}

// Send sends a request and returns its seq.
func (c *Client) Send(command string, args any) int {
	seq := c.nextSeq()
	m := map[string]any{"seq": seq, "type": "request", "command": command}
	if args != nil {
		m["arguments"] = args
	}
	c.write(m)
	return seq
}

// SendRaw writes bytes as they are, with no framing.
func (c *Client) SendRaw(w io.Writer, b []byte) { _, _ = w.Write(b) }

// SendBody frames body and sends it.
func (c *Client) SendBody(body []byte) { _ = c.w.Write(body) }

// WaitFor returns the first message not yet taken that matches pred, and
// takes it. It fails the test after timeout.
func (c *Client) WaitFor(t testing.TB, what string, timeout time.Duration, pred func(Message) bool) Message {
	t.Helper()
	m, ok := c.TryWait(timeout, pred)
	if !ok {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.readErr != nil {
			t.Fatalf("waiting for %s: the adapter closed the stream (%v); seen:\n%s", what, c.readErr, c.summaryLocked())
		}
		t.Fatalf("waiting for %s: nothing after %v; seen:\n%s", what, timeout, c.summaryLocked())
	}
	return m
}

// TryWait is WaitFor that returns false instead of failing, when the
// stream ends or the timeout passes first.
func (c *Client) TryWait(timeout time.Duration, pred func(Message) bool) (Message, bool) {
	return c.wait(timeout, true, pred)
}

// Seen waits until a message that matches pred has arrived, taken or not,
// and leaves it where it is: for waiting on a point in the stream (with
// m.N >= a [Client.Mark]) that another wait may still want to take. It
// returns false when the stream ends or the timeout passes first.
func (c *Client) Seen(timeout time.Duration, pred func(Message) bool) (Message, bool) {
	return c.wait(timeout, false, pred)
}

// wait blocks on the client's condition variable until a message matches
// pred (taking it when take is set), the stream ends, or timeout passes.
func (c *Client) wait(timeout time.Duration, take bool, pred func(Message) bool) (Message, bool) {
	deadline := time.Now().Add(timeout)
	// The timer wakes the waiter below when nothing else does.
	timer := time.AfterFunc(timeout, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer timer.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for i, m := range c.msgs {
			if (!take || !c.consumed[i]) && pred(m) {
				if take {
					c.consumed[i] = true
				}
				return m, true
			}
		}
		if c.readErr != nil || time.Now().After(deadline) {
			return Message{}, false
		}
		c.cond.Wait()
	}
}

// Closed waits until the adapter closes its side, and reports whether it
// did before the timeout. The read loop signals the end of the stream on
// the same condition variable as every message.
func (c *Client) Closed(timeout time.Duration) bool {
	_, _ = c.wait(timeout, false, func(Message) bool { return false })
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readErr != nil
}

func (c *Client) summaryLocked() string {
	var b strings.Builder
	start := 0
	if len(c.msgs) > 40 {
		start = len(c.msgs) - 40
	}
	for i := start; i < len(c.msgs); i++ {
		m := c.msgs[i]
		raw := string(m.Raw)
		if len(raw) > 300 {
			raw = raw[:300] + "..."
		}
		fmt.Fprintf(&b, "  %v %s\n", c.consumed[i], raw)
	}
	return b.String()
}

// Mark returns the N the next message will have: pass it to a predicate
// (m.N >= mark) to wait for what comes after this point only.
func (c *Client) Mark() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

// Messages returns every message received so far.
func (c *Client) Messages() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.msgs...)
}

// Response waits for the response to request seq.
func (c *Client) Response(t testing.TB, seq int) Message {
	t.Helper()
	return c.WaitFor(t, fmt.Sprintf("the response to request %d", seq), c.Timeout, func(m Message) bool {
		return m.Type == "response" && m.RequestSeq == seq
	})
}

// Call sends a request and waits for a successful response.
func (c *Client) Call(t testing.TB, command string, args any) Message {
	t.Helper()
	seq := c.Send(command, args)
	m := c.Response(t, seq)
	if !m.Success {
		t.Fatalf("%s failed: %s\n%s", command, m.Message, m.Raw)
	}
	return m
}

// CallErr sends a request and waits for an error response.
func (c *Client) CallErr(t testing.TB, command string, args any) Message {
	t.Helper()
	seq := c.Send(command, args)
	m := c.Response(t, seq)
	if m.Success {
		t.Fatalf("%s succeeded, want an error\n%s", command, m.Raw)
	}
	return m
}

// Event waits for the next event with this name.
func (c *Client) Event(t testing.TB, name string) Message {
	t.Helper()
	return c.WaitFor(t, "event "+name, c.Timeout, func(m Message) bool {
		return m.Type == "event" && m.Event == name
	})
}

// StoppedBody is the body of a stopped event.
type StoppedBody struct {
	Reason            string `json:"reason"`
	ThreadID          int    `json:"threadId"`
	Description       string `json:"description"`
	Text              string `json:"text"`
	AllThreadsStopped bool   `json:"allThreadsStopped"`
}

// Stopped waits for a stopped event and decodes it.
func (c *Client) Stopped(t testing.TB) StoppedBody {
	t.Helper()
	var b StoppedBody
	c.Event(t, "stopped").Decode(t, &b)
	return b
}

// Frame is one stackTrace frame.
type Frame struct {
	ID     int    `json:"id"`
	Name   string `json:"name"`
	Line   int    `json:"line"`
	Source struct {
		Path string `json:"path"`
	} `json:"source"`
}

// StackTrace returns the frames of a thread.
func (c *Client) StackTrace(t testing.TB, thread int) []Frame {
	t.Helper()
	var b struct {
		StackFrames []Frame `json:"stackFrames"`
	}
	c.Call(t, "stackTrace", map[string]any{"threadId": thread, "startFrame": 0, "levels": 50}).Decode(t, &b)
	return b.StackFrames
}

// Variable is one variable.
type Variable struct {
	Name               string `json:"name"`
	Value              string `json:"value"`
	Type               string `json:"type"`
	VariablesReference int    `json:"variablesReference"`
}

// Locals returns the local variables of a frame.
func (c *Client) Locals(t testing.TB, frameID int) map[string]Variable {
	t.Helper()
	var sc struct {
		Scopes []struct {
			Name               string `json:"name"`
			VariablesReference int    `json:"variablesReference"`
		} `json:"scopes"`
	}
	c.Call(t, "scopes", map[string]any{"frameId": frameID}).Decode(t, &sc)
	out := map[string]Variable{}
	for _, s := range sc.Scopes {
		if s.Name != "Locals" && s.Name != "Arguments" {
			continue
		}
		var vb struct {
			Variables []Variable `json:"variables"`
		}
		c.Call(t, "variables", map[string]any{"variablesReference": s.VariablesReference}).Decode(t, &vb)
		for _, v := range vb.Variables {
			out[v.Name] = v
		}
	}
	return out
}

// Evaluate evaluates expr in a frame and returns the result.
func (c *Client) Evaluate(t testing.TB, frameID int, expr string) string {
	t.Helper()
	var b struct {
		Result string `json:"result"`
	}
	c.Call(t, "evaluate", map[string]any{"expression": expr, "frameId": frameID, "context": "watch"}).Decode(t, &b)
	return b.Result
}

// request is the head of the next request for command.
func (c *Client) request(command string) dap.Request {
	return dap.Request{ProtocolMessage: dap.ProtocolMessage{Seq: c.nextSeq(), Type: "request"}, Command: command}
}

// CaptureRequest sends lockscope/capture and returns its seq.
func (c *Client) CaptureRequest(args dapx.CaptureArguments) int {
	r := dapx.CaptureRequest{Request: c.request(dapx.CommandCapture), Arguments: args}
	c.write(r)
	return r.Seq
}

// LoadRequest sends lockscope/load and returns its seq.
func (c *Client) LoadRequest(args dapx.LoadArguments) int {
	r := dapx.LoadRequest{Request: c.request(dapx.CommandLoad), Arguments: args}
	c.write(r)
	return r.Seq
}

// ReportRequest sends lockscope/report and returns its seq.
func (c *Client) ReportRequest() int {
	r := dapx.ReportRequest{Request: c.request(dapx.CommandReport)}
	c.write(r)
	return r.Seq
}

// ClearRequest sends lockscope/clear and returns its seq.
func (c *Client) ClearRequest() int {
	r := dapx.ClearRequest{Request: c.request(dapx.CommandClear)}
	c.write(r)
	return r.Seq
}

// BreakpointsRequest sends lockscope/breakpoints for file:line and returns
// its seq.
func (c *Client) BreakpointsRequest(file string, line int) int {
	r := dapx.BreakpointsRequest{Request: c.request(dapx.CommandBreakpoints), Arguments: dapx.BreakpointsArguments{File: file, Line: line}}
	c.write(r)
	return r.Seq
}

// decodeMessage decodes a whole message (not only its body) into a T.
func decodeMessage[T any](t testing.TB, m Message) *T {
	t.Helper()
	v := new(T)
	if err := json.Unmarshal(m.Raw, v); err != nil {
		t.Fatalf("decoding %s as %T: %v\n%s", m.Name(), v, err, m.Raw)
	}
	return v
}

// reportCommands are the requests answered with the report as it stands.
var reportCommands = map[string]bool{
	dapx.CommandCapture: true, dapx.CommandLoad: true, dapx.CommandReport: true, dapx.CommandClear: true,
}

// ExpectReportResponse waits for the response to request seq, which must
// be a successful answer to lockscope/capture, load, report or clear,
// and decodes it. The report is in its Body.
func (c *Client) ExpectReportResponse(t testing.TB, seq int) *dapx.ReportResponse {
	t.Helper()
	r := decodeMessage[dapx.ReportResponse](t, c.Response(t, seq))
	checkResponse(t, seq, r.Response, reportCommands)
	if r.Body == nil {
		t.Fatalf("the response to %s carries no report", r.Command)
	}
	return r
}

// ExpectBreakpointsResponse waits for the response to request seq, which
// must be a successful answer to lockscope/breakpoints, and decodes it.
func (c *Client) ExpectBreakpointsResponse(t testing.TB, seq int) *dapx.BreakpointsResponse {
	t.Helper()
	r := decodeMessage[dapx.BreakpointsResponse](t, c.Response(t, seq))
	checkResponse(t, seq, r.Response, map[string]bool{dapx.CommandBreakpoints: true})
	return r
}

// checkResponse fails the test unless r is a success that answers one of
// commands.
func checkResponse(t testing.TB, seq int, r dap.Response, commands map[string]bool) {
	t.Helper()
	switch {
	case !r.Success:
		t.Fatalf("%s failed: %s", r.Command, r.Message)
	case !commands[r.Command]:
		t.Fatalf("request %d was answered as %q, not as one of %v", seq, r.Command, commands)
	}
}

// ExpectReportEvent waits for the next lockscope/report event not yet
// taken, and decodes it.
func (c *Client) ExpectReportEvent(t testing.TB) *dapx.ReportEvent {
	t.Helper()
	return c.ExpectReportEventWhere(t, "any report", 0, c.Timeout, nil)
}

// ExpectReportEventWhere waits up to timeout for a lockscope/report event
// whose report satisfies ok (nil: any), from the point from on (a
// [Client.Mark], or 0 for any point), takes it and returns it decoded.
// what says in a failure what the test waited for. A report event that
// does not decode as [dapx.ReportEvent] fails the test at once.
func (c *Client) ExpectReportEventWhere(t testing.TB, what string, from int, timeout time.Duration, ok func(*contention.Report) bool) *dapx.ReportEvent {
	t.Helper()
	var found dapx.ReportEvent
	var bad error
	m := c.WaitFor(t, "a report event with "+what, timeout, func(m Message) bool {
		if m.N < from || m.Type != "event" || m.Event != dapx.EventReport {
			return false
		}
		var e dapx.ReportEvent
		if err := json.Unmarshal(m.Raw, &e); err != nil || e.Body == nil {
			bad = err
			return true // taken, to fail below: the lock is held here
		}
		if ok != nil && !ok(e.Body) {
			return false
		}
		found = e
		return true
	})
	if found.Body == nil {
		t.Fatalf("a report event that is not a dapx.ReportEvent with a report (%v):\n%s", bad, m.Raw)
	}
	return &found
}
