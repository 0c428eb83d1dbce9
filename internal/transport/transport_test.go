package transport

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestPeek(t *testing.T) {
	tests := []struct {
		msg     string
		want    Header
		wantErr string
	}{
		{msg: `{"seq":3,"type":"request","command":"threads"}`, want: Header{Seq: 3, Type: "request", Command: "threads"}},
		{msg: ` { "type" : "response", "request_seq" : 7 , "success":true, "command":"locations","body":{"x":[1,{"y":"}"}]},"seq":9}`,
			want: Header{Seq: 9, Type: "response", RequestSeq: 7, Success: true, Command: "locations"}},
		{msg: `{"seq":1,"type":"event","event":"output","body":{"output":"Content-Length: 9\r\n\r\n\"{"}}`, want: Header{Seq: 1, Type: "event", Event: "output"}},
		{msg: `{"seq":1,"type":"request","command":"a\u002fb"}`, want: Header{Seq: 1, Type: "request", Command: "a/b"}},
		{msg: `{bad}`, wantErr: "field name"},
		{msg: `[1]`, wantErr: "not a JSON object"},
		{msg: `{"seq":"x","type":"request"}`, wantErr: "not an integer"},
		{msg: `{"seq":1,"type":"nonsense"}`, wantErr: "unknown message type"},
		{msg: `{"seq":1}`, wantErr: `no "type"`},
		{msg: `{"seq":1,"type":"request","arguments":{"a":tru}}`, wantErr: "invalid"},
		{msg: `{"seq":1,"type":"request"} x`, wantErr: "trailing"},
		{msg: `{"seq":1,"type":"request","command":"x`, wantErr: "unterminated"},
	}
	for _, tt := range tests {
		h, err := Peek([]byte(tt.msg))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Peek(%s) error = %v, want one containing %q", tt.msg, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Peek(%s): %v", tt.msg, err)
			continue
		}
		if h.Seq != tt.want.Seq || h.Type != tt.want.Type || h.Command != tt.want.Command || h.Event != tt.want.Event ||
			h.RequestSeq != tt.want.RequestSeq || h.Success != tt.want.Success {
			t.Errorf("Peek(%s) = %+v, want %+v", tt.msg, h, tt.want)
		}
	}
}

// Patch must change seq numbers and nothing else: unknown fields survive.
func TestPatchKeepsEverythingElse(t *testing.T) {
	in := []byte(`{"seq":12,"type":"response","request_seq":4,"success":true,"command":"initialize","body":{"supportsANSIStyling":true,"valueLocationReference":5}}`)
	h, err := Peek(in)
	if err != nil {
		t.Fatal(err)
	}
	out := Patch(in, h, 1000, 77)
	var got, want map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("patched message is not JSON: %v: %s", err, out)
	}
	_ = json.Unmarshal(in, &want)
	want["seq"], want["request_seq"] = float64(1000), float64(77)
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("got %s\nwant %s", gb, wb)
	}
	// Without a seq field one is added.
	noSeq := []byte(`{"type":"event","event":"x"}`)
	h, _ = Peek(noSeq)
	if h2, err := Peek(Patch(noSeq, h, 5, -1)); err != nil || h2.Seq != 5 {
		t.Fatalf("adding seq: %v %+v", err, h2)
	}
}

func frame(body string) string {
	return "Content-Length: " + itoa(len(body)) + "\r\n\r\n" + body
}

func itoa(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + jsonInt(n)) }

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestReaderRecoversFromBadFrames(t *testing.T) {
	stream := frame(`{"seq":1}`) +
		"Content-Lngth 12\r\n\r\n" + // no colon
		frame(`{"seq":2}`) +
		"Content-Length: abc\r\n\r\n" +
		frame(`{"seq":3}`) +
		"X-Other: 1\r\n\r\n" + // no Content-Length
		frame(`{"seq":4}`)
	r := NewReader(strings.NewReader(stream))
	var good []string
	var bad int
	for {
		b, err := r.Read()
		if err == io.EOF {
			break
		}
		var fe *FrameError
		if errors.As(err, &fe) {
			bad++
			continue
		}
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		good = append(good, string(b))
	}
	if bad != 3 || len(good) != 4 || good[3] != `{"seq":4}` {
		t.Fatalf("got %d bad frames and %q", bad, good)
	}
}

func TestReaderRefusesHugeAndTruncated(t *testing.T) {
	r := NewReader(strings.NewReader("Content-Length: 999999999999\r\n\r\n"))
	if _, err := r.Read(); err == nil {
		t.Fatal("a huge Content-Length was accepted")
	}
	r = NewReader(strings.NewReader("Content-Length: 10\r\n\r\n{}"))
	if _, err := r.Read(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated body: %v, want unexpected EOF", err)
	}
}

func TestWriterFramesWhole(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	_ = w.Write([]byte(`{"a":1}`))
	if buf.String() != "Content-Length: 7\r\n\r\n{\"a\":1}" {
		t.Fatalf("got %q", buf.String())
	}
}

func FuzzPeek(f *testing.F) {
	f.Add([]byte(`{"seq":3,"type":"request","command":"threads","arguments":{"a":[1,2,{"b":"c\""}]}}`))
	f.Add([]byte(`{"seq":1,"type":"response","request_seq":1,"success":false,"message":"x"}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, msg []byte) {
		h, err := Peek(msg)
		if err != nil {
			return
		}
		// Whatever Peek accepts is one valid JSON object, and patching it
		// keeps it valid.
		if !json.Valid(msg) {
			t.Fatalf("Peek accepted invalid JSON %q", msg)
		}
		out := Patch(msg, h, 42, 7)
		if !json.Valid(out) {
			t.Fatalf("Patch made invalid JSON %q from %q", out, msg)
		}
		h2, err := Peek(out)
		if err != nil || h2.Seq != 42 {
			t.Fatalf("re-peek: %v %+v", err, h2)
		}
	})
}
