package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dapFrame frames one DAP message.
func dapFrame(t testing.TB, msg map[string]any) string {
	t.Helper()
	b, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(b), b)
}

// A web page can POST to any loopback port without a CORS preflight when the
// body is text/plain. Before the fix, the adapter skipped the HTTP headers as
// malformed frames and ran the body's launch. The connection must close at
// the request line, and the program must never run.
func TestListenRefusesBrowserPost(t *testing.T) {
	t.Parallel()
	prog := buildProgram(t, "touch")
	marker := filepath.Join(t.TempDir(), "ran")
	body := dapFrame(t, map[string]any{"seq": 1, "type": "request", "command": "initialize",
		"arguments": map[string]any{"adapterID": "lockscope"}}) +
		dapFrame(t, map[string]any{"seq": 2, "type": "request", "command": "launch",
			"arguments": map[string]any{"noDebug": true, "mode": "exec", "program": prog, "args": []string{marker}}}) +
		dapFrame(t, map[string]any{"seq": 3, "type": "request", "command": "configurationDone"})
	post := "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example\r\n" +
		"Content-Type: text/plain;charset=UTF-8\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body

	addr, cmd := listenAdapter(t, "--listen", "127.0.0.1:0")
	conn := dial(t, addr)
	if _, err := io.WriteString(conn, post); err != nil {
		t.Fatal(err)
	}
	// Keep our side open, as a browser does: only the adapter may close.
	_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	reply, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("the adapter kept the connection open after an HTTP request line (read: %v); got %q", err, reply)
	}
	if !strings.Contains(string(reply), "not a DAP stream") {
		t.Errorf("the reply does not say why the connection closed: %q", reply)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the adapter did not exit after refusing its one client")
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the program in the POST body ran")
	}
}

// Bytes that are not DAP on stdio end the session with one error, and the
// adapter exits instead of reading on.
func TestStdioClosesOnNonDAPHeader(t *testing.T) {
	t.Parallel()
	a := startAdapter(t)
	if _, err := io.WriteString(a.stdin, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if !a.exited(20 * time.Second) {
		t.Fatal("the adapter read on after a non-DAP header")
	}
}
