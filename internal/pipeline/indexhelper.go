package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lockscope/lockscope/internal/mapwrites"
)

// The index helper: the source index's load (its go commands, parsing and
// type-checking) run in a process of its own, which the adapter starts
// from its own binary (IndexOptions.Helper; ServeIndexHelper is its main).
// Measured on the first F5 of testdata/ledger (2 cores): the index's four
// go commands, in the adapter, made the first stop 1.38× plain Delve's.
// Two things cost:
//   - the embedded Delve reaps any child of the adapter (wait4(-1)) once
//     the debuggee runs, so the adapter held configurationDone until the
//     index's go commands were done. The helper's go commands are its own
//     children, out of Delve's reach: configurationDone waits for nothing.
//     The helper itself is still the adapter's child, and Delve may reap
//     it; what that loses is its exit status, which the adapter does not
//     need: the result is framed, and complete only with its length.
//   - the go commands took CPU from Delve's build and its reading of the
//     debug information. The helper runs at a low CPU priority
//     (helperNice), and everything it starts inherits it: it gets what
//     those leave.
//
// The protocol. The adapter writes one JSON line (helperRequest) to the
// helper's stdin, then, once the helper has said its go commands are done
// and the session lets the index type-check, one byte, 'r'. The helper
// writes frames to its stdout: a kind byte, a big-endian uint32 length and
// that many bytes. 'L' (empty) says the go commands are done; 'R' holds the
// result (gob of helperResult) and is the last. The helper then waits for
// its stdin to close before it exits, so that it lives, and its process
// group with it, for as long as the adapter may kill that group.
//
// Ends: when its stdin closes before the result (the adapter is gone, even
// SIGKILLed, or it cancelled the load), the helper kills its process group
// (itself and every go command and compiler under it). The adapter, when
// the load is cancelled (a restart, a disconnect), kills that group itself
// too: nothing the helper started outlives the session.

// helperProtocol is the version of the protocol; a helper refuses any
// other (a lockscope binary replaced while a session ran).
const helperProtocol = 1

// Frame kinds.
const (
	frameListed = 'L'
	frameResult = 'R'
	resumeByte  = 'r'
)

// maxFrame bounds a frame's length: a length beyond it is a broken stream,
// not an index (gopls's encodes in a few MB).
const maxFrame = 1 << 30

// helperRequest is what the adapter asks of the helper.
type helperRequest struct {
	Protocol   int      `json:"protocol"`
	Dir        string   `json:"dir"`
	BuildFlags []string `json:"buildFlags"`
	Tests      bool     `json:"tests"`
	Modules    []string `json:"modules"`
}

// helperResult is the helper's answer: the index encoded as the disk cache
// encodes it (a decoded index equals the loaded one field for field), the
// packages the load read (for the cache), or the load's error.
type helperResult struct {
	Err     string
	Index   []byte
	Sources []mapwrites.SourcePackage
}

// writeFrame writes one frame.
func writeFrame(w io.Writer, kind byte, payload []byte) error {
	var hdr [5]byte
	hdr[0] = kind
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	if _, err := w.Write(append(hdr[:], payload...)); err != nil {
		return err
	}
	return nil
}

// readFrame reads one frame; a stream that ends inside one is
// io.ErrUnexpectedEOF.
func readFrame(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("a frame of %d bytes", n)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return hdr[0], payload, nil
}

// ServeIndexHelper is the index helper's main: it reads the request from
// stdin, loads the index, and writes the frames to stdout. It returns the
// process's exit code.
func ServeIndexHelper(stdin io.Reader, stdout io.Writer) int {
	in := bufio.NewReader(stdin)
	line, err := in.ReadBytes('\n')
	if err != nil {
		return 2
	}
	var req helperRequest
	var res helperResult
	if err := json.Unmarshal(line, &req); err != nil {
		res.Err = fmt.Sprintf("index helper: bad request: %v", err)
	} else if req.Protocol != helperProtocol {
		res.Err = fmt.Sprintf("index helper: protocol %d, want %d (the lockscope binary changed during the session)", req.Protocol, helperProtocol)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resume := make(chan struct{})
	stdinClosed := make(chan struct{})
	var answered atomic.Bool
	go func() {
		defer close(stdinClosed)
		var b [1]byte
		resumed := false
		for {
			if _, err := in.Read(b[:]); err != nil {
				break
			}
			if b[0] == resumeByte && !resumed {
				resumed = true
				close(resume)
			}
		}
		if !answered.Load() {
			// The adapter is gone, or gave up on the load: nothing of
			// the load may go on running.
			cancel()
			endHelperGroup()
		}
	}()
	var mu sync.Mutex // the frames on stdout
	if res.Err == "" {
		listed := func() {
			mu.Lock()
			err := writeFrame(stdout, frameListed, nil)
			mu.Unlock()
			if err != nil {
				cancel()
				return
			}
			select {
			case <-resume:
			case <-ctx.Done():
			}
		}
		res = loadForHelper(req, mapwrites.Options{BuildFlags: req.BuildFlags, Tests: req.Tests, Modules: req.Modules, Listed: listed, Context: ctx})
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(res); err != nil {
		return 1
	}
	answered.Store(true)
	mu.Lock()
	err = writeFrame(stdout, frameResult, buf.Bytes())
	mu.Unlock()
	if err != nil {
		return 1
	}
	// Alive until the adapter closes stdin: until then it may kill the
	// process group this helper leads, and the group must still be ours.
	<-stdinClosed
	return 0
}

// loadForHelper runs the load and encodes its result. A panic in it is an
// error, as it is in an index loaded in the adapter (StartIndex).
func loadForHelper(req helperRequest, o mapwrites.Options) (res helperResult) {
	defer func() {
		if r := recover(); r != nil {
			res = helperResult{Err: fmt.Sprintf("internal error: %v", r)}
		}
	}()
	ix, srcs, err := mapwrites.LoadProgramSources(req.Dir, o)
	if err != nil {
		return helperResult{Err: err.Error()}
	}
	var buf bytes.Buffer
	if err := ix.Encode(&buf); err != nil {
		return helperResult{Err: fmt.Sprintf("internal error: encoding the index: %v", err)}
	}
	return helperResult{Index: buf.Bytes(), Sources: srcs}
}

// testHookHelperExited, when set by a test, is called with the helper's
// pid once it has exited and before it is waited for: the test reaps it,
// as the embedded Delve may.
var testHookHelperExited func(pid int)

// errHelperStart is a helper that could not be started: the adapter loads
// the index itself.
var errHelperStart = errors.New("the index helper did not start")

// loadInHelper loads dir's index in a helper process made by newCmd (not
// started). listed is called once the helper runs (no go command of the
// load is the adapter's child from then on), hold when the helper's go
// commands are done; the helper type-checks when hold returns. Cancelling
// ctx kills the helper and everything it started. It returns
// errHelperStart, before listed is called, when the helper cannot start.
func loadInHelper(ctx context.Context, newCmd func() *exec.Cmd, dir string, o mapwrites.Options, listed, hold func()) (*mapwrites.Index, []mapwrites.SourcePackage, error) {
	req, err := json.Marshal(helperRequest{Protocol: helperProtocol, Dir: dir, BuildFlags: o.BuildFlags, Tests: o.Tests, Modules: o.Modules})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errHelperStart, err)
	}
	cmd := newCmd()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errHelperStart, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		stdin.Close()
		return nil, nil, fmt.Errorf("%w: %v", errHelperStart, err)
	}
	// stderr through a pipe of our own, not cmd.Stderr's copy: that copy
	// ends only in Wait, and a helper that died must be described (its
	// panic) as soon as its stdout ends.
	er, ew, err := os.Pipe()
	if err != nil {
		stdin.Close()
		stdout.Close()
		return nil, nil, fmt.Errorf("%w: %v", errHelperStart, err)
	}
	cmd.Stderr = ew
	prepareHelper(cmd)
	err = startLowPriority(cmd)
	ew.Close()
	if err != nil {
		er.Close()
		stdin.Close()
		stdout.Close()
		return nil, nil, fmt.Errorf("%w: %v", errHelperStart, err)
	}
	stderr := &tailBuffer{max: 4 << 10, done: make(chan struct{})}
	go func() {
		_, _ = io.Copy(stderr, er)
		er.Close()
		close(stderr.done)
	}()
	listed()

	// From here the helper may be reaped by the embedded Delve at any
	// time; its group stays ours until stdin closes (see the protocol).
	// A helper that crashed is reaped by nobody but Delve or the Wait
	// below: until then its pid, and so its group's id, cannot be reused.
	finished := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-ctx.Done():
			// Unblocks the frame reads below.
			killHelperGroup(cmd)
		case <-finished:
		}
	}()
	complete := false
	defer func() {
		close(finished)
		<-watched
		if !complete {
			// Cancelled, or the helper broke: its go commands and
			// compilers go with it.
			killHelperGroup(cmd)
		}
		stdin.Close()
		// EOF once the helper exits (none of its children holds its
		// stdout).
		_, _ = io.Copy(io.Discard, stdout)
		if testHookHelperExited != nil {
			testHookHelperExited(cmd.Process.Pid)
		}
		// "no child processes" when Delve reaped it first: the result,
		// framed, already said all the exit status could.
		_ = cmd.Wait()
	}()

	if _, err := stdin.Write(append(req, '\n')); err != nil {
		return nil, nil, helperFailed(ctx, err, stderr)
	}
	out := bufio.NewReader(stdout)
	for {
		kind, payload, err := readFrame(out)
		if err != nil {
			return nil, nil, helperFailed(ctx, err, stderr)
		}
		switch kind {
		case frameListed:
			hold()
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			if _, err := stdin.Write([]byte{resumeByte}); err != nil {
				return nil, nil, helperFailed(ctx, err, stderr)
			}
		case frameResult:
			var res helperResult
			if err := gob.NewDecoder(bytes.NewReader(payload)).Decode(&res); err != nil {
				return nil, nil, fmt.Errorf("the index helper's result: %v", err)
			}
			// The helper is done with its children: it only waits for
			// stdin to close.
			complete = true
			if res.Err != "" {
				return nil, nil, errors.New(res.Err)
			}
			ix, err := mapwrites.DecodeIndex(bytes.NewReader(res.Index))
			if err != nil {
				return nil, nil, fmt.Errorf("the index helper's result: %v", err)
			}
			return ix, res.Sources, nil
		default:
			return nil, nil, fmt.Errorf("the index helper wrote a frame of kind %q", kind)
		}
	}
}

// helperFailed is the error of a helper that stopped talking: the load's
// cancellation when it was cancelled (the helper was killed for it), else
// what broke, with the end of what the helper wrote to stderr (a panic).
func helperFailed(ctx context.Context, err error, stderr *tailBuffer) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, io.EOF) {
		err = errors.New("it ended without a result")
		// It exited: what it wrote to stderr is about to end too (its go
		// commands, which share the pipe, are killed with its group).
		select {
		case <-stderr.done:
		case <-time.After(time.Second):
		}
	}
	msg := fmt.Sprintf("the index helper failed: %v", err)
	if tail := strings.TrimSpace(stderr.String()); tail != "" {
		msg += ": " + tail
	}
	return errors.New(msg)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu   sync.Mutex
	max  int
	b    []byte
	done chan struct{} // closed when the writing ends
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
