package transport

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// A message over the Reader's limit is skipped, not read into memory, with
// an error that tells its seq and command wherever the client put them
// (go-dap writes them first, VS Code after the arguments), and the next
// message is read as usual.
func TestLimitMessagesSkipsAndGoesOn(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	stream := frame(`{"seq":7,"type":"request","command":"evaluate","arguments":{"expression":"`+big+`"}}`) +
		frame(`{"command":"lockscope/load","arguments":{"path":"`+big+`"},"type":"request","seq":8}`) +
		frame(`{"seq":9,"type":"request","command":"threads"}`)
	r := NewReader(bytes.NewReader([]byte(stream)))
	r.LimitMessages(64 << 10)
	for _, want := range []struct {
		seq     int
		command string
	}{{7, "evaluate"}, {8, "lockscope/load"}} {
		_, err := r.Read()
		var te *TooLargeError
		if !errors.As(err, &te) {
			t.Fatalf("Read = %v, want a *TooLargeError", err)
		}
		if seq, cmd := te.Routing(); seq != want.seq || cmd != want.command {
			t.Errorf("Routing() = %d %q, want %d %q", seq, cmd, want.seq, want.command)
		}
		if len(te.Head)+len(te.Tail) > 2*tooLargeHead {
			t.Errorf("kept %d bytes of the skipped message", len(te.Head)+len(te.Tail))
		}
	}
	msg, err := r.Read()
	if err != nil || !strings.Contains(string(msg), `"threads"`) {
		t.Fatalf("after the skipped messages: %q, %v", msg, err)
	}
}
