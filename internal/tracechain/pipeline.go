package tracechain

import (
	"context"
	"sync/atomic"

	"golang.org/x/exp/trace"
)

// Decoding on one core, analysing on another.
//
// Most of Analyze's time goes to x/exp/trace ordering and decoding events
// (measured on a 50 MB trace: about 60% of Analyze's CPU in the reader,
// 35% in the analyser, the event's StateTransition included). pipeEvents
// runs the reader on a goroutine of its own and hands its events over in
// chunks, in the reader's order, so the two halves overlap while the
// analyser still sees exactly the events one reader gives, in the same
// order: the result is the sequential one by construction.
//
// Decoding the generations themselves in parallel does not help one
// analyser: most of a reader's time goes to handing out events one by one
// (ordering them across Ms: 85% of the read loop, against 15% for loading
// a generation's batches and tables), and the analyser needs them in
// order. A reader running ahead on the next generation would have to keep
// its events until the analyser gets there: millions of events, far past
// the 150 MB the trace path keeps to. What uses more cores is one
// analyser per generation, with waits and chains that cross a boundary
// stitched at the merge (parallel.go); it needs to read the input at any
// offset, so the pipeline is what a stream (a pipe, a socket) gets.

// pipeChunk is the number of events handed over at once: about a
// millisecond of decoding, so that the two goroutines seldom wait for each
// other (each wait parks a thread, and wakes another to look for work).
const (
	pipeChunk  = 4096
	pipeChunks = 4 // in flight: one being filled, one being read, two queued
)

// pipeChunkOf is a batch of events in the reader's order, and how the
// reader stopped after them, if it did.
type pipeChunkOf struct {
	evs   []trace.Event
	err   error // the reader's error after evs (io.EOF at the end)
	panic any   // the reader panicked after evs (malformed input)
	// sync: evs ends with a Sync, the end of a generation.
	sync bool
}

// pipeEvents reads src on a goroutine of its own, ahead of its caller by
// at most pipeChunks chunks. It owns that goroutine: stop ends it and
// waits for it, so that nothing reads src once stop has returned.
type pipeEvents struct {
	full     chan *pipeChunkOf
	free     chan *pipeChunkOf
	done     chan struct{} // closed by stop
	stopping atomic.Bool   // stop was called: read no more
	exited   chan struct{} // closed when the reading goroutine returns
	// The reading goroutine loads stopping before every event, and the
	// caller's goroutine writes next after every event: on one cache line,
	// each write took the line from the other core, which doubled the CPU
	// time of a pipelined analysis and made it slower than reading alone
	// (a CPU profile put 1.1 s of 9.5 s on the atomic load).
	_    cacheLinePad
	cur  *pipeChunkOf
	next int
	_    cacheLinePad
}

// cacheLinePad keeps the fields on either side of it off one cache line
// (128 bytes: adjacent-line prefetch pairs 64-byte lines on x86).
type cacheLinePad [128]byte

func newPipeEvents(ctx context.Context, src eventReader) *pipeEvents {
	p := &pipeEvents{
		full:   make(chan *pipeChunkOf, pipeChunks),
		free:   make(chan *pipeChunkOf, pipeChunks),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	for range pipeChunks {
		p.free <- &pipeChunkOf{evs: make([]trace.Event, 0, pipeChunk)}
	}
	go p.read(ctx, src)
	return p
}

// read fills chunks from src until src ends, fails or panics, or stop is
// called.
func (p *pipeEvents) read(ctx context.Context, src eventReader) {
	defer close(p.exited)
	for {
		var c *pipeChunkOf
		select {
		case c = <-p.free:
		case <-p.done:
			return
		}
		p.fill(ctx, src, c)
		select {
		case p.full <- c:
		case <-p.done:
			return
		}
		if c.err != nil || c.panic != nil {
			return
		}
		if c.sync && !p.drained() {
			return
		}
	}
}

// drained waits until the caller has read every event handed over and
// clears them: at a generation's end, so that none of its events keeps
// its tables alive while the reader decodes the next one whole (the peak
// that reading one generation at a time halves, generations.go). It
// reports false when stop was called.
func (p *pipeEvents) drained() bool {
	got := make([]*pipeChunkOf, 0, pipeChunks)
	for len(got) < pipeChunks {
		select {
		case c := <-p.free:
			got = append(got, c)
		case <-p.done:
			return false
		}
	}
	for _, c := range got {
		clear(c.evs)
		p.free <- c
	}
	return true
}

// fill reads events into c until it is full, src stops, ctx ends or stop
// is called; both are looked at before every read (an atomic load each,
// nothing next to decoding an event), so that a cancel or a stop costs at
// most the read in progress. A panic in the reader is kept for the
// caller's goroutine, where Analyze turns it into an error, as it does
// when it reads alone.
func (p *pipeEvents) fill(ctx context.Context, src eventReader, c *pipeChunkOf) {
	// Events left from the chunk's last use would keep their generation
	// alive.
	clear(c.evs)
	c.evs, c.err, c.panic, c.sync = c.evs[:0], nil, nil, false
	defer func() {
		if v := recover(); v != nil {
			c.panic = v
		}
	}()
	for len(c.evs) < cap(c.evs) {
		if err := ctx.Err(); err != nil {
			// The caller sees ctx ended and says so.
			c.err = err
			return
		}
		if p.stopping.Load() {
			return // no one reads c
		}
		ev, err := src.ReadEvent()
		if err != nil {
			c.err = err
			return
		}
		c.evs = append(c.evs, ev)
		if ev.Kind() == trace.EventSync {
			c.sync = true
			return
		}
	}
}

// ReadEvent returns the next event of src, or the error src stopped
// with, after all the events before it.
func (p *pipeEvents) ReadEvent() (trace.Event, error) {
	for p.cur == nil || p.next == len(p.cur.evs) {
		if c := p.cur; c != nil {
			if c.panic != nil {
				panic(c.panic)
			}
			if c.err != nil {
				return trace.Event{}, c.err
			}
			p.free <- c // never blocks: free has room for every chunk
		}
		p.cur, p.next = <-p.full, 0
	}
	ev := p.cur.evs[p.next]
	p.next++
	return ev, nil
}

// stop ends the reading goroutine and waits for it, a read in progress
// included.
func (p *pipeEvents) stop() {
	p.stopping.Store(true)
	close(p.done)
	<-p.exited
}
