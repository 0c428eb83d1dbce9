package capture

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	_ "unsafe" // for go:linkname
)

// Span is the stretch of a program's life that one of the agent's mutex or
// block profiles covers: from when the agent set the profile rates (the
// profiles are cumulative from then) to when it took the snapshot. Both
// ends are on the machine's monotonic clock, which every process on the
// machine reads alike (runtime.nanotime: CLOCK_MONOTONIC on Linux, the
// same tick count on macOS and Windows), so lockscope can place the
// program's stops, seen in its own process, inside the span.
type Span struct {
	From, To int64 // monotonic nanoseconds
}

// Duration is the span's length, stops in a debugger included.
func (s Span) Duration() time.Duration { return time.Duration(s.To - s.From) }

// Start and End are the span's ends as times of this process: their
// monotonic readings are exact, so Sub between them and time.Now values
// of this process is exact too (their wall readings follow from the
// anchor and are only as good as the wall clock).
func (s Span) Start() time.Time { return atMonotonic(s.From) }

// End: see Start.
func (s Span) End() time.Time { return atMonotonic(s.To) }

// nanotime is the runtime's monotonic clock, the one the agent stamps its
// profiles with. time.Now's monotonic reading is this clock less the
// process's start, which another process cannot know.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// anchor pairs one time.Now with nanotime, read back to back, to turn the
// agent's stamps into times of this process.
var anchor = struct {
	t    time.Time
	mono int64
}{time.Now(), nanotime()}

func atMonotonic(mono int64) time.Time {
	return anchor.t.Add(time.Duration(mono - anchor.mono))
}

// spanComment is the comment the agent writes into each profile
// (agent.go.txt, lockscopeAgentProfile).
const spanComment = "lockscope: profile rates set at %d ns, snapshot at %d ns (monotonic clock)"

// ProfileSpan reads the span an agent's profile covers from its comment.
// It reads the top level of the uncompressed pprof protocol buffer the
// agent writes, skipping the samples and locations unread, so it costs
// little next to the profile's analysis. ok is false for a profile that
// is not the agent's (runtime/pprof's, a gzipped file) or is malformed.
func ProfileSpan(data []byte) (span Span, ok bool) {
	var strs [][]byte // the string table, in order
	var comments []uint64
	for len(data) > 0 {
		key, n := binary.Uvarint(data)
		if n <= 0 {
			return Span{}, false
		}
		data = data[n:]
		field, wire := key>>3, key&7
		switch wire {
		case 0: // varint
			v, n := binary.Uvarint(data)
			if n <= 0 {
				return Span{}, false
			}
			data = data[n:]
			if field == 13 {
				comments = append(comments, v)
			}
		case 1: // fixed64
			if len(data) < 8 {
				return Span{}, false
			}
			data = data[8:]
		case 5: // fixed32
			if len(data) < 4 {
				return Span{}, false
			}
			data = data[4:]
		case 2: // length-delimited
			l, n := binary.Uvarint(data)
			if n <= 0 || l > uint64(len(data)-n) {
				return Span{}, false
			}
			b := data[n : n+int(l)]
			data = data[n+int(l):]
			switch field {
			case 6:
				strs = append(strs, b)
			case 13: // packed
				for len(b) > 0 {
					v, n := binary.Uvarint(b)
					if n <= 0 {
						return Span{}, false
					}
					comments = append(comments, v)
					b = b[n:]
				}
			}
		default:
			return Span{}, false
		}
	}
	for _, c := range comments {
		if c >= uint64(len(strs)) {
			continue
		}
		var s Span
		text := string(strs[c])
		if !strings.HasPrefix(text, "lockscope: ") {
			continue
		}
		if _, err := fmt.Sscanf(text, spanComment, &s.From, &s.To); err == nil && s.From <= s.To {
			return s, true
		}
	}
	return Span{}, false
}

// newer keeps the later-ending of span (when ok) and s. The mutex and
// block profiles are taken one after the other, milliseconds apart, and a
// capture records one duration for both: the newer one's.
func newer(span Span, ok bool, s Span) (Span, bool) {
	if !ok || s.To > span.To {
		return s, true
	}
	return span, ok
}

// ProfilesSpan is the span of the newest of the agent's profiles given;
// ok is false when none is the agent's.
func ProfilesSpan(profiles ...[]byte) (span Span, ok bool) {
	for _, data := range profiles {
		if s, found := ProfileSpan(data); found {
			span, ok = newer(span, ok, s)
		}
	}
	return span, ok
}

// FinalSpan is the span of the profiles the agent saved in the rendezvous
// dir (a periodic snapshot, or the last one, at exit or when it stepped
// aside). ok is false when it saved none.
func (inj *Injection) FinalSpan() (span Span, ok bool) {
	var saved [][]byte
	for _, name := range []string{"mutex.pb", "block.pb"} {
		if data, err := os.ReadFile(filepath.Join(inj.rendezvous, name)); err == nil {
			saved = append(saved, data)
		}
	}
	return ProfilesSpan(saved...)
}
