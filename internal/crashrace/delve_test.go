package crashrace

// End-to-end check of CrashFromStop against what Delve's DAP server really
// sends: the fixtures run under an in-process Delve (the embedding lockscope
// uses), stop on Delve's fatal-throw breakpoint, and the test reads the
// stopped event, the stackTrace and the exceptionInfo response. It then
// continues, so the runtime prints its own dump through Delve's output
// events, and checks that ParseCrash charges the same line.

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-delve/delve/service"
	dlvdap "github.com/go-delve/delve/service/dap"
	"github.com/go-delve/delve/service/debugger"
	"github.com/google/go-dap"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite testdata/crashrace/delve-*.json from a live Delve session")

// delveStop is what a lockscope session has in hand when Delve stops on a
// fatal throw; testdata/crashrace/delve-<prog>.json records it.
type delveStop struct {
	Stopped       dap.StoppedEventBody          `json:"stopped"`
	ExceptionInfo dap.ExceptionInfoResponseBody `json:"exceptionInfo"`
	Frames        []contention.Frame            `json:"frames"`
}

var noopt struct {
	once sync.Once
	dir  string
	err  error
}

// builtNoopt builds the crash fixtures the way Delve builds them, without
// optimisation or inlining, once per test binary.
func builtNoopt(t *testing.T, prog string) string {
	t.Helper()
	dir := filepath.Dir(builtFixture(t, "crashmap")) // shares the temporary folder
	noopt.once.Do(func() {
		noopt.dir = filepath.Join(dir, "noopt")
		cmd := exec.Command(goTool(t), "build", "-gcflags=all=-N -l", "-o", noopt.dir+string(filepath.Separator),
			"./testdata/crashmap", "./testdata/crashread", "./testdata/crashiter")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			noopt.err = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if noopt.err != nil {
		t.Fatalf("building for Delve: %v", noopt.err)
	}
	return filepath.Join(noopt.dir, prog)
}

// dapClient is the smallest DAP client the test needs.
type dapClient struct {
	t    *testing.T
	conn net.Conn
	seq  int
	msgs chan dap.Message
	// output collects the text of output events as they stream in.
	output strings.Builder
}

func newDAPClient(t *testing.T) *dapClient {
	ours, theirs := net.Pipe()
	sess := dlvdap.NewSession(theirs, &dlvdap.Config{
		Config: &service.Config{
			DisconnectChan: make(chan struct{}),
			Debugger:       debugger.Config{Backend: "default"},
		},
		StopTriggered: make(chan struct{}), // NewSession exits the process without it
	}, nil)
	served := make(chan struct{})
	go func() {
		defer close(served)
		sess.ServeDAPCodec()
		sess.Close()
	}()
	c := &dapClient{t: t, conn: ours, msgs: make(chan dap.Message, 256)}
	go func() {
		defer close(c.msgs)
		r := bufio.NewReader(ours)
		for {
			m, err := dap.ReadProtocolMessage(r)
			if err != nil {
				return
			}
			c.msgs <- m
		}
	}()
	t.Cleanup(func() {
		ours.Close()
		select {
		case <-served:
		case <-time.After(20 * time.Second):
			t.Errorf("Delve session did not end")
		}
	})
	return c
}

func (c *dapClient) send(m dap.RequestMessage) {
	c.t.Helper()
	c.seq++
	r := m.GetRequest()
	r.Seq, r.Type = c.seq, "request"
	if err := dap.WriteProtocolMessage(c.conn, m); err != nil {
		c.t.Fatalf("send %s: %v", r.Command, err)
	}
}

// untilTerminated continues through further stops until Delve says the
// program ended: the other writer may throw too while the first one prints
// its dump, and Delve stops on that throw as well.
func (c *dapClient) untilTerminated() (laterStops map[int]bool) {
	c.t.Helper()
	laterStops = map[int]bool{}
	deadline := time.After(90 * time.Second)
	for {
		select {
		case m, open := <-c.msgs:
			if !open {
				c.t.Fatalf("Delve closed the connection before the terminated event")
			}
			switch e := m.(type) {
			case *dap.OutputEvent:
				c.output.WriteString(e.Body.Output)
			case *dap.StoppedEvent:
				laterStops[e.Body.ThreadId] = true
				c.send(&dap.ContinueRequest{Request: dap.Request{Command: "continue"}, Arguments: dap.ContinueArguments{ThreadId: e.Body.ThreadId}})
			case *dap.TerminatedEvent:
				return laterStops
			}
		case <-deadline:
			c.t.Fatalf("no terminated event from Delve within 90s")
		}
	}
}

// expect reads messages until one satisfies ok, keeping output events'
// text, and fails on an error response or after the timeout.
func expect[T dap.Message](c *dapClient, what string) T {
	c.t.Helper()
	deadline := time.After(90 * time.Second)
	for {
		select {
		case m, open := <-c.msgs:
			if !open {
				c.t.Fatalf("Delve closed the connection while waiting for %s", what)
			}
			if o, ok := m.(*dap.OutputEvent); ok {
				c.output.WriteString(o.Body.Output)
			}
			if e, ok := m.(*dap.ErrorResponse); ok {
				c.t.Fatalf("waiting for %s: error response %q: %s", what, e.Message, e.Body.Error.Format)
			}
			if v, ok := m.(T); ok {
				return v
			}
		case <-deadline:
			c.t.Fatalf("no %s from Delve within 90s", what)
		}
	}
}

func TestDelveFatalThrow(t *testing.T) {
	for _, prog := range []string{"crashmap", "crashread", "crashiter"} {
		t.Run(prog, func(t *testing.T) {
			bin := builtNoopt(t, prog)
			c := newDAPClient(t)
			c.send(&dap.InitializeRequest{Request: dap.Request{Command: "initialize"},
				Arguments: dap.InitializeRequestArguments{AdapterID: "go", PathFormat: "path", LinesStartAt1: true, ColumnsStartAt1: true}})
			expect[*dap.InitializeResponse](c, "initialize response")
			args, _ := json.Marshal(map[string]any{
				"mode": "exec", "program": bin, "args": []string{"-d", "60s"},
				// Debuggee output as output events, not on the test's stderr.
				"outputMode": "remote",
			})
			c.send(&dap.LaunchRequest{Request: dap.Request{Command: "launch"}, Arguments: args})
			expect[*dap.InitializedEvent](c, "initialized event")
			expect[*dap.LaunchResponse](c, "launch response")
			c.send(&dap.ConfigurationDoneRequest{Request: dap.Request{Command: "configurationDone"}})

			stopped := expect[*dap.StoppedEvent](c, "stopped event")
			// What Delve 1.27.2 sends (service/dap/server.go): reason
			// "exception", description "fatal error", and the throw reason,
			// Go-quoted, as text.
			want := `"` + crashReasons[prog] + `"`
			if stopped.Body.Reason != "exception" || stopped.Body.Description != "fatal error" || stopped.Body.Text != want {
				t.Fatalf("stopped event %+v, want exception / fatal error / %s", stopped.Body, want)
			}
			g := stopped.Body.ThreadId

			c.send(&dap.StackTraceRequest{Request: dap.Request{Command: "stackTrace"},
				Arguments: dap.StackTraceArguments{ThreadId: g, Levels: 50}})
			st := expect[*dap.StackTraceResponse](c, "stackTrace response")
			var frames []contention.Frame
			for _, f := range st.Body.StackFrames {
				fr := contention.Frame{Function: f.Name, Line: f.Line}
				if f.Source != nil {
					fr.File = f.Source.Path
				}
				frames = append(frames, fr)
			}

			c.send(&dap.ExceptionInfoRequest{Request: dap.Request{Command: "exceptionInfo"},
				Arguments: dap.ExceptionInfoArguments{ThreadId: g}})
			ex := expect[*dap.ExceptionInfoResponse](c, "exceptionInfo response")
			if ex.Body.ExceptionId != "fatal error" || ex.Body.Description != want {
				t.Errorf("exceptionInfo %q %q, want \"fatal error\" %s", ex.Body.ExceptionId, ex.Body.Description, want)
			}
			t.Logf("Delve: stopped text %s; exceptionInfo %q: %s; frames %v", stopped.Body.Text, ex.Body.ExceptionId, ex.Body.Description, frames)
			if *update {
				b, err := json.MarshalIndent(delveStop{stopped.Body, ex.Body, frames}, "", "\t")
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(repoRoot, "testdata", "crashrace", "delve-"+prog+".json"), append(b, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}

			for _, desc := range []string{stopped.Body.Text, ex.Body.Description, ex.Body.ExceptionId + ": " + ex.Body.Description} {
				crash, ok := CrashFromStop(desc, frames, int64(g))
				if !ok {
					t.Fatalf("CrashFromStop(%q): no crash", desc)
				}
				if crash.Reason != crashReasons[prog] || !crash.MapCrash || crash.Goroutine != int64(g) {
					t.Errorf("CrashFromStop(%q) = %q, map %v, goroutine %d", desc, crash.Reason, crash.MapCrash, crash.Goroutine)
				}
				marker, ok := crashMarkers[prog][crash.Function]
				if !ok {
					t.Fatalf("charged to %q (%s:%d), want one of %v", crash.Function, crash.File, crash.Line, crashMarkers[prog])
				}
				if line := testutil.MarkerLine(t, "testdata/"+prog+"/main.go", marker); crash.Line != line || !isFixtureFile(crash.File, prog) {
					t.Errorf("charged %s:%d, want line %d of testdata/%s/main.go", crash.File, crash.Line, line, prog)
				}

				// Let the runtime print its dump; it arrives as output
				// events, and the text charges the same line.
				if desc == stopped.Body.Text {
					c.send(&dap.ContinueRequest{Request: dap.Request{Command: "continue"}, Arguments: dap.ContinueArguments{ThreadId: g}})
					later := c.untilTerminated()
					text := c.output.String()
					fromText, ok := ParseCrash(text)
					if !ok {
						t.Fatalf("no crash in Delve's output events:\n%s", text)
					}
					// When the other writer threw at the same moment, the
					// dump may be its own (Delve does not always stop on the
					// second throw): it must still be a writer of this map.
					_, knownWriter := crashMarkers[prog][fromText.Function]
					if fromText.Goroutine != crash.Goroutine && (later[int(fromText.Goroutine)] || knownWriter) {
						if fromText.Reason != crash.Reason || !isFixtureFile(fromText.File, prog) || !knownWriter {
							t.Errorf("the second thrower's dump charged %s:%d (%q)", fromText.File, fromText.Line, fromText.Reason)
						}
					} else if fromText.File != crash.File || fromText.Line != crash.Line || fromText.Reason != crash.Reason || fromText.Goroutine != crash.Goroutine {
						t.Errorf("output text charged %s:%d (goroutine %d), the stop %s:%d (goroutine %d)",
							fromText.File, fromText.Line, fromText.Goroutine, crash.File, crash.Line, crash.Goroutine)
					}
				}
			}
			c.send(&dap.DisconnectRequest{Request: dap.Request{Command: "disconnect"},
				Arguments: &dap.DisconnectArguments{TerminateDebuggee: true}})
			expect[*dap.DisconnectResponse](c, "disconnect response")
		})
	}
}
