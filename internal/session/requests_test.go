package session

import (
	"strings"
	"testing"

	"github.com/lockscope/lockscope/internal/daptest"
	"github.com/lockscope/lockscope/internal/dapx"
)

// A request without a seq could not be answered by name, and DAP requires
// one: it gets an error and never reaches Delve. Before, it was passed on
// silently.
func TestRequestWithoutSeqIsRefused(t *testing.T) {
	r := start(t)
	r.c.SendBody([]byte(`{"type":"request","command":"threads"}`))
	m := r.c.WaitFor(t, "the error for a request without seq", r.c.Timeout, func(m daptest.Message) bool {
		return m.Type == "response" && m.Command == "threads"
	})
	if m.Success || m.ErrorID() != dapx.ErrMalformedMessage || !strings.Contains(string(m.Raw), `no \"seq\"`) {
		t.Fatalf("answered %s, want error %d saying the seq is missing", m.Raw, dapx.ErrMalformedMessage)
	}
	// The next request is the first Delve sees.
	seq := r.c.Send("stackTrace", map[string]any{"threadId": 1})
	h, _ := r.read(t)
	if h.Command != "stackTrace" {
		t.Fatalf("Delve got %q first, want stackTrace", h.Command)
	}
	r.respond(t, h.Seq, h.Command, map[string]any{})
	r.c.Response(t, seq)
}
