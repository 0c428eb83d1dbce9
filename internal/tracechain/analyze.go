package tracechain

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"

	"golang.org/x/exp/trace"
)

// MinGoMinor is the oldest trace format read: Go 1.22 rewrote the format
// (generations, the wait reasons and unblocker stacks this analysis relies
// on). Older traces are converted by x/exp/trace with other reasons and
// without the same guarantees, so they are refused rather than misread.
const MinGoMinor = 22

// headerLen is the size of the trace header, "go 1.22 trace\x00\x00\x00".
const headerLen = 16

// checkHeader reads the Go version out of a trace header: the minor
// version, 26 for Go 1.26.
func checkHeader(name string, hdr []byte) (int, error) {
	const prefix = "go 1."
	if !bytes.HasPrefix(hdr, []byte(prefix)) {
		if len(hdr) == 0 {
			return 0, fmt.Errorf("%s: empty input, not a Go execution trace", name)
		}
		return 0, fmt.Errorf("%s: not a Go execution trace (it starts with %q, not \"go 1.NN trace\")", name, hdr[:min(len(hdr), 16)])
	}
	rest := hdr[len(prefix):]
	end := bytes.IndexByte(rest, ' ')
	if end <= 0 || !bytes.HasPrefix(rest[end:], []byte(" trace")) {
		return 0, fmt.Errorf("%s: not a Go execution trace (bad header %q)", name, hdr)
	}
	minor, err := strconv.Atoi(string(rest[:end]))
	if err != nil {
		return 0, fmt.Errorf("%s: not a Go execution trace (bad version in header %q)", name, hdr)
	}
	if minor < MinGoMinor {
		return 0, fmt.Errorf("%s: trace written by Go 1.%d; lockscope reads traces from Go 1.%d and later (record it again with a newer Go)", name, minor, MinGoMinor)
	}
	return minor, nil
}

// checkEvery is how many events pass between two looks at the context: a
// few microseconds of work, so a cancel is seen at once and costs nothing.
const checkEvery = 4096

// Analyze reads a whole trace from r and analyses it. A trace that ends
// inside a generation (a capture cut short) keeps its complete generations
// and sets Result.Truncated. Input that is not a trace, or a trace older than
// Go 1.22, is an error that names opts.Name. A panic inside the trace reader
// (hostile input) is returned as an error too.
//
// When ctx ends, Analyze stops within a batch of events (or one read of
// the input, while the reader decodes a generation) and returns an error
// that wraps ctx.Err(), and no result.
//
// A Go 1.26 trace in an io.ReaderAt that can seek (a file) is analysed
// one generation per core when there is more than one (parallel.go), with
// the same result.
func Analyze(ctx context.Context, r io.Reader, opts Options) (res Result, err error) {
	if workers := runtime.GOMAXPROCS(0); workers > 1 {
		if res, ok, err := analyzeAt(ctx, r, opts, workers); ok || err != nil {
			return res, err
		}
	}
	return analyze(ctx, r, opts, runtime.GOMAXPROCS(0) > 1)
}

// analyzeAt analyses r with workers generations at a time when r is a Go
// 1.26 trace it can read at any offset. ok is false when it did not (r
// is then where it was): another kind of input, or a trace the parallel
// analysis cannot vouch for (parallel.go).
func analyzeAt(ctx context.Context, r io.Reader, opts Options, workers int) (res Result, ok bool, err error) {
	ra, is := r.(interface {
		io.ReaderAt
		io.Seeker
	})
	if !is {
		return Result{}, false, nil
	}
	start, err := ra.Seek(0, io.SeekCurrent)
	if err != nil {
		return Result{}, false, nil
	}
	size, err := ra.Seek(0, io.SeekEnd)
	if _, serr := ra.Seek(start, io.SeekStart); err != nil || serr != nil {
		return Result{}, false, nil
	}
	hdr := make([]byte, headerLen)
	if n, _ := ra.ReadAt(hdr, start); n < headerLen {
		return Result{}, false, nil
	}
	if minor, err := checkHeader(opts.Name, hdr); err != nil || minor != genSplitMinor {
		return Result{}, false, nil
	}
	if err := ctx.Err(); err != nil {
		return Result{}, false, fmt.Errorf("%s: trace analysis stopped: %w", opts.withDefaults().Name, err)
	}
	return analyzeParallel(ctx, ra, start, size, opts, workers, nil)
}

// analyze is Analyze, with the reader on a goroutine of its own
// (pipelined) or not.
func analyze(ctx context.Context, r io.Reader, opts Options, pipelined bool) (res Result, err error) {
	opts = opts.withDefaults()
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("%s: trace analysis stopped: %w", opts.Name, err)
	}
	// The reader decodes a whole generation before it hands out its first
	// event; reading through ctx stops that too.
	br := bufio.NewReaderSize(ctxReader{ctx, r}, 64<<10)
	hdr, perr := br.Peek(headerLen)
	if perr != nil && !errors.Is(perr, io.EOF) && !errors.Is(perr, bufio.ErrBufferFull) {
		return Result{}, fmt.Errorf("%s: %w", opts.Name, perr)
	}
	minor, err := checkHeader(opts.Name, hdr)
	if err != nil {
		return Result{}, err
	}

	defer func() {
		if p := recover(); p != nil {
			res = Result{}
			err = fmt.Errorf("%s: the trace reader failed on malformed input: %v", opts.Name, p)
		}
	}()
	if minor == genSplitMinor && len(hdr) == headerLen {
		// One reader per generation: half the memory (generations.go).
		h := make([]byte, headerLen)
		if _, err := io.ReadFull(br, h); err != nil {
			return Result{}, fmt.Errorf("%s: %w", opts.Name, err)
		}
		return analyzeEventsWith(ctx, &genEvents{hdr: h, br: br}, opts, pipelined)
	}
	tr, err := trace.NewReader(br)
	if err != nil {
		if ctx.Err() != nil {
			return Result{}, fmt.Errorf("%s: trace analysis stopped: %w", opts.Name, ctx.Err())
		}
		return Result{}, fmt.Errorf("%s: %w", opts.Name, err)
	}
	return analyzeEventsWith(ctx, tr, opts, pipelined)
}

// eventReader is what analyzeEvents reads: a *trace.Reader.
type eventReader interface {
	ReadEvent() (trace.Event, error)
}

// analyzeEvents runs the analyser over every event of tr, with the reader
// on a core of its own when there is more than one (pipeline.go).
func analyzeEvents(ctx context.Context, tr eventReader, opts Options) (Result, error) {
	return analyzeEventsWith(ctx, tr, opts, runtime.GOMAXPROCS(0) > 1)
}

// analyzeEventsWith is analyzeEvents, with the reader on a goroutine of
// its own or not.
func analyzeEventsWith(ctx context.Context, tr eventReader, opts Options, pipelined bool) (Result, error) {
	if pipelined {
		p := newPipeEvents(ctx, tr)
		defer p.stop()
		tr = p
	}
	a := NewAnalyzer(opts)
	var last trace.Time
	for n := 1; ; n++ {
		if n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return Result{}, fmt.Errorf("%s: trace analysis stopped: %w", opts.Name, err)
			}
		}
		ev, err := tr.ReadEvent()
		if err != nil && ctx.Err() != nil {
			// The read failed because ctx ended (ctxReader): not a damaged
			// trace.
			return Result{}, fmt.Errorf("%s: trace analysis stopped: %w", opts.Name, ctx.Err())
		}
		if err == io.EOF {
			if a.syncs < 2 {
				return Result{}, fmt.Errorf("%s: not a readable trace: it holds no complete generation", opts.Name)
			}
			break
		}
		if err != nil {
			if a.syncs < 2 {
				return Result{}, fmt.Errorf("%s: not a readable trace: no complete generation before: %w", opts.Name, err)
			}
			res := a.Finalize()
			res.Truncated = true
			res.Notes = append(res.Notes, fmt.Sprintf("%s: the trace ends early or is damaged after %d complete generation(s); the rest was not read (%v)", opts.Name, res.Generations, err))
			return res, nil
		}
		// trace.Reader makes every event's time later than the one
		// before; across the readers of genEvents, this does.
		t := ev.Time()
		if t <= last {
			t = last + 1
		}
		last = t
		a.eventAt(&ev, t)
	}
	return a.Finalize(), nil
}

// ctxReader fails its reads once ctx has ended.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
