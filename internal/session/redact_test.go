package session

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/lockscope/lockscope/internal/daptest"
	"github.com/lockscope/lockscope/internal/delve"
	"github.com/lockscope/lockscope/internal/transport"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// --log writes every message; the secrets in them (a launch's environment,
// fields named like credentials) must not reach the log, while the
// messages themselves go to Delve unchanged.
func TestTrafficLogRedactsSecrets(t *testing.T) {
	var logs lockedBuffer
	cOurs, cTheirs := net.Pipe()
	bOurs, bTheirs := net.Pipe()
	fb := &fakeBackend{conn: bOurs, done: make(chan struct{})}
	s := New(cTheirs, cTheirs, Options{Traffic: true,
		Log:          slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		StartBackend: func(context.Context, string, string, []string) (delve.Backend, error) { return fb, nil }})
	go func() { _ = s.Serve(context.Background()) }()
	t.Cleanup(func() { cOurs.Close(); bTheirs.Close() })
	c := daptest.New(cOurs, cOurs)
	br := transport.NewReader(bTheirs)

	c.Send("launch", map[string]any{"mode": "exec", "program": "/nonexistent/prog",
		"env": map[string]any{"API_TOKEN": "s3cr3t-env"}, "lockscope": map[string]any{"capture": "off"}})
	c.Send("evaluate", map[string]any{"expression": "x", "context": "repl", "password": "s3cr3t-field"})
	var got []string
	for range 2 {
		msg, err := br.Read()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(msg))
	}
	if !strings.Contains(got[0], "s3cr3t-env") || !strings.Contains(got[1], "s3cr3t-field") {
		t.Fatalf("Delve did not get the messages unchanged: %q", got)
	}
	log := logs.String()
	if strings.Contains(log, "s3cr3t") {
		t.Errorf("a secret reached the log:\n%s", log)
	}
	if !strings.Contains(log, redacted) || !strings.Contains(log, "API_TOKEN") {
		t.Errorf("the log does not show what was redacted:\n%s", log)
	}
}
