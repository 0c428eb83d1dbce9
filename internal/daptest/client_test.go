package daptest

import (
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/dapx"
	"github.com/lockscope/lockscope/internal/transport"
)

// peer is the adapter's side of a client under test: it reads what the
// client sends and writes what a test scripts. The real adapter is in
// internal/e2e; this side lets a test check the client's wire format and
// its decoding alone.
type peer struct {
	r *transport.Reader
	w *transport.Writer
}

func newPair(t *testing.T) (*Client, *peer) {
	t.Helper()
	toAdapter, clientOut := io.Pipe()
	clientIn, fromAdapter := io.Pipe()
	c := New(clientIn, clientOut)
	c.Timeout = 10 * time.Second
	t.Cleanup(func() {
		fromAdapter.Close()
		toAdapter.Close()
	})
	return c, &peer{r: transport.NewReader(toAdapter), w: transport.NewWriter(fromAdapter)}
}

func (p *peer) read(t *testing.T) string {
	t.Helper()
	raw, err := p.r.Read()
	if err != nil {
		t.Fatalf("reading the client's request: %v", err)
	}
	return string(raw)
}

func (p *peer) send(t *testing.T, msg string) {
	t.Helper()
	if err := p.w.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// TestRequestsOnTheWire checks the typed requests against the wire names
// that clients depend on.
func TestRequestsOnTheWire(t *testing.T) {
	c, p := newPair(t)
	for _, tc := range []struct {
		send func() int
		want string
	}{
		{func() int { return c.CaptureRequest(dapx.CaptureArguments{Kinds: []string{"mutex"}, Seconds: 1.5}) },
			`{"seq":1,"type":"request","command":"lockscope/capture","arguments":{"kinds":["mutex"],"seconds":1.5}}`},
		{func() int { return c.LoadRequest(dapx.LoadArguments{Path: "/tmp/m.pprof", Kind: "mutex"}) },
			`{"seq":2,"type":"request","command":"lockscope/load","arguments":{"path":"/tmp/m.pprof","kind":"mutex"}}`},
		{c.ReportRequest, `{"seq":3,"type":"request","command":"lockscope/report"}`},
		{c.ClearRequest, `{"seq":4,"type":"request","command":"lockscope/clear"}`},
		{func() int { return c.BreakpointsRequest("/src/main.go", 32) },
			`{"seq":5,"type":"request","command":"lockscope/breakpoints","arguments":{"file":"/src/main.go","line":32}}`},
	} {
		done := make(chan int, 1)
		go func() { done <- tc.send() }()
		if got := p.read(t); got != tc.want {
			t.Errorf("sent %s\nwant %s", got, tc.want)
		}
		var head struct{ Seq int }
		if err := json.Unmarshal([]byte(tc.want), &head); err != nil {
			t.Fatal(err)
		}
		if seq := <-done; seq != head.Seq {
			t.Errorf("returned seq %d for %s", seq, tc.want)
		}
	}
}

// TestExpectDecodesTypes checks that the Expect helpers decode responses
// and events into dapx's types, and refuse what a client could not read.
func TestExpectDecodesTypes(t *testing.T) {
	c, p := newPair(t)
	p.send(t, `{"seq":1,"type":"event","event":"lockscope/report","body":{"hotspots":[{"kind":"mutex","file":"/a.go","line":3,"function":"main.f"}]}}`)
	p.send(t, `{"seq":2,"type":"event","event":"lockscope/report","body":{"hotspots":[{"kind":"block","file":"/b.go","line":9,"function":"main.g"}]}}`)
	// Waiting for a condition takes the matching event and leaves the
	// others for later.
	e := c.ExpectReportEventWhere(t, "a block hotspot", 0, 10*time.Second, func(r *contention.Report) bool {
		return len(r.Hotspots) == 1 && r.Hotspots[0].Kind == contention.KindBlock
	})
	if e.Event.Event != dapx.EventReport || e.Seq != 2 || e.Body.Hotspots[0].Line != 9 {
		t.Errorf("ExpectReportEventWhere = %+v", e)
	}
	if e := c.ExpectReportEvent(t); e.Seq != 1 || e.Body.Hotspots[0].Function != "main.f" {
		t.Errorf("ExpectReportEvent = %+v, want the first event", e)
	}

	p.send(t, `{"seq":3,"type":"response","request_seq":7,"command":"lockscope/capture","success":true,"body":{"sources":[{"kind":"mutex","origin":"agent"}]}}`)
	if r := c.ExpectReportResponse(t, 7); len(r.Body.Sources) != 1 || r.Body.Sources[0].Kind != contention.KindMutex {
		t.Errorf("ExpectReportResponse = %+v", r)
	}
	p.send(t, `{"seq":4,"type":"response","request_seq":8,"command":"lockscope/breakpoints","success":true,"body":{"breakpoints":[{"kind":"source","file":"/a.go","line":3,"condition":"x > 1"}],"reason":""}}`)
	if r := c.ExpectBreakpointsResponse(t, 8); len(r.Body.Breakpoints) != 1 || r.Body.Breakpoints[0].Condition != "x > 1" {
		t.Errorf("ExpectBreakpointsResponse = %+v", r)
	}
}

// TestSeenAndClosed checks that Seen waits for a message without
// taking it, and Closed for the end of the stream.
func TestSeenAndClosed(t *testing.T) {
	toAdapter, clientOut := io.Pipe()
	clientIn, fromAdapter := io.Pipe()
	defer toAdapter.Close()
	c := New(clientIn, clientOut)
	p := &peer{w: transport.NewWriter(fromAdapter)}
	mark := c.Mark()
	p.send(t, `{"seq":1,"type":"event","event":"output","body":{"output":"x"}}`)
	if _, ok := c.Seen(10*time.Second, func(m Message) bool { return m.N >= mark && m.Event == "output" }); !ok {
		t.Fatal("Seen did not see the event")
	}
	if _, ok := c.TryWait(0, func(m Message) bool { return m.Event == "output" }); !ok {
		t.Error("Seen took the event: TryWait found none left")
	}
	if c.Closed(0) {
		t.Error("Closed = true while the stream is open")
	}
	fromAdapter.Close()
	if !c.Closed(10 * time.Second) {
		t.Error("Closed = false after the adapter closed its side")
	}
}
