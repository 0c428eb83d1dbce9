package crashrace

import (
	"bytes"
	"strconv"
	"strings"
	"sync"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/usercode"
)

// Limits that keep a [RaceParser] bounded whatever it is fed: a stream with
// no newline, a report with no terminator, or an endless run of reports.
const (
	// MaxLineBytes is the longest line kept; the rest of a longer line is
	// dropped up to its newline.
	MaxLineBytes = 64 << 10
	// MaxReportLines ends a report that has not ended by itself; it is
	// kept as Truncated. Real reports are a few dozen lines.
	MaxReportLines = 2000
	// MaxRaceFrames is the most frames kept per stack.
	MaxRaceFrames = 64
	// MaxRaces is the most reports kept; later ones are dropped. The race
	// detector itself reports each pair of racing statements once, so a run
	// that reaches the limit has shown plenty already.
	MaxRaces = 1000
)

const (
	raceSeparator = "=================="
	raceWarning   = "WARNING: DATA RACE"
)

// RaceParser reads the race detector's reports out of a program's output,
// fed in chunks of any size through Write: a process's stderr, or the text
// of Delve's output events. Text that is not part of a report is ignored.
//
// A report runs from "WARNING: DATA RACE" to the "==================" line
// that closes it:
//
//	==================
//	WARNING: DATA RACE
//	Write at 0x00c00009c0f0 by goroutine 9:
//	  runtime.mapdelete_fast64()
//	      /usr/local/go/src/internal/runtime/maps/runtime_fast64.go:505 +0x0
//	  main.forget()
//	      /work/main/testdata/racymap/main.go:18 +0xa6
//
//	Previous write at 0x00c00009c0f0 by main goroutine:
//	  ...
//
//	Goroutine 9 (running) created at:
//	  main.main()
//	      /work/main/testdata/racymap/main.go:31 +0x124
//	==================
//
// Program output that lands inside a report, between its lines, is skipped.
// A report cut off (by a new report, by [MaxReportLines], or by Flush) is
// kept with Truncated set.
//
// The zero value is ready to use. Its methods may be called from several
// goroutines: output may stream in on one while another asks for Races.
type RaceParser struct {
	// Code says whose code a frame is (the program's modules); set it
	// before the first Write. The zero value decides by paths and names.
	Code usercode.Rules

	mu    sync.Mutex
	lines lines
	cur   *raceReport
	races []contention.Race
}

// raceReport is a report being read.
type raceReport struct {
	access, previous *raceAccess
	// section is the stack that frame lines go to: an access, a
	// "Goroutine N created at:" stack, or nil for a section that is not
	// kept (a heap block's allocation stack).
	section *[]contention.Frame
	// created holds the "Goroutine N created at:" stacks. A Go report has
	// one per access at most; the array keeps section pointers stable.
	created  [4]createdStack
	ncreated int
	pending  string // a function line waiting for its location line
	lines    int
}

type createdStack struct {
	id     int64
	frames []contention.Frame
}

type raceAccess struct {
	op        string
	goroutine int64
	frames    []contention.Frame
}

// Write feeds output to the parser. It never fails, so it can sit in an
// io.MultiWriter next to the real destination.
func (p *RaceParser) Write(chunk []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines.write(chunk, p.line)
	return len(chunk), nil
}

// Flush ends the input: a partial last line is read, and a report still
// open is kept as Truncated. The parser can be fed again afterwards.
func (p *RaceParser) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines.flush(p.line)
	if p.cur != nil {
		p.finish(true)
	}
}

// Races returns the reports read so far that have ended, in order.
func (p *RaceParser) Races() []contention.Race {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]contention.Race(nil), p.races...)
}

// ParseRaces reads every report in text, as a [RaceParser] fed text and
// flushed.
func ParseRaces(text string) []contention.Race {
	var p RaceParser
	p.Write([]byte(text))
	p.Flush()
	return p.Races()
}

// line reads one line (without its newline).
func (p *RaceParser) line(b []byte) {
	b = bytes.TrimRight(b, "\r")
	if bytes.Contains(b, []byte(raceWarning)) {
		if p.cur != nil {
			p.finish(true)
		}
		p.cur = &raceReport{}
		return
	}
	r := p.cur
	if r == nil {
		return // outside a report: program output, or the opening separator
	}
	r.lines++
	if bytes.HasSuffix(b, []byte(raceSeparator)) {
		p.finish(false)
		return
	}
	if r.lines > MaxReportLines {
		p.finish(true)
		return
	}
	s := string(b)
	t := strings.TrimSpace(s)
	switch {
	case t == "":
		// Blank lines come before each section header; a program's blank
		// line inside a report must not lose the stack being read.
		return
	case s[0] != ' ' && s[0] != '\t':
		// Section headers start in column 0, unless a program's unfinished
		// line is glued in front: look for them anywhere on the line.
		if a, prev, ok := accessHeader(t); ok {
			if prev {
				r.previous = a
			} else {
				r.access = a
			}
			r.section, r.pending = &a.frames, ""
			return
		}
		if id, ok := createdHeader(t); ok {
			r.section, r.pending = nil, ""
			if r.ncreated < len(r.created) {
				r.created[r.ncreated] = createdStack{id: id}
				r.section = &r.created[r.ncreated].frames
				r.ncreated++
			}
			return
		}
		if strings.HasPrefix(t, "Heap block of size ") || strings.HasPrefix(t, "Global var ") ||
			strings.HasPrefix(t, "Location is ") {
			// Where the memory lives: its allocation stack is not kept.
			r.section, r.pending = nil, ""
			return
		}
		// A program's unfinished line glued in front of an indented frame
		// line: the race detector indents a function by 2 spaces and its
		// location by 6.
		if i := strings.Index(s, "      "); i > 0 {
			r.frameLine(strings.TrimSpace(s[i:]))
		} else if i := strings.LastIndex(s, "  "); i > 0 && strings.HasSuffix(t, "()") {
			r.frameLine(strings.TrimSpace(s[i:]))
		}
		// Anything else is a program's own line: skipped.
	default:
		r.frameLine(t)
	}
}

// frameLine reads an indented line of a stack: a function ("main.record()")
// or its location ("/p/main.go:14 +0xa6").
func (r *raceReport) frameLine(t string) {
	switch {
	case t == "[failed to restore the stack]":
		r.pending = ""
	case strings.HasSuffix(t, "()"):
		r.pending = strings.TrimSuffix(t, "()")
	default:
		if r.pending == "" || r.section == nil {
			return
		}
		file, n, ok := parseFileLine(t)
		if !ok {
			return
		}
		if len(*r.section) < MaxRaceFrames {
			*r.section = append(*r.section, contention.Frame{Function: r.pending, File: file, Line: n})
		}
		r.pending = ""
	}
}

// accessHeader reads "Write at 0x... by goroutine 9:", "Previous read at
// 0x... by main goroutine:" and the older "Read of size 8 at ...".
func accessHeader(t string) (a *raceAccess, previous bool, ok bool) {
	if !strings.HasSuffix(t, ":") {
		return nil, false, false
	}
	t = strings.TrimSuffix(t, ":")
	// A header glued behind a program's unfinished line starts mid-line.
	for _, word := range []string{"Previous write ", "Previous read ", "Write ", "Read "} {
		if i := strings.Index(t, word); i > 0 {
			t = t[i:]
			break
		}
	}
	if rest, ok := strings.CutPrefix(t, "Previous "); ok {
		previous, t = true, rest
	}
	var op string
	switch {
	case strings.HasPrefix(t, "Write ") || strings.HasPrefix(t, "write "):
		op = "write"
	case strings.HasPrefix(t, "Read ") || strings.HasPrefix(t, "read "):
		op = "read"
	default:
		return nil, false, false
	}
	if !strings.Contains(t, " at ") {
		return nil, false, false
	}
	_, who, ok := strings.Cut(t, " by ")
	if !ok {
		return nil, false, false
	}
	var g int64
	switch {
	case who == "main goroutine":
		g = 1 // the race detector's id for the main goroutine
	case strings.HasPrefix(who, "goroutine "):
		n, err := strconv.ParseInt(strings.TrimPrefix(who, "goroutine "), 10, 64)
		if err != nil || n < 0 {
			return nil, false, false
		}
		g = n
	default:
		return nil, false, false
	}
	return &raceAccess{op: op, goroutine: g}, previous, true
}

// createdHeader reads "Goroutine 8 (running) created at:".
func createdHeader(t string) (int64, bool) {
	i := strings.Index(t, "Goroutine ")
	if i < 0 {
		return 0, false
	}
	rest := t[i+len("Goroutine "):]
	if !strings.HasSuffix(rest, " created at:") {
		return 0, false
	}
	num, _, _ := strings.Cut(rest, " ")
	id, err := strconv.ParseInt(num, 10, 64)
	if err != nil || id < 0 {
		return 0, false
	}
	return id, true
}

// finish closes the report being read and keeps it.
func (p *RaceParser) finish(cut bool) {
	r := p.cur
	p.cur = nil
	if r == nil {
		return
	}
	// A report cut short, even one with nothing readable after its
	// warning line, is still a race the detector saw: it is kept, marked.
	race := contention.Race{Truncated: cut || r.access == nil || r.previous == nil}
	if r.access != nil {
		race.Access = r.access.model(r, p.Code)
	}
	if r.previous != nil {
		race.Previous = r.previous.model(r, p.Code)
	}
	if len(p.races) >= MaxRaces {
		return
	}
	p.races = append(p.races, race)
}

// model turns an access into the report's form: the first user frame, and
// the map operation when the access went through the runtime's map code.
func (a *raceAccess) model(r *raceReport, code usercode.Rules) contention.RaceAccess {
	out := contention.RaceAccess{
		Op:        a.op,
		Goroutine: a.goroutine,
		Stack:     a.frames,
	}
	for _, c := range r.created[:r.ncreated] {
		if c.id == a.goroutine {
			out.CreatedAt = c.frames
		}
	}
	if f, ok := userFrame(a.frames, code); ok {
		out.File, out.Line, out.Function = f.File, f.Line, f.Function
	}
	classes := classify(a.frames, code)
	for i, f := range a.frames {
		if classes[i].Chargeable() {
			break
		}
		if op, ok := MapOp(f.Function); ok {
			out.Map, out.MapOp = true, op
			break
		}
	}
	return out
}

// MapOp reports whether fn is one of the runtime's map operations and
// returns its name in the runtime's form, "runtime.mapassign_faststr".
// It knows the names of Go 1.24 to 1.26 (runtime.mapaccess1*, mapassign*,
// mapdelete*, mapclear, mapIterStart, mapIterNext, mapclone), the older
// mapiterinit/mapiternext, the swiss-table bodies in internal/runtime/maps
// (runtime_mapassign_faststr, printed by some tools under their own
// package), and the reflect entry points (reflect.mapassign0, ...).
func MapOp(fn string) (string, bool) {
	pkg := usercode.FuncPackage(fn)
	name := strings.TrimPrefix(fn, pkg+".")
	out := fn
	switch pkg {
	case "runtime":
		name = strings.TrimPrefix(name, "reflect_") // runtime.reflect_mapassign
	case "internal/runtime/maps":
		var ok bool
		if name, ok = strings.CutPrefix(name, "runtime_"); !ok {
			return "", false // the table's own methods are not entry points
		}
		out = "runtime." + name
	case "reflect":
	case "maps":
		if name == "clone" { // runtime.mapclone, linked as maps.clone
			return fn, true
		}
		return "", false
	default:
		return "", false
	}
	// Prefixes, not a list: the _fast32/_fast64/_faststr/_fat variants
	// come and go between releases.
	for _, prefix := range []string{"mapaccess", "mapassign", "mapdelete", "mapclear", "mapiter", "mapIter", "mapclone", "maplen"} {
		if strings.HasPrefix(name, prefix) {
			return out, true
		}
	}
	return "", false
}
