package session

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/capture"
	"github.com/lockscope/lockscope/internal/daptest"
	"github.com/lockscope/lockscope/internal/dapx"
	"github.com/lockscope/lockscope/internal/delve"
	"github.com/lockscope/lockscope/internal/testutil"
	"github.com/lockscope/lockscope/internal/transport"
)

// fakeBackend stands in Delve's place for what real Delve 1.27.2 cannot be
// made to do: send a reverse request (it never sends runInTerminal), or
// vanish in the middle of a request. Everything else is tested against real
// Delve in internal/e2e.
type fakeBackend struct {
	conn net.Conn
	done chan struct{}
}

func (f *fakeBackend) Conn() io.ReadWriteCloser { return f.conn }
func (f *fakeBackend) Done() <-chan struct{}    { return f.done }
func (f *fakeBackend) Name() string             { return "fake" }
func (f *fakeBackend) Close() error             { return f.conn.Close() }

type rig struct {
	s      *Session
	c      *daptest.Client
	br     *transport.Reader
	bw     *transport.Writer
	bconn  net.Conn // the backend's side
	served chan error
}

// start runs a session between a test client and a scripted backend.
func start(t *testing.T) *rig {
	t.Helper()
	cOurs, cTheirs := net.Pipe()
	bOurs, bTheirs := net.Pipe()
	fb := &fakeBackend{conn: bOurs, done: make(chan struct{})}
	s := New(cTheirs, cTheirs, Options{StartBackend: func(context.Context, string, string, []string) (delve.Backend, error) { return fb, nil }})
	r := &rig{s: s, c: daptest.New(cOurs, cOurs), br: transport.NewReader(bTheirs), bw: transport.NewWriter(bTheirs),
		bconn: bTheirs, served: make(chan error, 1)}
	go func() { r.served <- s.Serve(context.Background()) }()
	t.Cleanup(func() { cOurs.Close(); bTheirs.Close() })
	return r
}

// read returns the next message the backend received.
func (r *rig) read(t *testing.T) (transport.Header, []byte) {
	t.Helper()
	msg, err := r.br.Read()
	if err != nil {
		t.Fatalf("backend read: %v", err)
	}
	h, err := transport.Peek(msg)
	if err != nil {
		t.Fatalf("backend got invalid DAP %q: %v", msg, err)
	}
	return h, msg
}

func (r *rig) respond(t *testing.T, requestSeq int, command string, body map[string]any) {
	t.Helper()
	out, _ := json.Marshal(map[string]any{"seq": 1000 + requestSeq, "type": "response", "request_seq": requestSeq,
		"command": command, "success": true, "body": body})
	if err := r.bw.Write(out); err != nil {
		t.Fatal(err)
	}
}

// A reverse request from the backend reaches the client under the client's
// seq space, and the client's answer goes back under the backend's.
func TestReverseRequestRoundTrip(t *testing.T) {
	r := start(t)
	_ = r.bw.Write([]byte(`{"seq":77,"type":"request","command":"runInTerminal","arguments":{"kind":"integrated","args":["dlv"],"futureField":1}}`))
	m := r.c.WaitFor(t, "the reverse request", 5*time.Second, func(m daptest.Message) bool { return m.Type == "request" })
	if m.Command != "runInTerminal" || !strings.Contains(string(m.Raw), `"futureField":1`) {
		t.Fatalf("client got %s", m.Raw)
	}
	resp, _ := json.Marshal(map[string]any{"seq": 5, "type": "response", "request_seq": m.Seq, "command": "runInTerminal",
		"success": true, "body": map[string]any{"processId": 4242}})
	r.c.SendBody(resp)
	h, msg := r.read(t)
	if h.Type != "response" || h.RequestSeq != 77 || !strings.Contains(string(msg), `"processId":4242`) {
		t.Fatalf("backend got %s, want the response to its request 77", msg)
	}
}

// The session's own requests and the client's share the backend's seq
// space without colliding, each response goes back to whoever asked, and
// fields the proxy does not know survive.
func TestOwnRequestsHaveTheirOwnSeq(t *testing.T) {
	r := start(t)
	clientSeq := r.c.Send("threads", nil)
	hClient, _ := r.read(t)

	type result struct {
		msg []byte
		err error
	}
	own := make(chan result, 1)
	go func() {
		_, msg, err := r.s.call(context.Background(), "threads", nil)
		own <- result{msg, err}
	}()
	hOwn, _ := r.read(t)
	if hOwn.Seq == hClient.Seq {
		t.Fatalf("the session's request reused seq %d", hOwn.Seq)
	}
	// Answer in the opposite order, with a field go-dap does not know.
	r.respond(t, hOwn.Seq, "threads", map[string]any{"threads": []any{}, "who": "session"})
	r.respond(t, hClient.Seq, "threads", map[string]any{"threads": []any{}, "who": "client", "supportsANSIStyling": true})
	got := r.c.Response(t, clientSeq)
	if !strings.Contains(string(got.Raw), `"who":"client"`) || !strings.Contains(string(got.Raw), `"supportsANSIStyling":true`) {
		t.Fatalf("client got %s", got.Raw)
	}
	res := <-own
	if res.err != nil || !strings.Contains(string(res.msg), `"who":"session"`) {
		t.Fatalf("session got %s, %v", res.msg, res.err)
	}
	// The session's answer never reached the client.
	for _, m := range r.c.Messages() {
		if strings.Contains(string(m.Raw), `"who":"session"`) {
			t.Fatalf("the client saw the session's own response: %s", m.Raw)
		}
	}
}

// When the backend vanishes mid-request, the client gets an error response
// for what was pending and a terminated event, and Serve returns.
func TestBackendVanishes(t *testing.T) {
	r := start(t)
	seq := r.c.Send("stackTrace", map[string]any{"threadId": 1})
	r.read(t)
	r.bconn.Close()
	resp := r.c.Response(t, seq)
	if resp.Success || !strings.Contains(resp.Message, "Delve went away") {
		t.Fatalf("pending request answered %s, want an error", resp.Raw)
	}
	r.c.Event(t, "terminated")
	select {
	case <-r.served:
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the backend vanished")
	}
}

// An unexpected end is shown to the user; requests still pending when
// Delve ends after the client's disconnect or the program's terminated
// event are answered without a toast: VS Code polls threads right up to the
// end, and the real-VS-Code suite saw "Delve went away" after Shift+F5.
func TestPendingAfterAnExpectedEndShowsNoToast(t *testing.T) {
	r := start(t)
	seq := r.c.Send("stackTrace", map[string]any{"threadId": 1})
	r.read(t)
	r.bconn.Close()
	if resp := r.c.Response(t, seq); !strings.Contains(string(resp.Raw), `"showUser":true`) {
		t.Fatalf("a vanished Delve: %s, want an error shown to the user", resp.Raw)
	}

	r = start(t)
	threads := r.c.Send("threads", nil)
	r.read(t)
	disc := r.c.Send("disconnect", nil)
	h, _ := r.read(t)
	r.respond(t, h.Seq, "disconnect", nil)
	r.c.Response(t, disc)
	r.bconn.Close()
	resp := r.c.Response(t, threads)
	if resp.Success || !strings.Contains(string(resp.Raw), `"showUser":false`) {
		t.Fatalf("threads pending at the disconnect: %s, want an error not shown to the user", resp.Raw)
	}
	// A request sent after that meets a closed pipe ("Delve is not
	// reachable", seen after Shift+F5 in a real VS Code): no toast either.
	late := r.c.Send("threads", nil)
	if resp := r.c.Response(t, late); resp.Success || !strings.Contains(string(resp.Raw), `"showUser":false`) {
		t.Fatalf("threads after the disconnect: %s, want an error not shown to the user", resp.Raw)
	}

	r = start(t)
	st := r.c.Send("stackTrace", map[string]any{"threadId": 1})
	r.read(t)
	_ = r.bw.Write([]byte(`{"seq":900,"type":"event","event":"terminated","body":{}}`))
	r.c.Event(t, "terminated")
	r.bconn.Close()
	if resp := r.c.Response(t, st); !strings.Contains(string(resp.Raw), `"showUser":false`) {
		t.Fatalf("stackTrace pending at terminated: %s, want an error not shown to the user", resp.Raw)
	}
}

// A panic in a lockscope request handler becomes an error response, and
// the session goes on.
func TestHandlerPanicIsAnErrorResponse(t *testing.T) {
	r := start(t)
	seq := r.c.Send("lockscope/breakpoints", map[string]any{"file": 12, "line": "x"})
	resp := r.c.Response(t, seq)
	if resp.Success {
		t.Fatalf("bad arguments succeeded: %s", resp.Raw)
	}
	r.s.ext.mu.Lock()
	r.s.ext.report = nil // a broken invariant: handlers that read it panic
	r.s.ext.mu.Unlock()
	seq = r.c.Send("lockscope/breakpoints", map[string]any{"file": "/x.go", "line": 3})
	resp = r.c.Response(t, seq)
	if resp.Success || resp.ErrorID() != 7003 {
		t.Fatalf("panicking handler answered %s, want internal error 7003", resp.Raw)
	}
	r.s.ext.mu.Lock()
	r.s.ext.report = r.s.ext.pipe.Build()
	r.s.ext.mu.Unlock()
	r.c.Call(t, "lockscope/report", nil)
}

// A capture asked while the program is stopped or after it exited answers
// with an error, but not one that pops a notification: those are states
// the user is in, not faults to act on (showUser is for those).
func TestCaptureInOrdinaryStatesShowsNoToast(t *testing.T) {
	r := start(t)
	e := r.s.ext
	for _, tc := range []struct {
		name            string
		stopped, exited bool
		id              int
	}{
		{"stopped", true, false, dapx.ErrProgramStopped},
		{"exited", false, true, dapx.ErrNoProgram},
	} {
		e.mu.Lock()
		e.agent, e.dbg.stopped, e.dbg.exited = &capture.Agent{}, tc.stopped, tc.exited
		e.mu.Unlock()
		resp := r.c.CallErr(t, dapx.CommandCapture, map[string]any{})
		var b struct {
			Error struct {
				ID       int  `json:"id"`
				ShowUser bool `json:"showUser"`
			} `json:"error"`
		}
		resp.Decode(t, &b)
		if b.Error.ID != tc.id || b.Error.ShowUser {
			t.Errorf("%s: error id %d, showUser %v; want id %d without showUser\n%s", tc.name, b.Error.ID, b.Error.ShowUser, tc.id, resp.Raw)
		}
	}
}

// The capture agent's goroutines (the ids it wrote in its folder) are left
// out of the threads the client sees, the user's threads go through with
// every field Delve wrote, and showAgentGoroutines keeps them all.
func TestThreadsLeaveOutTheAgent(t *testing.T) {
	r := start(t)
	inj, err := capture.Prepare(capture.PrepareOptions{Program: filepath.Join(testutil.ModuleRoot(t), "testdata", "short")})
	if err != nil {
		t.Fatal(err)
	}
	defer inj.Close()
	if err := os.WriteFile(filepath.Join(inj.RendezvousDir(), "goroutines"), []byte("7\n8\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.s.ext.mu.Lock()
	r.s.ext.inj = inj
	r.s.ext.mu.Unlock()
	threads := []any{
		map[string]any{"id": 1, "name": "* [Go 1] main.main", "futureField": true},
		map[string]any{"id": 7, "name": "[Go 7] internal/poll.runtime_pollWait"},
		map[string]any{"id": 8, "name": "[Go 8] time.Sleep"},
		map[string]any{"id": 12, "name": "[Go 12] main.bump"},
	}
	ask := func() []int {
		seq := r.c.Send("threads", nil)
		h, _ := r.read(t)
		r.respond(t, h.Seq, "threads", map[string]any{"threads": threads})
		resp := r.c.Response(t, seq)
		if !strings.Contains(string(resp.Raw), `"futureField":true`) {
			t.Errorf("a field of a kept thread was lost: %s", resp.Raw)
		}
		var b struct {
			Threads []struct {
				ID int `json:"id"`
			} `json:"threads"`
		}
		resp.Decode(t, &b)
		var ids []int
		for _, th := range b.Threads {
			ids = append(ids, th.ID)
		}
		return ids
	}
	if got := ask(); !slices.Equal(got, []int{1, 12}) {
		t.Errorf("threads %v, want 1 and 12 without the agent's 7 and 8", got)
	}
	r.s.ext.mu.Lock()
	r.s.ext.dbg.info.Config.ShowAgentGoroutines = true
	r.s.ext.mu.Unlock()
	if got := ask(); !slices.Equal(got, []int{1, 7, 8, 12}) {
		t.Errorf("with showAgentGoroutines: threads %v, want all four", got)
	}
}

// A panic while preparing a launch becomes an error response for that
// launch; the requests held behind it go on, and Serve still returns when
// Delve leaves (the launch's goroutine is the session's own).
func TestPanickingLaunchIsAnErrorResponse(t *testing.T) {
	testHookLaunch = func() { panic("launch hook exploded") }
	t.Cleanup(func() { testHookLaunch = nil })
	r := start(t)
	seq := r.c.Send("launch", map[string]any{"mode": "exec", "program": "/nonexistent"})
	next := r.c.Send("threads", nil)
	resp := r.c.Response(t, seq)
	if resp.Success || resp.ErrorID() != dapx.ErrInternal || !strings.Contains(string(resp.Raw), "launch hook exploded") {
		t.Fatalf("panicking launch answered %s, want internal error %d naming the panic", resp.Raw, dapx.ErrInternal)
	}
	h, _ := r.read(t)
	if h.Command != "threads" {
		t.Fatalf("backend got %q after the failed launch, want the held threads request", h.Command)
	}
	r.respond(t, h.Seq, "threads", map[string]any{"threads": []any{}})
	if resp := r.c.Response(t, next); !resp.Success {
		t.Fatalf("threads after the failed launch: %s", resp.Raw)
	}
	r.bconn.Close()
	select {
	case <-r.served:
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return after Delve left")
	}
}
