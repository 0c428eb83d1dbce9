// Package session is lockscope's DAP proxy: it sits between the client
// (VS Code) and Delve, relays ordinary debugging byte for byte, and answers
// the lockscope/* requests itself.
//
// A [Session] runs three kinds of goroutines: one reads the client, one
// reads Delve (per backend; the backend can be swapped once, at launch, when
// the launch asks for an external dlv), and one per lockscope/* request, so
// that a long capture never holds up stepping. Everything the client sees
// is written through one [transport.Writer], whose lock keeps messages whole.
//
// Seq numbers: the client and Delve each see one increasing seq space.
// Requests the session sends to Delve for itself are numbered in Delve's
// space like any other, and their responses are routed back to whoever
// asked: the client (with its own request_seq restored) or the session.
package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lockscope/lockscope/internal/dapx"
	"github.com/lockscope/lockscope/internal/delve"
	"github.com/lockscope/lockscope/internal/transport"
)

// Options configure a [Session].
type Options struct {
	// Log receives structured logs; nil discards them.
	Log *slog.Logger
	// Traffic logs every message in both directions at debug level.
	Traffic bool
	// DlvPath selects an external `dlv dap`; empty embeds Delve.
	DlvPath string
	// DelveLogw receives an external Delve's own output. Never stdout.
	DelveLogw io.Writer
	// StartBackend overrides how Delve is started (tests use the default).
	// flags are an external dlv's extra flags (the launch's dlvFlags).
	StartBackend func(ctx context.Context, dlvPath, dir string, flags []string) (delve.Backend, error)
	// IndexHelper, when not nil, makes the command of a helper process
	// that loads the source index (pipeline.IndexOptions.Helper): its go
	// commands are then out of the embedded Delve's reach, and
	// configurationDone waits for none of them.
	IndexHelper func() *exec.Cmd
}

// origin says who is waiting for a response from Delve.
type origin struct {
	clientSeq int         // the client's seq, when the client asked
	internal  chan []byte // when the session asked
	command   string
	to        *backendConn // the Delve that was asked
}

// backendConn is one started Delve with its writer.
type backendConn struct {
	b delve.Backend
	w *transport.Writer
	// retired is set when a restart ends this Delve's run: from then on
	// only its program's last output reaches the client, and its going
	// away does not end the session.
	retired atomic.Bool
}

// Session is one client's debug session.
type Session struct {
	// requests are the request handlers running off the read loop
	// (goRequest).
	requests sync.WaitGroup
	opts     Options
	log      *slog.Logger

	cr *transport.Reader
	cw *transport.Writer

	clientSeq  atomic.Int64 // last seq sent to the client
	backendSeq atomic.Int64 // last seq sent to Delve

	// toClientMu and toDelveMu make taking a seq and writing the message
	// one step, so that seq numbers go up on the wire in each direction
	// even when several goroutines (lockscope/* handlers, the two read
	// loops) write at once.
	toClientMu sync.Mutex
	toDelveMu  sync.Mutex

	mu       sync.Mutex
	backend  *backendConn
	pending  map[int]origin // Delve seq -> who asked
	reverse  map[int]int    // client-facing seq of a reverse request -> Delve seq
	initArgs json.RawMessage
	progress bool // the client supports progress events
	ended    bool // Delve's session is over (disconnect answered or Delve gone)
	termSent bool // a terminated event reached the client

	ext *extension // lockscope's own state: capture, report

	// holding is set while a launch, attach or restart is rewritten off
	// the read loop; the client's requests that arrive meanwhile wait in
	// held, in order, so that none overtakes it on its way to Delve (a
	// client may pipeline initialize, launch, setBreakpoints and
	// configurationDone without waiting). Both guarded by mu.
	holding bool
	held    []heldRequest

	work string // the session's folder under $TMPDIR (see workDir); guarded by mu

	relaunchMu sync.Mutex // one restart at a time (see relaunch)

	backendGone chan struct{}
	goneOnce    sync.Once

	// over is closed once Delve has answered a disconnect and sent its
	// terminated event (or a moment after the answer): the session is done
	// even though Delve keeps its end of the connection open.
	over         chan struct{}
	overOnce     sync.Once
	disconnected bool // Delve answered a disconnect; guarded by mu
}

// New returns a session that reads the client from r and writes to w.
func New(r io.Reader, w io.Writer, opts Options) *Session {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.DelveLogw == nil {
		opts.DelveLogw = os.Stderr
	}
	if opts.StartBackend == nil {
		logw := opts.DelveLogw
		log := opts.Log
		opts.StartBackend = func(ctx context.Context, dlvPath, dir string, flags []string) (delve.Backend, error) {
			if dlvPath == "" {
				return delve.StartEmbedded()
			}
			return delve.StartExternal(ctx, dlvPath, dir, flags, logw, log)
		}
	}
	cr := transport.NewReader(r)
	// Refuse huge requests here, before Delve (which a valid 4 MiB message
	// killed) or a lockscope/* handler sees them.
	cr.LimitMessages(transport.MaxRequest)
	s := &Session{
		opts:        opts,
		log:         opts.Log,
		cr:          cr,
		cw:          transport.NewWriter(w),
		pending:     map[int]origin{},
		reverse:     map[int]int{},
		backendGone: make(chan struct{}),
		over:        make(chan struct{}),
	}
	s.ext = newExtension(s)
	return s
}

// Serve runs the session until Delve's session ends or the client goes
// away. On return nothing the session started is left running.
func (s *Session) Serve(ctx context.Context) error {
	// A session killed with SIGKILL could not remove its folder; the next
	// one does, before it makes its own.
	sweepWorkDirs(s.log)
	b, err := s.opts.StartBackend(ctx, s.opts.DlvPath, "", nil)
	if err != nil {
		return fmt.Errorf("starting Delve: %w", err)
	}
	s.setBackend(b)

	clientGone := make(chan error, 1)
	go func() { clientGone <- s.clientLoop() }()

	select {
	case <-s.backendGone:
		// Delve quit; the client was told.
	case <-s.over:
		// The client disconnected and Delve has finished.
	case err := <-clientGone:
		// The client vanished without a disconnect: end Delve's session
		// the way a disconnect would, so a launched program dies and an
		// attached one is left running.
		s.log.Info("client went away; disconnecting from Delve", "err", err)
		s.disconnectBackend()
	case <-ctx.Done():
		s.log.Info("stopping on signal; disconnecting from Delve")
		s.disconnectBackend()
	}
	// Requests still running end with the extension's context; the
	// session waits for them, so that none outlives it.
	s.ext.cancel()
	s.requests.Wait()
	s.ext.close()
	s.mu.Lock()
	bc := s.backend
	s.mu.Unlock()
	if bc != nil {
		if err := bc.b.Close(); err != nil {
			s.log.Warn("closing Delve", "err", err)
		}
	}
	s.removeWorkDir()
	return nil
}

// goRequest runs a request's handler off the read loop: a launch builds
// the program, and a lockscope/* request may capture for seconds. Serve
// waits for it before returning, and a panic in it becomes an error
// response, with its stack in the log: one request never kills the
// session (Delve's recoverPanic does the same per request). then, when
// not nil, runs last, after that error response: a launch's held requests
// must not overtake its answer.
func (s *Session) goRequest(h transport.Header, f func(), then func()) {
	s.requests.Add(1)
	go func() {
		defer s.requests.Done()
		if then != nil {
			defer then()
		}
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("panic in a request", "command", h.Command, "panic", r, "stack", string(debug.Stack()))
				s.sendError(h.Seq, h.Command, dapx.ErrInternal, "Internal error",
					fmt.Sprintf("lockscope failed while handling %s: %v", h.Command, r), true)
			}
		}()
		f()
	}()
}

// disconnectBackend asks Delve to end its session with default semantics,
// and waits a bounded time for it.
func (s *Session) disconnectBackend() {
	s.mu.Lock()
	ended := s.ended
	s.mu.Unlock()
	if ended {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, _, err := s.call(ctx, "disconnect", nil); err != nil {
		s.log.Warn("disconnect from Delve failed", "err", err)
	}
	select {
	case <-s.backendGone:
	case <-time.After(5 * time.Second):
	}
}

func (s *Session) setBackend(b delve.Backend) *backendConn {
	bc := &backendConn{b: b, w: transport.NewWriter(b.Conn())}
	s.mu.Lock()
	s.backend = bc
	s.mu.Unlock()
	go s.backendLoop(bc)
	return bc
}

func (s *Session) currentBackend() *backendConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.backend
}

// clientLoop reads the client until it goes away.
func (s *Session) clientLoop() error {
	for {
		msg, err := s.cr.Read()
		if err != nil {
			var fe *transport.FrameError
			if errors.As(err, &fe) {
				s.log.Warn("malformed message from client", "err", err)
				s.sendError(0, "", dapx.ErrMalformedMessage, "Malformed message", err.Error(), false)
				continue
			}
			var te *transport.TooLargeError
			if errors.As(err, &te) {
				seq, command := te.Routing()
				s.log.Warn("request too large", "err", err, "command", command)
				s.sendError(seq, command, dapx.ErrTooLarge, "Request too large", err.Error(), true)
				continue
			}
			var pe *transport.ProtocolError
			if errors.As(err, &pe) {
				// Not DAP at all (an HTTP request to a --listen port, say):
				// answer once, then end the session without reading on, so
				// no byte after the bad header is ever taken as a request.
				s.log.Warn("client does not speak DAP; closing the connection", "err", err)
				s.sendError(0, "", dapx.ErrMalformedMessage, "Not a DAP client", err.Error(), false)
				return err
			}
			return err
		}
		s.traffic("<- from client", msg)
		h, err := transport.Peek(msg)
		if err != nil {
			s.log.Warn("undecodable message from client", "err", err)
			s.sendError(h.Seq, h.Command, dapx.ErrMalformedMessage, "Malformed message",
				fmt.Sprintf("the message is not valid DAP: %v", err), false)
			continue
		}
		switch h.Type {
		case "request":
			if !h.SeqSpan.Valid() {
				// Its answer could not name it; DAP requires the seq.
				s.sendError(0, h.Command, dapx.ErrMalformedMessage, "Malformed message", `the request has no "seq"`, false)
				continue
			}
			s.onClientRequest(h, msg)
		case "response":
			s.onClientResponse(h, msg)
		default:
			s.log.Warn("ignoring a message of type " + h.Type + " from the client")
		}
	}
}

// heldRequest is a client request that waits for a launch to be forwarded.
type heldRequest struct {
	h   transport.Header
	msg []byte
}

func (s *Session) onClientRequest(h transport.Header, msg []byte) {
	s.mu.Lock()
	if s.holding {
		s.held = append(s.held, heldRequest{h, msg})
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.dispatch(h, msg)
}

// hold makes the client's next requests wait until release.
func (s *Session) hold() {
	s.mu.Lock()
	s.holding = true
	s.mu.Unlock()
}

// release runs the requests held behind a launch, attach or restart, in
// the order they arrived, once it has reached Delve (or failed). A held
// request that holds again (a second launch) takes over the rest.
func (s *Session) release() {
	for {
		s.mu.Lock()
		if len(s.held) == 0 {
			s.holding = false
			s.mu.Unlock()
			return
		}
		r := s.held[0]
		s.held = s.held[1:]
		s.mu.Unlock()
		if s.dispatch(r.h, r.msg) {
			return
		}
	}
}

// dispatch acts on one client request. It reports true when it started a
// launch, attach or restart that now holds the requests after it.
func (s *Session) dispatch(h transport.Header, msg []byte) (holds bool) {
	switch {
	case strings.HasPrefix(h.Command, dapx.Prefix):
		ctx := s.ext.track(h.Seq)
		s.goRequest(h, func() { s.ext.handle(ctx, h, msg) }, nil)
		return false
	case h.Command == "initialize":
		s.onInitialize(h, msg)
	case h.Command == "restart" && s.ext.relaunches():
		// Off the read loop: it builds the program again.
		s.hold()
		s.goRequest(h, func() { s.onRestart(h, msg) }, s.release)
		return true
	case h.Command == "setBreakpoints" || h.Command == "setFunctionBreakpoints" ||
		h.Command == "setExceptionBreakpoints" || h.Command == "setInstructionBreakpoints":
		s.ext.noteBreakpoints(h, msg)
	case h.Command == "disconnect":
		s.ext.beforeDisconnect(transport.Raw(msg, h.Arguments))
	case h.Command == "configurationDone":
		// The debuggee starts running now; lockscope's own child processes
		// must be done by then (see extension.startIndex).
		s.ext.waitIndex()
	case h.Command == "cancel":
		// A cancel for one of lockscope's progress ids or requests is
		// ours; any other goes to Delve.
		var args struct {
			ProgressID string `json:"progressId"`
			RequestID  int    `json:"requestId"`
		}
		_ = json.Unmarshal(transport.Raw(msg, h.Arguments), &args)
		if (args.ProgressID != "" && s.ext.cancelProgress(args.ProgressID)) ||
			(args.RequestID != 0 && s.ext.cancelRequest(args.RequestID)) {
			s.sendResponse(h.Seq, h.Command, nil)
			return false
		}
	case h.Command == "launch" || h.Command == "attach":
		// Rewriting may build an overlay or start an external dlv; do it
		// off the read loop so that the client is never blocked on it,
		// and hold what follows until the launch is on its way to Delve.
		s.hold()
		s.goRequest(h, func() { s.onLaunch(h, msg) }, s.release)
		return true
	}
	s.forward(h, msg, origin{clientSeq: h.Seq, command: h.Command})
	return false
}

func (s *Session) onInitialize(h transport.Header, msg []byte) {
	var args struct {
		SupportsProgressReporting bool `json:"supportsProgressReporting"`
	}
	raw := transport.Raw(msg, h.Arguments)
	_ = json.Unmarshal(raw, &args)
	s.mu.Lock()
	s.initArgs = append(json.RawMessage(nil), raw...)
	s.progress = args.SupportsProgressReporting
	s.mu.Unlock()
}

// forward sends msg to Delve under a fresh seq and remembers who asked.
func (s *Session) forward(h transport.Header, msg []byte, o origin) {
	s.forwardTo(s.currentBackend(), h, msg, o)
}

// forwardTo is forward to a given Delve.
func (s *Session) forwardTo(bc *backendConn, h transport.Header, msg []byte, o origin) {
	o.to = bc
	if len(msg)+maxSeqGrowth > delveMaxMessage {
		// go-dap, which Delve reads with, ends the whole session on a
		// longer message (a valid 4 MiB evaluate killed it).
		err := fmt.Errorf("a message of %d bytes exceeds the %d-byte (%d MiB) limit of Delve's DAP reader",
			len(msg), delveMaxMessage, delveMaxMessage>>20)
		if o.internal != nil {
			close(o.internal)
			return
		}
		s.sendError(o.clientSeq, h.Command, dapx.ErrTooLarge, "Request too large", err.Error(), true)
		return
	}
	s.toDelveMu.Lock()
	seq := int(s.backendSeq.Add(1))
	s.mu.Lock()
	s.pending[seq] = o
	s.mu.Unlock()
	out := transport.Patch(msg, h, seq, -1)
	s.traffic("-> to delve", out)
	err := bc.w.Write(out)
	s.toDelveMu.Unlock()
	if err != nil {
		s.mu.Lock()
		_, open := s.pending[seq]
		delete(s.pending, seq)
		// After Delve ended (expectedly or not, the client was told once).
		expected := s.endExpected(bc) || s.ended
		s.mu.Unlock()
		if !open {
			return // failPending answered it when Delve went away
		}
		if o.internal != nil {
			close(o.internal)
			return
		}
		s.sendError(o.clientSeq, h.Command, dapx.ErrBackend, "Delve is not reachable", err.Error(), !expected)
	}
}

// delveMaxMessage is go-dap's contentMaxLength (io.go), the largest
// message Delve reads; maxSeqGrowth bounds what patching the seq adds.
const (
	delveMaxMessage = 4 << 20
	maxSeqGrowth    = 20
)

// onClientResponse relays the client's answer to a reverse request
// (runInTerminal) back to Delve under Delve's own seq.
func (s *Session) onClientResponse(h transport.Header, msg []byte) {
	s.mu.Lock()
	dseq, ok := s.reverse[h.RequestSeq]
	delete(s.reverse, h.RequestSeq)
	s.mu.Unlock()
	if !ok {
		s.log.Warn("response from the client to an unknown request", "request_seq", h.RequestSeq)
		return
	}
	bc := s.currentBackend()
	s.toDelveMu.Lock()
	out := transport.Patch(msg, h, int(s.backendSeq.Add(1)), dseq)
	s.traffic("-> to delve", out)
	err := bc.w.Write(out)
	s.toDelveMu.Unlock()
	if err != nil {
		s.log.Warn("relaying a reverse response", "err", err)
	}
}

// backendLoop reads one Delve until it goes away.
func (s *Session) backendLoop(bc *backendConn) {
	r := transport.NewReader(bc.b.Conn())
	for {
		msg, err := r.Read()
		if err != nil {
			var fe *transport.FrameError
			if errors.As(err, &fe) {
				s.log.Error("malformed message from Delve", "err", err)
				continue
			}
			break
		}
		s.traffic("<- from delve", msg)
		h, err := transport.Peek(msg)
		if err != nil {
			s.log.Error("undecodable message from Delve", "err", err)
			continue
		}
		switch h.Type {
		case "response":
			s.onBackendResponse(bc, h, msg)
		case "event":
			s.onBackendEvent(bc, h, msg)
		case "request":
			s.onBackendRequest(bc, h, msg)
		}
	}
	if s.currentBackend() != bc || bc.retired.Load() {
		// Replaced at launch or by a restart; the new one carries on, and
		// what this one left unanswered never will be.
		s.failPending(bc, true)
		return
	}
	s.mu.Lock()
	s.ended = true
	termSent := s.termSent
	expected := s.endExpected(bc)
	s.mu.Unlock()
	s.failPending(nil, expected)
	if !termSent {
		// Delve vanished without saying so: tell the client the session
		// is over rather than leave it waiting.
		s.sendEvent("terminated", map[string]any{})
	}
	s.goneOnce.Do(func() { close(s.backendGone) })
}

// endExpected reports whether Delve bc ending now is the session's own
// doing: a restart retired it, the client disconnected, or the program
// ended. Requests it leaves unanswered are then no failure to show: VS Code
// polls threads and stack traces up to the end of a session. Call with mu
// held.
func (s *Session) endExpected(bc *backendConn) bool {
	return bc.retired.Load() || s.disconnected || s.termSent
}

// failPending answers the requests that Delve bc (nil: any) will never
// answer: an error to the client, a closed channel to the session. When
// Delve's end was expected (the client disconnected, the program
// terminated, a restart retired it), the errors are not shown to the user:
// VS Code polls threads and stack traces right up to the end, and a toast
// for each would report an ordinary stop as a failure.
func (s *Session) failPending(bc *backendConn, expected bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for seq, o := range s.pending {
		if bc != nil && o.to != bc {
			continue
		}
		delete(s.pending, seq)
		if o.internal != nil {
			close(o.internal)
			continue
		}
		s.mu.Unlock()
		s.sendError(o.clientSeq, o.command, dapx.ErrBackend, "Delve went away", "the debugger ended before it answered", !expected)
		s.mu.Lock()
	}
}

func (s *Session) onBackendResponse(bc *backendConn, h transport.Header, msg []byte) {
	s.mu.Lock()
	o, ok := s.pending[h.RequestSeq]
	delete(s.pending, h.RequestSeq)
	if ok && o.command == "disconnect" && h.Success && !bc.retired.Load() {
		s.disconnected, s.ended = true, true
		// Delve sends terminated after the answer; do not wait for ever.
		time.AfterFunc(2*time.Second, s.finish)
	}
	s.mu.Unlock()
	if !ok {
		s.log.Warn("response from Delve to an unknown request", "request_seq", h.RequestSeq)
		return
	}
	if o.internal != nil {
		o.internal <- msg
		return
	}
	s.ext.observeResponse(h, msg)
	if h.Command == "threads" {
		h, msg = s.ext.filterThreads(h, msg)
	}
	s.toClient(msg, h, o.clientSeq)
}

func (s *Session) onBackendEvent(bc *backendConn, h transport.Header, msg []byte) {
	if bc.retired.Load() && !programOutput(h, msg) {
		// A restart ended this run (see relaunch): only what the old
		// program printed last is the client's.
		return
	}
	var done bool
	if h.Event == "terminated" {
		s.mu.Lock()
		again := s.termSent
		s.termSent = true
		done = s.disconnected
		s.mu.Unlock()
		if again {
			// Delve says it when the program ends and again when the client
			// disconnects; a client that hears it twice tears the session
			// down twice.
			if done {
				s.finish()
			}
			return
		}
	}
	if done {
		defer s.finish()
	}
	// The extension sees the event first, so that a crash stop can be
	// analysed and its report event follows Delve's stopped event.
	after, hold := s.ext.observeEvent(h, msg)
	if hold {
		// The extension forwards it later, or never (see onException).
		if after != nil {
			after()
		}
		return
	}
	s.toClient(msg, h, -1)
	if after != nil {
		after()
	}
}

// programOutput reports whether an event is the debuggee's own output.
func programOutput(h transport.Header, msg []byte) bool {
	if h.Event != "output" {
		return false
	}
	var b struct {
		Category string `json:"category"`
	}
	_ = json.Unmarshal(transport.Raw(msg, h.Body), &b)
	return b.Category == "stdout" || b.Category == "stderr"
}

func (s *Session) onBackendRequest(bc *backendConn, h transport.Header, msg []byte) {
	if bc.retired.Load() {
		return
	}
	s.toClientMu.Lock()
	defer s.toClientMu.Unlock()
	cseq := int(s.clientSeq.Add(1))
	s.mu.Lock()
	s.reverse[cseq] = h.Seq
	s.mu.Unlock()
	out := transport.Patch(msg, h, cseq, -1)
	s.traffic("-> to client", out)
	if err := s.cw.Write(out); err != nil {
		s.log.Warn("writing to client", "err", err)
	}
}

// toClient writes a message from Delve to the client under the client's
// seq space; requestSeq >= 0 restores the client's request_seq.
func (s *Session) toClient(msg []byte, h transport.Header, requestSeq int) {
	s.toClientMu.Lock()
	defer s.toClientMu.Unlock()
	out := transport.Patch(msg, h, int(s.clientSeq.Add(1)), requestSeq)
	s.traffic("-> to client", out)
	if err := s.cw.Write(out); err != nil {
		s.log.Warn("writing to client", "err", err)
	}
}

// finish ends Serve after a completed disconnect.
func (s *Session) finish() { s.overOnce.Do(func() { close(s.over) }) }

// call sends a request of the session's own to Delve and waits for the
// response. The client never sees it.
func (s *Session) call(ctx context.Context, command string, args any) (transport.Header, []byte, error) {
	return s.callOn(ctx, s.currentBackend(), command, args)
}

// callOn is call to a given Delve.
func (s *Session) callOn(ctx context.Context, bc *backendConn, command string, args any) (transport.Header, []byte, error) {
	req := map[string]any{"seq": 0, "type": "request", "command": command}
	if args != nil {
		req["arguments"] = args
	}
	raw, err := json.Marshal(req)
	if err != nil {
		return transport.Header{}, nil, err
	}
	h, err := transport.Peek(raw)
	if err != nil {
		return h, nil, err
	}
	ch := make(chan []byte, 1)
	s.forwardTo(bc, h, raw, origin{internal: ch, command: command})
	select {
	case resp, ok := <-ch:
		if !ok {
			return transport.Header{}, nil, errors.New("delve went away before it answered")
		}
		rh, err := transport.Peek(resp)
		if err != nil {
			return rh, nil, err
		}
		if !rh.Success {
			var m string
			_ = json.Unmarshal(transport.Raw(resp, rh.Message), &m)
			return rh, resp, fmt.Errorf("%s: %s", command, m)
		}
		return rh, resp, nil
	case <-ctx.Done():
		return transport.Header{}, nil, ctx.Err()
	}
}

// sendJSON writes a message of the session's own to the client.
func (s *Session) sendJSON(v map[string]any) {
	s.toClientMu.Lock()
	defer s.toClientMu.Unlock()
	v["seq"] = s.clientSeq.Add(1)
	raw, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encoding a message", "err", err)
		return
	}
	s.traffic("-> to client", raw)
	if err := s.cw.Write(raw); err != nil {
		s.log.Warn("writing to client", "err", err)
	}
}

func (s *Session) sendEvent(event string, body any) {
	m := map[string]any{"type": "event", "event": event}
	if body != nil {
		m["body"] = body
	}
	s.sendJSON(m)
}

func (s *Session) sendResponse(requestSeq int, command string, body any) {
	m := map[string]any{"type": "response", "request_seq": requestSeq, "command": command, "success": true}
	if body != nil {
		m["body"] = body
	}
	s.sendJSON(m)
}

// maxErrorDetails caps the details of an error response.
const maxErrorDetails = 1 << 10

// sendError is the one helper for error responses; id is a stable dapx id.
func (s *Session) sendError(requestSeq int, command string, id int, summary, details string, showUser bool) {
	// A client may send a path of megabytes; never echo it back whole.
	details = dapx.ShortenTo(details, maxErrorDetails)
	s.sendJSON(map[string]any{
		"type": "response", "request_seq": requestSeq, "command": command, "success": false,
		"message": summary,
		"body": map[string]any{"error": map[string]any{
			"id": id, "format": summary + ": " + details, "showUser": showUser,
		}},
	})
}

func (s *Session) traffic(dir string, msg []byte) {
	if s.opts.Traffic {
		s.log.Debug("["+dir+"]", "msg", string(redactForLog(msg)))
	}
}
