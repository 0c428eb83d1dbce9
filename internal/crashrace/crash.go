// Package crashrace turns the Go runtime's fatal-error text and the race
// detector's DATA RACE reports into lockscope's model ([contention.Crash] and
// [contention.Race]).
//
// It reads text only: a plain run's stderr ([ParseCrash], or [CrashWatcher]
// while it streams), what Delve's DAP server says when the debuggee stops on
// a fatal throw ([CrashFromStop]), and race reports in output that arrives
// in arbitrary chunks ([RaceParser]). It knows nothing of DAP and does no
// I/O of its own. [AddWriters] joins a crash to the source index of map
// writes, and [MapCrashReasons] tells a map crash from other fatal errors.
//
// Both inputs charge a crash or a race to a user line: the first frame that
// is neither the runtime's (runtime., internal/..., sync, reflect, maps) nor
// standard-library code under a GOROOT. The map check that trips sits in
// internal/runtime/maps, but the statement a person can fix is the caller's.
//
// Formats read (Go 1.26, Delve 1.27.2):
//
//	fatal error: concurrent map writes
//
//	goroutine 8 [running]:                          (GOTRACEBACK=single, all)
//	goroutine 7 gp=0x... m=2 mp=0x... [running]:    (GOTRACEBACK=system, crash)
//	goroutine 22 [running, locked to thread]:
//	internal/runtime/maps.fatal({0x4d63b0?, 0x0?})
//		/usr/local/go/src/runtime/panic.go:1181 +0x18
//	main.hit(...)                                   (inlined: no offset)
//		/work/main/testdata/crashmap/main.go:14
//	created by main.main in goroutine 1
//		/work/main/testdata/crashmap/main.go:30 +0x185
//
// The race detector's goroutine numbers are its own (ThreadSanitizer thread
// ids), not the runtime's goroutine ids: the same goroutine was "goroutine 8"
// in a race report and "goroutine 7" in the crash that followed it. "main
// goroutine" is reported as 1.
package crashrace

import (
	"strconv"
	"strings"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/usercode"
)

// The runtime's unsafe map access errors, as internal/runtime/maps raises
// them with fatal() in Go 1.24 to 1.26 (the older hmap runtime used the same
// first three strings).
const (
	ReasonMapWrites     = "concurrent map writes"
	ReasonMapReadWrite  = "concurrent map read and map write"
	ReasonMapIterWrite  = "concurrent map iteration and map write"
	ReasonMapCloneWrite = "concurrent map clone and map write"
)

// MapCrashReasons lists the fatal-error reasons (without "fatal error: ")
// that mean an unsafe concurrent map access, so that a caller can tell a map
// crash from other fatal errors such as a deadlock.
func MapCrashReasons() []string {
	return []string{ReasonMapWrites, ReasonMapReadWrite, ReasonMapIterWrite, ReasonMapCloneWrite}
}

// IsMapCrash reports whether reason is one of [MapCrashReasons].
func IsMapCrash(reason string) bool {
	switch reason {
	case ReasonMapWrites, ReasonMapReadWrite, ReasonMapIterWrite, ReasonMapCloneWrite:
		return true
	}
	return false
}

const (
	fatalPrefix = "fatal error: "
	// maxCrashFrames bounds the stack kept for one crash. The user frame is
	// looked for among these only; the runtime's own dump stops at 100.
	maxCrashFrames = 200
)

// ParseCrash reads the text a Go program printed when it died of a fatal
// error (its stderr, possibly mixed with its stdout and with go run's "exit
// status 2"), and returns the crash: the reason without "fatal error: ", the
// goroutine that raised it, its stack, and the first user frame as
// File/Line/Function.
//
// The last "fatal error: " in the text wins, since the process dies on it.
// The goroutine is the first goroutine dumped after it, the one that was
// running. With GOTRACEBACK=none no goroutine is dumped: the crash then has a
// reason only. ok is false when the text holds no fatal error.
func ParseCrash(text string) (c *contention.Crash, ok bool) {
	return ParseCrashWith(text, usercode.Rules{})
}

// ParseCrashWith is [ParseCrash] with the rule for whose code a frame is
// (the program's modules): the crash is charged to the first frame of the
// user's code.
func ParseCrashWith(text string, code usercode.Rules) (c *contention.Crash, ok bool) {
	at := strings.LastIndex(text, fatalPrefix)
	if at < 0 {
		return nil, false
	}
	rest := text[at+len(fatalPrefix):]
	reasonLine, rest, _ := strings.Cut(rest, "\n")
	c = &contention.Crash{Reason: strings.TrimSpace(reasonLine)}
	if c.Reason == "" {
		return nil, false
	}
	c.MapCrash = IsMapCrash(c.Reason)

	// Skip to the first goroutine header: between the reason and it the
	// runtime may print "[signal ...]" lines or a "runtime stack:" section
	// for the system stack, and other output may interleave.
	for rest != "" {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		if id, ok := goroutineHeader(line); ok {
			c.Goroutine = id
			parseCrashFrames(c, rest)
			break
		}
	}
	if f, ok := userFrame(c.Stack, code); ok {
		c.File, c.Line, c.Function = f.File, f.Line, f.Function
	}
	return c, true
}

// parseCrashFrames reads one goroutine's frames, up to the blank line or the
// next goroutine header that ends them.
func parseCrashFrames(c *contention.Crash, text string) {
	var pending string // function line waiting for its location line
	created := false   // pending is a "created by" line
	for text != "" {
		var line string
		line, text, _ = strings.Cut(text, "\n")
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			return
		}
		if _, ok := goroutineHeader(line); ok {
			return
		}
		switch {
		case strings.HasPrefix(line, "\t") || strings.HasPrefix(line, " "):
			if pending == "" {
				continue // e.g. "goroutine running on other thread; stack unavailable"
			}
			file, n, ok := parseFileLine(line)
			if !ok {
				continue
			}
			f := contention.Frame{Function: pending, File: file, Line: n}
			if created {
				c.CreatedBy = &f
			} else if len(c.Stack) < maxCrashFrames {
				c.Stack = append(c.Stack, f)
			}
			pending, created = "", false
		case strings.HasPrefix(line, "created by "):
			fn := strings.TrimPrefix(line, "created by ")
			if i := strings.Index(fn, " in goroutine "); i >= 0 {
				fn = fn[:i]
			}
			pending, created = strings.TrimSpace(fn), true
		case strings.HasSuffix(line, ")"):
			pending, created = stripArgs(line), false
		}
		// Anything else ("...additional frames elided...", a program's own
		// output written while the runtime printed) is not a frame.
	}
}

// goroutineHeader reads "goroutine 7 [running]:", "goroutine 22 [running,
// locked to thread]:" and "goroutine 7 gp=0x... m=2 mp=0x... [running]:".
func goroutineHeader(line string) (int64, bool) {
	line = strings.TrimRight(line, "\r ")
	rest, ok := strings.CutPrefix(line, "goroutine ")
	if !ok || !strings.HasSuffix(rest, "]:") {
		return 0, false
	}
	num, rest, ok := strings.Cut(rest, " ")
	if !ok || !strings.Contains(rest, "[") {
		return 0, false
	}
	id, err := strconv.ParseInt(num, 10, 64)
	if err != nil || id < 0 {
		return 0, false
	}
	return id, true
}

// CrashFromStop builds the crash from what Delve's DAP server reports when
// the debuggee stops on a fatal throw, and the frames of that goroutine's
// stackTrace response. ok is false when description names no reason.
//
// Delve 1.27.2 (service/dap/server.go) stops on its "runtime-fatal-throw"
// breakpoint at runtime.fatal (also runtime.throw, fatalsignal) and sends:
//
//   - the stopped event: reason "exception", description "fatal error",
//     text = throwReason(goroutine), the value of runtime.fatal's argument s
//     printed by go/constant's String: Go-quoted, for example
//     "\"concurrent map writes\"" (quotes included; longer than 70 runes it
//     is cut and ends in "..." without the closing quote);
//   - the exceptionInfo response: exceptionId "fatal error", description =
//     the same quoted string (or "Error getting throw reason: ..." when the
//     argument could not be read), details.stackTrace = a printed stack.
//
// description may be "fatal error: " followed by either of those strings
// (exceptionId + ": " + description), which is read for any fatal error; or
// one of them alone, or the bare reason, which is read only when it names a
// map crash ([MapCrashReasons]). Delve sends a panic the same way (reason
// "exception", exceptionId "panic", the panic value quoted as description),
// so an unprefixed string that is not a map error may be a panic's message
// and is refused. The stack frames are runtime.fatal, maps.fatal (Delve
// cuts names to the last path element), runtime.mapassign_faststr, then the
// user's frames; the first user frame is charged, as in [ParseCrash].
func CrashFromStop(description string, frames []contention.Frame, goroutine int64) (*contention.Crash, bool) {
	return CrashFromStopWith(description, frames, goroutine, usercode.Rules{})
}

// CrashFromStopWith is [CrashFromStop] with the rule for whose code a
// frame is (the program's modules).
func CrashFromStopWith(description string, frames []contention.Frame, goroutine int64, code usercode.Rules) (*contention.Crash, bool) {
	trimmed := strings.TrimSpace(description)
	prefixed := strings.HasPrefix(trimmed, "fatal error:")
	reason := normalizeReason(trimmed)
	if reason == "" || strings.HasPrefix(reason, "Error getting throw reason") ||
		strings.HasPrefix(reason, "Throw reason unavailable") {
		return nil, false
	}
	if !prefixed && !IsMapCrash(reason) {
		return nil, false
	}
	c := &contention.Crash{
		Reason:    reason,
		Goroutine: goroutine,
		MapCrash:  IsMapCrash(reason),
	}
	if len(frames) > 0 {
		n := min(len(frames), maxCrashFrames)
		c.Stack = append([]contention.Frame(nil), frames[:n]...)
	}
	if f, ok := userFrame(c.Stack, code); ok {
		c.File, c.Line, c.Function = f.File, f.Line, f.Function
	}
	return c, true
}

// normalizeReason strips "fatal error: " and Delve's quoting.
func normalizeReason(s string) string {
	s = strings.TrimSpace(s)
	for {
		t, ok := strings.CutPrefix(s, fatalPrefix)
		if !ok {
			t, ok = strings.CutPrefix(s, "fatal error:")
		}
		if !ok {
			break
		}
		s = strings.TrimSpace(t)
	}
	if strings.HasPrefix(s, `"`) {
		if u, err := strconv.Unquote(s); err == nil {
			s = u
		} else {
			// go/constant shortened it: `"long reason...` with no closing
			// quote. Keep what is there.
			s = strings.TrimPrefix(s, `"`)
		}
	}
	return strings.TrimSpace(s)
}

// AddWriters fills c.Writers with the other write sites of the same map,
// when the crash line is a known map write in writes (the source index of
// internal/mapwrites). It matches by line and by file: the same path, or,
// when the crash path is relative (a -trimpath build prints
// "example.com/m/pkg/main.go"), the write whose path shares the longest tail
// of folders with it, two elements at least. A crash on a read or an
// iteration is no known write and gets no writers.
func AddWriters(c *contention.Crash, writes []contention.MapWrite) {
	if c == nil || c.File == "" || c.Line <= 0 {
		return
	}
	best, bestScore := -1, 0
	for i, w := range writes {
		if w.Line != c.Line {
			continue
		}
		if w.File == c.File {
			best = i
			break
		}
		if score := relativeMatch(c.File, w.File); score > bestScore {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		return
	}
	w := writes[best]
	seen := map[contention.Site]bool{}
	var out []contention.Site
	for _, s := range w.Writers {
		if s.File == w.File && s.Line == w.Line {
			continue // the crash site itself is not another writer
		}
		if seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	c.Writers = out
}

// relativeMatch scores how well a relative crash path stands for an indexed
// path: the number of trailing path elements they share, or 0 when the
// crash path is absolute (two absolute paths are different files) or fewer
// than two elements (a folder and a file) agree.
func relativeMatch(crash, indexed string) int {
	crash = strings.ReplaceAll(crash, "\\", "/")
	indexed = strings.ReplaceAll(indexed, "\\", "/")
	if strings.HasPrefix(crash, "/") || (len(crash) > 1 && crash[1] == ':') {
		return 0
	}
	a := strings.Split(crash, "/")
	b := strings.Split(indexed, "/")
	n := 0
	for n < len(a) && n < len(b) && a[len(a)-1-n] == b[len(b)-1-n] {
		n++
	}
	if n < 2 {
		return 0
	}
	return n
}
