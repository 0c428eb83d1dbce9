// Package transport reads and writes DAP messages as raw bytes.
//
// Framing (the Content-Length header) is kept apart from decoding, as in
// go-dap's io.go. lockscope relays messages it does not own byte for byte:
// go-dap v0.12.0 drops fields it does not know (supportsANSIStyling,
// valueLocationReference) and refuses commands it does not know (locations)
// when it re-encodes, so the proxy only peeks at a few top-level fields with
// [Peek] and patches seq numbers in place with [Patch].
package transport

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// MaxMessage caps one message body. A DAP message larger than this is
// refused instead of being allocated, so a hostile peer cannot exhaust memory.
const MaxMessage = 256 << 20

// FrameError is a framing error after which the stream can go on: the bad
// header was skipped and the reader stands at the next message.
type FrameError struct{ Msg string }

func (e *FrameError) Error() string { return "malformed DAP frame: " + e.Msg }

// Reader reads framed DAP messages.
type Reader struct {
	r *bufio.Reader
}

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10)}
}

// Read returns the next message body. It returns a *FrameError for a bad
// header (the caller may report it and read on), io.EOF at a clean end, and
// another error when the stream is broken.
func (r *Reader) Read() ([]byte, error) {
	length := -1
	var bad string
	sawHeader := false
	for {
		line, err := r.r.ReadString('\n')
		if err != nil {
			if err == io.EOF && line == "" && !sawHeader {
				return nil, io.EOF
			}
			if err == io.EOF {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if !sawHeader {
				// Stray blank lines between messages are harmless.
				continue
			}
			break
		}
		sawHeader = true
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			if bad == "" {
				bad = fmt.Sprintf("header line %q has no colon", truncate(line))
			}
			continue
		}
		if strings.EqualFold(strings.TrimSpace(name), "Content-Length") {
			n, err := strconv.Atoi(strings.TrimSpace(value))
			if err != nil || n < 0 {
				if bad == "" {
					bad = fmt.Sprintf("bad Content-Length %q", truncate(strings.TrimSpace(value)))
				}
				continue
			}
			length = n
		}
	}
	if bad != "" {
		return nil, &FrameError{Msg: bad}
	}
	if length < 0 {
		return nil, &FrameError{Msg: "missing Content-Length header"}
	}
	if length > MaxMessage {
		// Skip the body so the stream stays in step.
		if _, err := io.CopyN(io.Discard, r.r, int64(length)); err != nil {
			return nil, err
		}
		return nil, &FrameError{Msg: fmt.Sprintf("message of %d bytes exceeds the %d-byte limit", length, MaxMessage)}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r.r, body); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return body, nil
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// Writer writes framed DAP messages. It is safe for concurrent use: each
// message goes out whole, header and body in one Write, which also saves a
// system call per message over writing them apart.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	buf bytes.Buffer
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write frames body and writes it.
func (w *Writer) Write(body []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Reset()
	w.buf.WriteString("Content-Length: ")
	w.buf.WriteString(strconv.Itoa(len(body)))
	w.buf.WriteString("\r\n\r\n")
	w.buf.Write(body)
	_, err := w.w.Write(w.buf.Bytes())
	if w.buf.Cap() > 1<<20 {
		// Do not keep a large buffer alive after one big variables response.
		w.buf = bytes.Buffer{}
	}
	return err
}
