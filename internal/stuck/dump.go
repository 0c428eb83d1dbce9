package stuck

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Goroutine is one goroutine of a dump.
type Goroutine struct {
	ID int64
	// State is the runtime's status or wait reason: "running",
	// "runnable", "syscall", "sync.Mutex.Lock", "chan receive", ...
	State string
	// Minutes is the runtime's own count of how long the goroutine has
	// waited, in whole minutes; 0 below a minute (the runtime prints
	// nothing then) or when no garbage collection has seen it waiting.
	Minutes int
	// Frames are innermost first. A running goroutine on another thread
	// has none.
	Frames []Frame
	// CreatedBy is the go statement that started it, and CreatorID the
	// goroutine that ran it (0 when the dump does not say).
	CreatedBy *Frame
	CreatorID int64
}

// Frame is one frame of a goroutine's stack.
type Frame struct {
	Function string
	File     string
	Line     int
	// PC is the frame's offset in its function (the "+0x2e"), which tells
	// two calls on one line apart; 0 for an inlined frame.
	PC uint64
	// Arg0 is the first argument word as printed ("0xc000012345"), or ""
	// when the runtime printed none, "..." or a value it was not sure of
	// ("0x5a5dc0?"). For the runtime's lock slow path it is the mutex's
	// address.
	Arg0 string
}

// MaxDump caps the dump ParseDump reads: the runtime's goroutine profile
// stops at 64 MiB.
const MaxDump = 64 << 20

// ErrNotDump is returned for input that holds no goroutine at all.
var ErrNotDump = errors.New("stuck: not a goroutine dump (no \"goroutine N [state]:\" header)")

// ParseDump reads a dump in the format of runtime.Stack(buf, true), which
// is the goroutine profile with debug=2 and the runtime's crash output.
// Lines outside goroutine blocks (a "fatal error:" line before the first
// block, say) are skipped. A dump cut short in its last frame is taken as
// far as it goes. Hostile input gives an error, never a panic.
func ParseDump(data []byte) ([]Goroutine, error) {
	if len(data) > MaxDump {
		return nil, fmt.Errorf("stuck: a goroutine dump of %d bytes; refused above %d MiB", len(data), MaxDump>>20)
	}
	var out []Goroutine
	var g *Goroutine
	lines := bytes.Split(data, []byte("\n"))
	for i := 0; i < len(lines); i++ {
		line := strings.TrimRight(string(lines[i]), "\r")
		switch {
		case strings.HasPrefix(line, "goroutine ") && strings.HasSuffix(line, "]:"):
			hdr, err := parseHeader(line)
			if err != nil {
				return nil, fmt.Errorf("stuck: line %d: %w", i+1, err)
			}
			out = append(out, hdr)
			g = &out[len(out)-1]
		case line == "":
			g = nil
		case g == nil:
			// Text between blocks: a panic message, "fatal error: ...",
			// "[originating from goroutine N]:".
		case strings.HasPrefix(line, "\t"):
			return nil, fmt.Errorf("stuck: line %d: a file line with no function line before it", i+1)
		case strings.HasPrefix(line, "goroutine running on other thread") ||
			strings.HasPrefix(line, "...") || strings.HasPrefix(line, "goroutine ") && strings.Contains(line, "stack unavailable"):
			// No stack, or frames elided in the middle of a deep one.
		default:
			var file string
			if i+1 < len(lines) {
				file = strings.TrimRight(string(lines[i+1]), "\r")
			}
			if !strings.HasPrefix(file, "\t") {
				if i+1 >= len(lines) || (i+2 >= len(lines) && file == "") {
					continue // cut short after a function line
				}
				return nil, fmt.Errorf("stuck: line %d: function line %q not followed by its file line", i+1, clip(line))
			}
			i++
			if rest, ok := strings.CutPrefix(line, "created by "); ok {
				fn, creator := rest, int64(0)
				if j := strings.LastIndex(rest, " in goroutine "); j >= 0 {
					fn = rest[:j]
					creator, _ = strconv.ParseInt(rest[j+len(" in goroutine "):], 10, 64)
				}
				fr, err := parseFileLine(file)
				if err != nil {
					return nil, fmt.Errorf("stuck: line %d: %w", i+1, err)
				}
				fr.Function = fn
				g.CreatedBy, g.CreatorID = &fr, creator
				continue
			}
			fn, arg0, err := parseCall(line)
			if err != nil {
				return nil, fmt.Errorf("stuck: line %d: %w", i, err)
			}
			fr, err := parseFileLine(file)
			if err != nil {
				return nil, fmt.Errorf("stuck: line %d: %w", i+1, err)
			}
			fr.Function, fr.Arg0 = fn, arg0
			g.Frames = append(g.Frames, fr)
		}
	}
	if len(out) == 0 {
		return nil, ErrNotDump
	}
	return out, nil
}

// parseHeader reads "goroutine 7 [sync.Mutex.Lock, 2 minutes, locked to
// thread]:"; the runtime may put "gp=... m=..." before the bracket.
func parseHeader(line string) (Goroutine, error) {
	rest := strings.TrimPrefix(line, "goroutine ")
	sp := strings.IndexByte(rest, ' ')
	if sp <= 0 {
		return Goroutine{}, fmt.Errorf("goroutine header %q has no id", clip(line))
	}
	id, err := strconv.ParseInt(rest[:sp], 10, 64)
	if err != nil || id < 0 {
		return Goroutine{}, fmt.Errorf("goroutine header %q: bad id", clip(line))
	}
	open := strings.IndexByte(rest, '[')
	if open < 0 {
		return Goroutine{}, fmt.Errorf("goroutine header %q has no state", clip(line))
	}
	if open+1 > len(rest)-len("]:") {
		return Goroutine{}, fmt.Errorf("goroutine header %q has no state", clip(line))
	}
	inner := rest[open+1 : len(rest)-len("]:")]
	g := Goroutine{ID: id}
	parts := strings.Split(inner, ", ")
	g.State = parts[0]
	for _, p := range parts[1:] {
		if n, ok := strings.CutSuffix(p, " minutes"); ok {
			if m, err := strconv.Atoi(n); err == nil && m >= 0 {
				g.Minutes = m
			}
		}
	}
	if g.State == "" {
		return Goroutine{}, fmt.Errorf("goroutine header %q has an empty state", clip(line))
	}
	return g, nil
}

// parseCall splits "main.(*Cache).Get(0xc000010000, {0x4b2a1e, 0x3})"
// into the function name and its first argument word. The arguments are
// the last balanced parenthesised group; a name may hold parentheses
// itself.
func parseCall(line string) (fn, arg0 string, err error) {
	if !strings.HasSuffix(line, ")") {
		return "", "", fmt.Errorf("function line %q does not end with its arguments", clip(line))
	}
	depth := 0
	open := -1
	for i := len(line) - 1; i >= 0; i-- {
		switch line[i] {
		case ')':
			depth++
		case '(':
			depth--
		}
		if depth == 0 {
			open = i
			break
		}
	}
	if open <= 0 {
		return "", "", fmt.Errorf("function line %q has unbalanced parentheses", clip(line))
	}
	fn = line[:open]
	args := line[open+1 : len(line)-1]
	// A value marked "?" may be stale (the runtime could not tell): it
	// is no address to trust.
	first, _, _ := strings.Cut(args, ", ")
	if strings.HasPrefix(first, "0x") && !strings.HasSuffix(first, "?") {
		arg0 = first
	}
	return fn, arg0, nil
}

// parseFileLine reads "\t/path/to/file.go:123 +0x2e". A path may hold
// spaces and colons (C:/...); the line number follows the last colon.
func parseFileLine(line string) (Frame, error) {
	s := strings.TrimPrefix(line, "\t")
	var fr Frame
	if j := strings.LastIndex(s, " +0x"); j >= 0 {
		pc, err := strconv.ParseUint(s[j+len(" +0x"):], 16, 64)
		if err != nil {
			return Frame{}, fmt.Errorf("file line %q: bad offset", clip(line))
		}
		fr.PC, s = pc, s[:j]
	}
	c := strings.LastIndexByte(s, ':')
	if c <= 0 {
		return Frame{}, fmt.Errorf("file line %q has no line number", clip(line))
	}
	n, err := strconv.Atoi(s[c+1:])
	if err != nil || n < 0 {
		return Frame{}, fmt.Errorf("file line %q: bad line number", clip(line))
	}
	fr.File, fr.Line = s[:c], n
	return fr, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
