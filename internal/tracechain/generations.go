package tracechain

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"golang.org/x/exp/trace"
)

// Reading a Go 1.26 trace one generation at a time.
//
// trace.Reader keeps the generation it has handed out while it reads the
// next one whole, so two decoded generations are alive at the peak (and
// each batch sits in a buffer about twice its size). From Go 1.26 a
// generation ends with an explicit end-of-generation batch, and it carries
// its own string and stack tables and the status of every goroutine, so a
// fresh trace.Reader can read it alone. genEvents splits the input at
// those markers and reads each generation with a reader of its own: the
// last one is garbage as soon as the next begins, which halves the peak.
// Goroutine state that spans generations is the analyser's, not the
// reader's: a wait that crosses a boundary shows to a fresh reader as
// Undetermined->Waiting instead of Waiting->Waiting, and the analyser
// keeps it as the same wait.

// The Go 1.26 wire format of a batch header (internal/trace/tracev2 in
// the Go tree): a type byte, the experiment for an experimental batch,
// then the generation, M, timestamp and payload size as uvarints.
const (
	evEventBatch        = 1
	evExperimentalBatch = 49
	evEndOfGeneration   = 52
	maxBatchSize        = 64 << 10
	genSplitMinor       = 26 // the only format genEvents knows
)

// genEvents reads the events of every generation of a Go 1.26 trace, each
// generation with its own trace.Reader, as one stream: the same events
// and the same Sync events as one reader over the whole trace gives.
type genEvents struct {
	hdr    []byte        // the trace header, given to every reader
	br     *bufio.Reader // the input after the header
	tr     *trace.Reader // the current generation's reader; nil between
	gens   int           // readers made
	synced bool          // the current reader has handed out its first Sync
}

func (g *genEvents) ReadEvent() (trace.Event, error) {
	for {
		if g.tr == nil {
			if g.gens > 0 {
				if _, err := g.br.Peek(1); err == io.EOF {
					return trace.Event{}, io.EOF
				} else if err != nil {
					return trace.Event{}, err
				}
			}
			tr, err := trace.NewReader(io.MultiReader(bytes.NewReader(g.hdr), &genReader{br: g.br}))
			if err != nil {
				return trace.Event{}, err
			}
			g.tr, g.gens, g.synced = tr, g.gens+1, false
		}
		ev, err := g.tr.ReadEvent()
		if err == io.EOF {
			g.tr = nil
			continue
		}
		if err != nil {
			return ev, err
		}
		if ev.Kind() == trace.EventSync && !g.synced {
			g.synced = true
			if g.gens > 1 {
				// A reader opens with a Sync, and the last reader
				// closed with one at the same boundary: one is enough.
				continue
			}
		}
		return ev, nil
	}
}

// genReader hands out one generation of the input: its batches, through
// the end-of-generation batch, then io.EOF.
type genReader struct {
	br      *bufio.Reader
	pending []byte // header bytes read and not yet handed out
	payload int64  // payload bytes of the current batch not yet handed out
	ended   bool   // the end-of-generation batch has been read
	buf     [2 + 4*binaryMaxVarintLen]byte
}

const binaryMaxVarintLen = 10

func (g *genReader) Read(p []byte) (int, error) {
	for {
		if len(g.pending) > 0 {
			n := copy(p, g.pending)
			g.pending = g.pending[n:]
			return n, nil
		}
		if g.payload > 0 {
			if int64(len(p)) > g.payload {
				p = p[:g.payload]
			}
			n, err := g.br.Read(p)
			g.payload -= int64(n)
			// io.EOF here is a cut inside a batch: the reader says so.
			return n, err
		}
		if g.ended {
			return 0, io.EOF
		}
		if err := g.nextHeader(); err != nil {
			if len(g.pending) > 0 {
				// Hand out what was read: the reader names the fault.
				continue
			}
			return 0, err
		}
	}
}

// nextHeader reads the next batch header into pending. On a fault (the
// input ends inside the header, a byte that starts no batch, a size past
// the limit) it ends the generation after what it read, so that the
// reader meets the same bytes as it would in the whole trace and reports
// the fault in its own words; with nothing read, it returns the error.
func (g *genReader) nextHeader() error {
	h := g.buf[:0]
	fault := func(err error) error {
		g.pending, g.ended = h, true
		return err
	}
	b, err := g.br.ReadByte()
	if err != nil {
		// io.EOF: the input ends without closing the generation; the
		// reader reports the incomplete generation.
		return err
	}
	h = append(h, b)
	switch b {
	case evEndOfGeneration:
		g.pending, g.ended = h, true
		return nil
	case evExperimentalBatch:
		e, err := g.br.ReadByte()
		if err != nil {
			return fault(err)
		}
		h = append(h, e)
	case evEventBatch:
	default:
		return fault(fmt.Errorf("malformed trace: a batch starts with byte %d", b))
	}
	var size uint64
	for i := 0; i < 4; i++ { // generation, M, timestamp, size
		var v uint64
		for shift := 0; ; shift += 7 {
			c, err := g.br.ReadByte()
			if err != nil {
				return fault(err)
			}
			h = append(h, c)
			if shift > 63 {
				return fault(errors.New("malformed trace: a batch header's number overflows"))
			}
			v |= uint64(c&0x7f) << shift
			if c < 0x80 {
				break
			}
		}
		size = v
	}
	if size > maxBatchSize {
		return fault(fmt.Errorf("malformed trace: batch of %d bytes, at most %d", size, maxBatchSize))
	}
	g.pending, g.payload = h, int64(size)
	return nil
}
