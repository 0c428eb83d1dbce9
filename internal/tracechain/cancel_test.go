package tracechain

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/exp/trace"
)

// cancelAt is a reader that cancels its context once it has handed out at
// bytes (or reached EOF when at < 0), and counts what it hands out after.
type cancelAt struct {
	r      io.Reader
	at     int64
	cancel context.CancelFunc
	n      int64 // bytes handed out
	after  int64 // bytes handed out once cancelled
	done   bool
}

func (c *cancelAt) Read(p []byte) (int, error) {
	if c.done {
		c.after += int64(len(p))
	}
	if c.at >= 0 && !c.done && c.n+int64(len(p)) > c.at {
		p = p[:c.at-c.n]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if !c.done && ((c.at >= 0 && c.n >= c.at) || (c.at < 0 && err == io.EOF)) {
		c.done = true
		c.cancel()
	}
	return n, err
}

// cancelAfterEvents hands out the events of a real trace and cancels its
// context after at of them, counting those it hands out after.
type cancelAfterEvents struct {
	r         *trace.Reader
	at, n     int64
	cancel    context.CancelFunc
	cancelled bool
	after     int64
}

func (c *cancelAfterEvents) ReadEvent() (trace.Event, error) {
	if c.cancelled {
		c.after++
	}
	ev, err := c.r.ReadEvent()
	if c.n++; c.n == c.at {
		c.cancelled = true
		c.cancel()
	}
	return ev, err
}

// A large trace is cancelled while it is analysed: Analyze returns an
// error that wraps context.Canceled, and no result. Cancelled half-way
// through its input, it reads nothing more; cancelled half-way through the
// events of a generation it has already read (the reader decodes a whole
// generation at once), it stops within one batch of events.
func TestAnalyzeCancelled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "contended.trace")
	if err := recordContendedTrace(path, 1<<20); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	full, err := Analyze(context.Background(), bytes.NewReader(data), Options{Name: "contended.trace"})
	if err != nil {
		t.Fatal(err)
	}
	if full.Events < 10*checkEvery || full.Waits == 0 {
		t.Fatalf("the generated trace is too small to cancel in: %d events, %d waits", full.Events, full.Waits)
	}
	t.Logf("%d bytes, %d generations, %d events", len(data), full.Generations, full.Events)

	// Half-way through the input: nothing more is read.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := &cancelAt{r: bytes.NewReader(data), at: int64(len(data) / 2), cancel: cancel}
	res, err := Analyze(ctx, in, Options{Name: "contended.trace"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Analyze cancelled half-way through its input: %v (%d events analysed), want an error wrapping context.Canceled", err, res.Events)
	}
	if res.Events != 0 || len(res.Hotspots) != 0 {
		t.Errorf("a cancelled analysis returned a result: %d events, %d hotspots", res.Events, len(res.Hotspots))
	}
	if in.after != 0 {
		t.Errorf("Analyze asked for %d more bytes after the cancel", in.after)
	}

	// Half-way through the events of a generation already read: the check
	// between batches of events stops it.
	tr, err := trace.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	evs := &cancelAfterEvents{r: tr, at: full.Events / 2, cancel: cancel}
	res, err = analyzeEvents(ctx, evs, Options{Name: "contended.trace"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("analysis cancelled after %d of %d events: %v, want an error wrapping context.Canceled", evs.at, full.Events, err)
	}
	if res.Events != 0 {
		t.Errorf("a cancelled analysis returned a result of %d events", res.Events)
	}
	if evs.after > checkEvery {
		t.Errorf("%d events were read after the cancel, want at most %d", evs.after, checkEvery)
	}

	// Already cancelled: nothing is read.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := Analyze(ctx, bytes.NewReader(data), Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Analyze with a context already cancelled: %v, want context.Canceled", err)
	}
}
