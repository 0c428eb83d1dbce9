package transport

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
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
		"Content-Length: abc\r\n\r\n" +
		frame(`{"seq":2}`) +
		"Content-Length: -4\r\n\r\n" +
		frame(`{"seq":3}`) +
		"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n" + // no Content-Length
		"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n" + frame(`{"seq":4}`)
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
		t.Fatalf("got %d bad frames and %q, want 3 and 4 good ones", bad, good)
	}
}

// A stream that is not DAP ends with a ProtocolError at the first bad
// header, and nothing after it is ever returned as a message: that is what
// keeps a browser's POST to a --listen port from having its body run.
func TestReaderStopsAtNonDAPHeaders(t *testing.T) {
	launch := `{"seq":1,"type":"request","command":"launch","arguments":{"noDebug":true,"program":"/tmp/x"}}`
	for _, tc := range []struct{ name, stream string }{
		{"http post", "POST / HTTP/1.1\r\nHost: 127.0.0.1:4711\r\nContent-Type: text/plain\r\n" +
			"Content-Length: " + itoa(len(frame(launch))) + "\r\n\r\n" + frame(launch)},
		{"http get", "GET /json/version HTTP/1.1\r\nHost: x\r\n\r\n" + frame(launch)},
		{"header without colon", "Content-Lngth 12\r\n\r\n" + frame(launch)},
		{"unknown header", "Origin: http://evil.example\r\n" + frame(launch)},
		{"endless header line", "Content-Length: 1" + strings.Repeat("1", 2*MaxHeaderLine) + "\r\n\r\n" + frame(launch)},
		{"huge content length", "Content-Length: 9223372036854775807\r\n\r\n" + frame(launch)},
		{"4 GiB content length", "Content-Length: 4294967296\r\n\r\n" + frame(launch)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tc.stream))
			b, err := r.Read()
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("got %q, %v; want a *ProtocolError", b, err)
			}
		})
	}
}

// The header line limit holds without buffering the whole line.
func TestReaderBoundsHeaderLine(t *testing.T) {
	r := NewReader(io.MultiReader(strings.NewReader("Content-Length: "), zeros{}))
	_, err := r.Read()
	var pe *ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("an endless header line gave %v, want a *ProtocolError", err)
	}
}

// zeros is an endless stream of '0' bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}

func TestReaderRefusesTruncated(t *testing.T) {
	r := NewReader(strings.NewReader("Content-Length: 10\r\n\r\n{}"))
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

// FuzzReader reads arbitrary bytes as a DAP stream, whole and one byte at
// a time: it never panics, the two agree, no body is larger than the limit
// in force, and a *ProtocolError ends the stream for good.
func FuzzReader(f *testing.F) {
	f.Add([]byte("Content-Length: 7\r\n\r\n{\"a\":1}Content-Length: 2\r\n\r\n{}"), uint16(0))
	f.Add([]byte("Content-Length: x\r\n\r\nContent-Length: 2\r\nContent-Type: a\r\n\r\n{}"), uint16(1))
	f.Add([]byte("POST / HTTP/1.1\r\nHost: x\r\n\r\nContent-Length: 2\r\n\r\n{}"), uint16(0))
	f.Add([]byte("POST / HTTP/1.1\r\n\r\nContent-Length: 2\r\n\r\n{}"), uint16(0))
	f.Add([]byte("Content-Length: 9223372036854775807\r\n\r\n"), uint16(0))
	f.Add([]byte("\r\n\r\nContent-Length: 10\r\n\r\n{}"), uint16(3))
	f.Add(append([]byte("Content-Length: 9000\r\n\r\n"), bytes.Repeat([]byte("x"), 9000)...), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, limit uint16) {
		read := func(src io.Reader) []string {
			r := NewReader(src)
			max := int64(MaxMessage)
			if limit > 0 {
				// LimitMessages keeps at least 2*tooLargeHead.
				r.LimitMessages(int64(limit))
				max = r.limit
			}
			var got []string
			for i := 0; ; i++ {
				if i > len(data)+1 {
					t.Fatalf("more reads (%d) than input bytes (%d)", i, len(data))
				}
				body, err := r.Read()
				if int64(len(body)) > max {
					t.Fatalf("a body of %d bytes over the limit %d", len(body), max)
				}
				var pe *ProtocolError
				switch {
				case err == nil:
					got = append(got, "body "+string(body))
				case errors.As(err, &pe):
					if _, again := r.Read(); !errors.As(again, &pe) {
						t.Fatalf("after %v, Read returned %v", err, again)
					}
					return append(got, "protocol "+err.Error())
				case errors.As(err, new(*FrameError)), errors.As(err, new(*TooLargeError)):
					got = append(got, err.Error())
				default:
					return append(got, "end "+err.Error())
				}
			}
		}
		whole, bytewise := read(bytes.NewReader(data)), read(iotest.OneByteReader(bytes.NewReader(data)))
		if !slices.Equal(whole, bytewise) {
			t.Fatalf("whole: %q\none byte at a time: %q", whole, bytewise)
		}
	})
}
