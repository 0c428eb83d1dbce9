package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lockscope/lockscope/internal/daptest"
	"github.com/lockscope/lockscope/internal/testutil"
)

// startPlainDlv runs `dlv dap` on loopback, as vscode-go does, and connects.
func startPlainDlv(t testing.TB) *daptest.Client {
	t.Helper()
	dlv := builtDlv(t)
	cmd := exec.Command(dlv, "dap", "--listen=127.0.0.1:0")
	cmd.Dir = moduleRoot
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		t.Fatal("dlv dap printed nothing")
	}
	addr, ok := strings.CutPrefix(sc.Text(), "DAP server listening at: ")
	if !ok {
		t.Fatalf("unexpected dlv output %q", sc.Text())
	}
	go func() {
		for sc.Scan() {
		}
	}()
	conn := dial(t, strings.TrimSpace(addr))
	return daptest.New(conn, conn)
}

// scenario drives one debugging session and returns what the adapter said:
// every response, and every event but output, in order; output text is
// joined per category, because how a stream is cut into events is timing.
func scenario(t *testing.T, c *daptest.Client, extra map[string]any) []string {
	t.Helper()
	var transcript []string
	record := func(m daptest.Message) {
		transcript = append(transcript, normalize(m))
	}
	call := func(cmd string, args any) daptest.Message {
		seq := c.Send(cmd, args)
		m := c.Response(t, seq)
		record(m)
		return m
	}
	event := func(name string) daptest.Message {
		m := c.Event(t, name)
		record(m)
		return m
	}
	call("initialize", map[string]any{"clientID": "vscode", "adapterID": "go", "linesStartAt1": true, "columnsStartAt1": true,
		"pathFormat": "path", "supportsVariableType": true, "supportsProgressReporting": true})
	args := map[string]any{"request": "launch", "mode": "debug", "program": testdataDir("basic"), "outputMode": "remote"}
	for k, v := range extra {
		args[k] = v
	}
	call("launch", args)
	event("initialized")
	addLine := testutil.MarkerLine(t, basicMain(), "add-body")
	printLine := testutil.MarkerLine(t, basicMain(), "main-print")
	call("setBreakpoints", map[string]any{"source": map[string]any{"path": basicMain()},
		"breakpoints": []map[string]any{{"line": addLine, "condition": "a == 6"}, {"line": printLine}}})
	call("setFunctionBreakpoints", map[string]any{"breakpoints": []map[string]any{{"name": "main.compute"}}})
	call("setExceptionBreakpoints", map[string]any{"filters": []string{}})
	call("configurationDone", nil)
	var st daptest.StoppedBody
	event("stopped").Decode(t, &st)
	call("threads", nil)
	call("stackTrace", map[string]any{"threadId": st.ThreadID, "levels": 20})
	call("next", map[string]any{"threadId": st.ThreadID})
	event("stopped").Decode(t, &st)
	call("continue", map[string]any{"threadId": st.ThreadID})
	event("stopped").Decode(t, &st)
	var sb struct {
		StackFrames []daptest.Frame `json:"stackFrames"`
	}
	call("stackTrace", map[string]any{"threadId": st.ThreadID, "levels": 20}).Decode(t, &sb)
	frame := sb.StackFrames[0].ID
	var scopes struct {
		Scopes []struct {
			VariablesReference int `json:"variablesReference"`
		} `json:"scopes"`
	}
	call("scopes", map[string]any{"frameId": frame}).Decode(t, &scopes)
	call("variables", map[string]any{"variablesReference": scopes.Scopes[0].VariablesReference})
	call("evaluate", map[string]any{"expression": "a + b", "frameId": frame, "context": "repl"})
	call("evaluate", map[string]any{"expression": "nosuchvar", "frameId": frame, "context": "watch"})
	call("stepOut", map[string]any{"threadId": st.ThreadID})
	event("stopped").Decode(t, &st)
	call("continue", map[string]any{"threadId": st.ThreadID})
	event("stopped").Decode(t, &st)
	call("stackTrace", map[string]any{"threadId": st.ThreadID, "levels": 1})
	call("continue", map[string]any{"threadId": st.ThreadID})
	event("terminated")
	call("disconnect", nil)
	// Both servers close the connection after disconnect: once it is
	// closed, every output event is in.
	if !c.Closed(30 * time.Second) {
		t.Fatal("the server did not close the connection after disconnect")
	}
	// Output, joined per category.
	outputs := map[string]string{}
	for _, m := range c.Messages() {
		if m.Type == "event" && m.Event == "output" {
			var b struct {
				Category string `json:"category"`
				Output   string `json:"output"`
			}
			_ = json.Unmarshal(m.Body, &b)
			outputs[b.Category] += b.Output
		}
	}
	cats := make([]string, 0, len(outputs))
	for k := range outputs {
		cats = append(cats, k)
	}
	sort.Strings(cats)
	for _, k := range cats {
		transcript = append(transcript, fmt.Sprintf("output[%s] %q", k, normalizeText(outputs[k])))
	}
	return transcript
}

var (
	reAddr    = regexp.MustCompile(`0x[0-9a-f]+`)
	reDebugBn = regexp.MustCompile(`__debug_bin\d+`)
	reIDKey   = regexp.MustCompile(`"(seq|request_seq|id|frameId|variablesReference|systemProcessId|presentationHint)":\s*-?\d+`)
	// Goroutine ids come from per-P caches and OS thread ids and pids from
	// the kernel: both differ from run to run of the same program.
	reRunIDs = regexp.MustCompile(`(Go|Thread|Process) \d+`)
)

func normalizeText(s string) string {
	s = reAddr.ReplaceAllString(s, "0xADDR")
	s = reRunIDs.ReplaceAllString(s, "$1 N")
	return reDebugBn.ReplaceAllString(s, "__debug_binN")
}

// normalize renders a message without seq numbers, handle ids, addresses
// or the random name of the debug binary.
func normalize(m daptest.Message) string {
	s := reIDKey.ReplaceAllString(string(m.Raw), `"$1":N`)
	s = normalizeText(s)
	if m.Command == "threads" {
		// Which goroutine got which id is scheduling: compare the threads
		// as a sorted list of names.
		var v struct {
			Body struct {
				Threads []struct {
					Name string `json:"name"`
				} `json:"threads"`
			} `json:"body"`
		}
		if json.Unmarshal([]byte(s), &v) == nil {
			names := make([]string, 0, len(v.Body.Threads))
			for _, th := range v.Body.Threads {
				names = append(names, th.Name)
			}
			sort.Strings(names)
			return "threads " + strings.Join(names, " | ")
		}
	}
	return s
}

func TestProxyIsTransparent(t *testing.T) {
	t.Parallel()
	plain := scenario(t, startPlainDlv(t), nil)
	a := startAdapter(t)
	proxied := scenario(t, a.c, map[string]any{"lockscope": map[string]any{"capture": "off"}})
	// Messages are JSON; compare them as values, so that field order (which
	// the proxy does not touch anyway) cannot matter.
	if len(plain) != len(proxied) {
		t.Errorf("plain dlv dap said %d things, lockscope dap %d", len(plain), len(proxied))
	}
	for i := 0; i < len(plain) && i < len(proxied); i++ {
		if !sameJSON(plain[i], proxied[i]) {
			t.Errorf("message %d differs:\n plain dlv dap: %s\n lockscope dap: %s", i, plain[i], proxied[i])
		}
	}
	if t.Failed() {
		t.Logf("plain transcript:\n%s", strings.Join(plain, "\n"))
	}
}

func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return a == b
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}
