package transport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Span is a byte range [Start, End) of a value inside a message.
type Span struct{ Start, End int }

// Valid reports whether the span was found.
func (s Span) Valid() bool { return s.End > s.Start }

// Header is what the proxy needs to know about a message: the top-level
// fields that route it. Everything else stays in the raw bytes.
type Header struct {
	Seq        int
	Type       string // "request", "response" or "event"
	Command    string // requests and responses
	Event      string // events
	RequestSeq int    // responses
	Success    bool   // responses

	SeqSpan        Span
	RequestSeqSpan Span
	Arguments      Span // requests
	Body           Span // responses and events
	Message        Span // responses: the error message
}

// Raw returns the bytes of span s in msg.
func Raw(msg []byte, s Span) []byte {
	if !s.Valid() {
		return nil
	}
	return msg[s.Start:s.End]
}

// Peek reads the top-level routing fields of msg without decoding the rest.
// It checks that msg is one JSON object; nested values are skipped by a
// scanner that tracks strings and brackets, so a large body costs one pass.
func Peek(msg []byte) (Header, error) {
	var h Header
	i := skipSpace(msg, 0)
	if i >= len(msg) || msg[i] != '{' {
		return h, errors.New("message is not a JSON object")
	}
	i++
	afterComma := false
	for {
		i = skipSpace(msg, i)
		if i < len(msg) && msg[i] == '}' && !afterComma {
			i++
			break
		}
		if i >= len(msg) || msg[i] != '"' {
			return h, fmt.Errorf("expected a field name at byte %d", i)
		}
		ks := i
		ke, err := skipString(msg, i)
		if err != nil {
			return h, err
		}
		if !json.Valid(msg[ks:ke]) {
			return h, fmt.Errorf("invalid field name at byte %d", ks)
		}
		key := msg[ks+1 : ke-1]
		i = skipSpace(msg, ke)
		if i >= len(msg) || msg[i] != ':' {
			return h, fmt.Errorf("expected ':' at byte %d", i)
		}
		i = skipSpace(msg, i+1)
		vs := i
		ve, err := skipValue(msg, i)
		if err != nil {
			return h, err
		}
		sp := Span{vs, ve}
		val := msg[vs:ve]
		switch string(key) {
		case "seq":
			h.Seq, err = atoi(val)
			h.SeqSpan = sp
		case "request_seq":
			h.RequestSeq, err = atoi(val)
			h.RequestSeqSpan = sp
		case "type":
			h.Type, err = unquote(val)
		case "command":
			h.Command, err = unquote(val)
		case "event":
			h.Event, err = unquote(val)
		case "success":
			h.Success = bytes.Equal(val, []byte("true"))
		case "arguments":
			h.Arguments = sp
		case "body":
			h.Body = sp
		case "message":
			h.Message = sp
		}
		if err != nil {
			return h, fmt.Errorf("field %q: %v", key, err)
		}
		i = skipSpace(msg, ve)
		if i < len(msg) && msg[i] == ',' {
			i++
			afterComma = true
			continue
		}
		if i < len(msg) && msg[i] == '}' {
			i++
			break
		}
		return h, fmt.Errorf("expected ',' or '}' at byte %d", i)
	}
	if skipSpace(msg, i) != len(msg) {
		return h, errors.New("trailing data after the JSON object")
	}
	switch h.Type {
	case "request", "response", "event":
	case "":
		return h, errors.New(`message has no "type"`)
	default:
		return h, fmt.Errorf("unknown message type %q", h.Type)
	}
	return h, nil
}

func atoi(b []byte) (int, error) {
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return 0, fmt.Errorf("not an integer: %.40s", b)
	}
	return n, nil
}

func unquote(b []byte) (string, error) {
	if len(b) == 0 || b[0] != '"' {
		return "", fmt.Errorf("not a string: %.40s", b)
	}
	// Fast path: no escapes.
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b[1 : len(b)-1]), nil
	}
	var s string
	err := json.Unmarshal(b, &s)
	return s, err
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i] == '"'.
func skipString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errors.New("unterminated string")
}

// skipValue returns the index just past the JSON value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errors.New("unexpected end of message")
	}
	switch b[i] {
	case '"':
		e, err := skipString(b, i)
		if err != nil {
			return 0, err
		}
		if !json.Valid(b[i:e]) {
			return 0, errors.New("invalid string")
		}
		return e, nil
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e, err := skipString(b, j)
				if err != nil {
					return 0, err
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					if !json.Valid(b[i : j+1]) {
						return 0, errors.New("invalid JSON value")
					}
					return j + 1, nil
				}
			}
		}
		return 0, errors.New("unterminated object or array")
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\r' && b[j] != '\t' {
			j++
		}
		if j == i || !json.Valid(b[i:j]) {
			return 0, fmt.Errorf("invalid JSON value %.40q", b[i:j])
		}
		return j, nil
	}
}

// Patch returns msg with the seq and, when rs is valid, the request_seq
// values replaced. It allocates one new slice and leaves msg untouched.
func Patch(msg []byte, h Header, seq int, requestSeq int) []byte {
	type edit struct {
		s Span
		v string
	}
	edits := make([]edit, 0, 2)
	if h.SeqSpan.Valid() {
		edits = append(edits, edit{h.SeqSpan, strconv.Itoa(seq)})
	}
	if h.RequestSeqSpan.Valid() && requestSeq >= 0 {
		edits = append(edits, edit{h.RequestSeqSpan, strconv.Itoa(requestSeq)})
	}
	if len(edits) == 2 && edits[1].s.Start < edits[0].s.Start {
		edits[0], edits[1] = edits[1], edits[0]
	}
	out := make([]byte, 0, len(msg)+16)
	prev := 0
	for _, e := range edits {
		out = append(out, msg[prev:e.s.Start]...)
		out = append(out, e.v...)
		prev = e.s.End
	}
	if !h.SeqSpan.Valid() {
		// A message without seq: add one so the peer sees a well-formed message.
		out = append(out, msg[prev:]...)
		return insertSeq(out, seq)
	}
	return append(out, msg[prev:]...)
}

func insertSeq(msg []byte, seq int) []byte {
	i := bytes.IndexByte(msg, '{')
	if i < 0 {
		return msg
	}
	rest := bytes.TrimLeft(msg[i+1:], " \t\r\n")
	sep := ","
	if len(rest) > 0 && rest[0] == '}' {
		sep = ""
	}
	out := make([]byte, 0, len(msg)+16)
	out = append(out, msg[:i+1]...)
	out = append(out, `"seq":`...)
	out = strconv.AppendInt(out, int64(seq), 10)
	out = append(out, sep...)
	return append(out, msg[i+1:]...)
}
