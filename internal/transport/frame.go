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
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// MaxMessage caps one message body. A DAP message larger than this is
// refused instead of being allocated, so a hostile peer cannot exhaust memory.
const MaxMessage = 256 << 20

// MaxHeaderLine caps one header line. DAP headers are a few dozen bytes; an
// endless line would otherwise be buffered whole (512 MiB cost 531 MB).
const MaxHeaderLine = 4 << 10

// FrameError is a framing error after which the stream can go on: the bad
// header was skipped and the reader stands at the next message.
type FrameError struct{ Msg string }

func (e *FrameError) Error() string { return "malformed DAP frame: " + e.Msg }

// ProtocolError means the peer does not speak DAP at all (an HTTP request, a
// header DAP does not define, an endless header line) or announced a body it
// must not send. The caller reports it and closes the connection: a DAP client
// never sends such bytes, and resynchronising on them is what would let a web
// page's POST to a --listen port have its body run as DAP requests.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "not a DAP stream: " + e.Msg }

// MaxRequest is the largest message lockscope accepts from a client. Real
// requests are kilobytes (a setBreakpoints for a file with a thousand
// breakpoints is about 100 KB); a valid 4 MiB message killed the embedded
// Delve, and a 200 MiB lockscope/load path cost 1.27 GB. A larger one is
// skipped unread past its first bytes and answered with an error.
const MaxRequest = 16 << 20

// tooLargeHead is how much of a skipped message is kept, to find its seq
// and command for the error response.
const tooLargeHead = 4 << 10

// TooLargeError is returned for a message larger than the Reader's limit
// (see [Reader.LimitMessages]); the stream goes on after it. Head and Tail
// are the message's first and last bytes, which [TooLargeError.Routing]
// reads its seq and command from.
type TooLargeError struct {
	Size, Limit int64
	Head, Tail  []byte
}

var (
	seqField     = regexp.MustCompile(`"seq"\s*:\s*(\d+)`)
	commandField = regexp.MustCompile(`"command"\s*:\s*"([^"\\]{1,100})"`)
)

// Routing returns the seq and command of the skipped message, as far as
// its first and last bytes tell: clients put the routing fields before
// the arguments (go-dap, Delve's tests) or after them (VS Code writes
// command, arguments, type, seq). It is a best guess, good enough to
// address an error response; zero values when not found.
func (e *TooLargeError) Routing() (seq int, command string) {
	h, _ := Peek(e.Head) // stops at the cut, with the fields before it
	seq, command = h.Seq, h.Command
	if !h.SeqSpan.Valid() {
		if m := seqField.FindAllSubmatch(e.Tail, -1); len(m) > 0 {
			seq, _ = strconv.Atoi(string(m[len(m)-1][1]))
		}
	}
	if command == "" {
		if m := commandField.FindSubmatch(e.Head); m != nil {
			command = string(m[1])
		} else if m := commandField.FindAllSubmatch(e.Tail, -1); len(m) > 0 {
			command = string(m[len(m)-1][1])
		}
	}
	return seq, command
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("a message of %d bytes exceeds the %d-byte (%d MiB) request limit", e.Size, e.Limit, e.Limit>>20)
}

// Reader reads framed DAP messages.
type Reader struct {
	r      *bufio.Reader
	limit  int64 // 0: MaxMessage only
	broken error // the *ProtocolError returned, returned again ever after
}

// LimitMessages makes Read skip messages larger than n bytes (at most
// MaxMessage; at least twice the bytes it keeps of each) and return a
// *TooLargeError for each.
func (r *Reader) LimitMessages(n int64) { r.limit = max(n, 2*tooLargeHead) }

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10)}
}

// readLine returns the next header line without its line ending. It never
// buffers more than MaxHeaderLine bytes.
func (r *Reader) readLine() (string, error) {
	var line []byte
	for {
		chunk, err := r.r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > MaxHeaderLine {
			return "", &ProtocolError{Msg: fmt.Sprintf("a header line is longer than %d bytes", MaxHeaderLine)}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return string(line), err
		}
		return strings.TrimRight(string(line), "\r\n"), nil
	}
}

// Read returns the next message body. It returns a *FrameError for a bad
// Content-Length value or a missing one (the caller may report it and read
// on), a *ProtocolError for bytes that are not DAP at all (the caller must
// close the connection), io.EOF at a clean end, and another error when the
// stream is broken. A *ProtocolError is terminal: every later Read returns
// it again, so that no caller can resynchronise on bytes that were never
// DAP (a browser's POST body run as requests).
func (r *Reader) Read() ([]byte, error) {
	if r.broken != nil {
		return nil, r.broken
	}
	body, err := r.read()
	var pe *ProtocolError
	if errors.As(err, &pe) {
		r.broken = err
	}
	return body, err
}

func (r *Reader) read() ([]byte, error) {
	length := -1
	var bad string
	sawHeader := false
	for {
		line, err := r.readLine()
		if err != nil {
			var pe *ProtocolError
			if errors.As(err, &pe) {
				return nil, err
			}
			if err == io.EOF && line == "" && !sawHeader {
				return nil, io.EOF
			}
			if err == io.EOF {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
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
			// "POST / HTTP/1.1", "GET /json/version HTTP/1.1", or garbage.
			return nil, &ProtocolError{Msg: fmt.Sprintf("header line %q has no colon", truncate(line))}
		}
		switch {
		case strings.EqualFold(strings.TrimSpace(name), "Content-Length"):
			n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
			if err != nil || n < 0 {
				if bad == "" {
					bad = fmt.Sprintf("bad Content-Length %q", truncate(strings.TrimSpace(value)))
				}
				continue
			}
			if n > MaxMessage {
				// Skipping that many bytes would swallow everything the
				// client sends after it; refuse and let the caller close.
				return nil, &ProtocolError{Msg: fmt.Sprintf("a message of %d bytes exceeds the %d-byte limit", n, MaxMessage)}
			}
			length = int(n)
		case strings.EqualFold(strings.TrimSpace(name), "Content-Type"):
			// The base protocol allows it (vscode-jsonrpc sends it); ignore.
		default:
			// Host:, Origin:, User-Agent: ... come from HTTP clients only.
			return nil, &ProtocolError{Msg: fmt.Sprintf("%q is not a DAP header", truncate(strings.TrimSpace(name)))}
		}
	}
	if bad != "" {
		return nil, &FrameError{Msg: bad}
	}
	if length < 0 {
		return nil, &FrameError{Msg: "missing Content-Length header"}
	}
	if r.limit > 0 && int64(length) > r.limit {
		// Skip it with two small buffers, never the whole message.
		head := make([]byte, tooLargeHead)
		tail := make([]byte, tooLargeHead)
		_, err := io.ReadFull(r.r, head)
		if err == nil {
			_, err = io.CopyN(io.Discard, r.r, int64(length-2*tooLargeHead))
		}
		if err == nil {
			_, err = io.ReadFull(r.r, tail)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		return nil, &TooLargeError{Size: int64(length), Limit: r.limit, Head: head, Tail: tail}
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
