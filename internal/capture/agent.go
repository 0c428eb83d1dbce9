package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// MaxTraceSeconds caps a trace window (the agent caps it too): traces grow
// by megabytes a second on a busy program.
const MaxTraceSeconds = 60

// MaxAgentBody caps what lockscope reads from its own agent.
const MaxAgentBody = 512 << 20

// agentWait is how long a command waits for its answer when the caller's
// context sets no deadline; a trace window adds its own length.
const agentWait = 30 * time.Second

// commandSeq numbers the commands of this process; the agent names its
// answer files after them.
var commandSeq atomic.Int64

// Agent is a client of one running agent. It writes commands into the
// agent's pipe without ever blocking (O_NONBLOCK): a stopped program leaves
// a command unread, and the caller's context bounds the wait for the
// answer, which the agent drops once that deadline has passed.
type Agent struct {
	Addr string // the agent's command pipe (a path: the agent opens no port)
	Pid  int    // the program's process id, as the agent reported it

	dir string

	mu    sync.Mutex
	spans map[string]Span // the span of the last profile of each kind
}

// Profile fetches a profile ("mutex" or "block") as an uncompressed pprof
// protocol buffer.
func (a *Agent) Profile(ctx context.Context, kind string) ([]byte, error) {
	if kind != "mutex" && kind != "block" {
		return nil, fmt.Errorf("capture: agent: unknown profile %q (want mutex or block)", kind)
	}
	data, err := a.do(ctx, "profile "+kind, agentWait)
	if err != nil {
		return nil, err
	}
	if span, ok := ProfileSpan(data); ok {
		a.mu.Lock()
		if a.spans == nil {
			a.spans = map[string]Span{}
		}
		a.spans[kind] = span
		a.mu.Unlock()
	}
	return data, nil
}

// Span is the span of the newest of the last profiles of kinds that
// Profile fetched: the time they cover. ok is false before the first.
func (a *Agent) Span(kinds ...string) (span Span, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range kinds {
		if s, found := a.spans[k]; found {
			span, ok = newer(span, ok, s)
		}
	}
	return span, ok
}

// TraceStream records the next seconds of execution trace (capped at
// MaxTraceSeconds) and returns the agent's answer file open for reading:
// the agent writes the window to disk as it records it, and the trace
// analyser reads it as a stream, never holding it whole. Close removes the
// file. If the program exits meanwhile, the request fails and the cut
// window is Injection.OpenFinalTrace(FinalWindow). When ctx ends first,
// the window is cancelled.
func (a *Agent) TraceStream(ctx context.Context, seconds float64) (io.ReadCloser, error) {
	if seconds > MaxTraceSeconds {
		seconds = MaxTraceSeconds
	}
	length := time.Duration(seconds * float64(time.Second))
	// In milliseconds, at least one: the agent parses no floats.
	return a.doStream(ctx, "trace "+strconv.FormatInt(max(length.Milliseconds(), 1), 10), length+agentWait)
}

// LastTrace returns the flight recorder's window: the last moments before
// the call. It fails when the injection had no Flight window.
func (a *Agent) LastTrace(ctx context.Context) ([]byte, error) {
	return a.do(ctx, "flight", agentWait)
}

// do sends one command and reads its answer whole.
func (a *Agent) do(ctx context.Context, command string, wait time.Duration) ([]byte, error) {
	ans, err := a.doStream(ctx, command, wait)
	if err != nil {
		return nil, err
	}
	defer ans.Close()
	data, err := io.ReadAll(ans)
	if err != nil {
		return nil, err
	}
	return data, nil
}

// doStream sends one command and waits for its answer file, which it
// returns open.
func (a *Agent) doStream(ctx context.Context, command string, wait time.Duration) (io.ReadCloser, error) {
	id := strconv.FormatInt(commandSeq.Add(1), 10)
	deadline := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok {
		deadline = d
	}
	if err := writeCommand(a.Addr, id+" "+strconv.FormatInt(deadline.UnixMilli(), 10)+" "+command+"\n"); err != nil {
		return nil, fmt.Errorf("capture: agent: %w", err)
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	out, errFile := filepath.Join(a.dir, id+".out"), filepath.Join(a.dir, id+".err")
	// The answer is renamed into place whole; poll for it, briefly at
	// first (a profile takes milliseconds), then less often.
	pause := time.Millisecond
	for {
		ans, err := openAnswer(out)
		if err == nil {
			return ans, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("capture: agent: %w", err)
		}
		if msg, err := os.ReadFile(errFile); err == nil {
			os.Remove(errFile)
			return nil, fmt.Errorf("capture: agent: %s", firstLine(msg))
		}
		select {
		case <-ctx.Done():
			// A trace window would go on for nothing: end it. Best effort:
			// a stopped program reads this when it runs again.
			_ = writeCommand(a.Addr, strconv.FormatInt(commandSeq.Add(1), 10)+" "+
				strconv.FormatInt(time.Now().Add(agentWait).UnixMilli(), 10)+" cancel "+id+"\n")
			os.Remove(out)
			if ctx.Err() == context.DeadlineExceeded {
				return nil, fmt.Errorf("capture: agent: no answer to %q within %s (is the program stopped?)", command, wait.Round(time.Millisecond))
			}
			return nil, fmt.Errorf("capture: agent: %w", ctx.Err())
		case <-time.After(pause):
		}
		pause = min(pause*2, 50*time.Millisecond)
	}
}

// openAnswer opens an answer file and removes its name, so that nothing
// is left behind whatever the reader does; a file over the size cap is
// refused before a byte of it is read.
func openAnswer(path string) (*answer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	// Unix keeps an open file readable once unlinked; elsewhere Close
	// removes it.
	removed := os.Remove(path) == nil
	ans := &answer{f: f, path: path, removed: removed}
	st, err := f.Stat()
	if err != nil {
		ans.Close()
		return nil, err
	}
	if st.Size() > MaxAgentBody {
		ans.Close()
		return nil, ans.tooLarge()
	}
	return ans, nil
}

// answer is an agent's answer file being read, within the size cap.
type answer struct {
	f       *os.File
	path    string
	n       int64
	removed bool
}

func (a *answer) Read(p []byte) (int, error) {
	// The agent renames its answer into place whole, so the file does not
	// grow; the cap is kept on what is read all the same.
	if rest := MaxAgentBody + 1 - a.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := a.f.Read(p)
	a.n += int64(n)
	if a.n > MaxAgentBody {
		return n - int(a.n-MaxAgentBody), fmt.Errorf("capture: agent: %w", a.tooLarge())
	}
	if err != nil && err != io.EOF {
		return n, fmt.Errorf("capture: agent: %w", err)
	}
	return n, err
}

func (a *answer) tooLarge() error {
	return fmt.Errorf("answer larger than %d bytes", MaxAgentBody)
}

// Close closes the file, and removes it where it could not be removed open.
func (a *answer) Close() error {
	err := a.f.Close()
	if !a.removed {
		os.Remove(a.path)
		a.removed = true
	}
	return err
}

func firstLine(b []byte) string {
	s := string(b)
	for i, c := range s {
		if c == '\n' {
			s = s[:i]
			break
		}
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
