package crashrace

import (
	"bytes"
	"sync"

	"github.com/lockscope/lockscope/internal/contention"
)

// MaxCrashBytes is the most text a [CrashWatcher] keeps after a "fatal
// error: " line. A GOTRACEBACK=all dump of a few hundred goroutines fits;
// the crashing goroutine comes first, so a cut dump still names it.
const MaxCrashBytes = 1 << 20

// CrashWatcher finds a fatal error in output that streams in, chunk by
// chunk (a process's stderr, Delve's output events), without keeping the
// whole output: only the text from the last "fatal error: " line on, up to
// [MaxCrashBytes]. Crash then reads it as [ParseCrash] would read the whole.
//
// The zero value is ready to use; its methods may be called from several
// goroutines.
type CrashWatcher struct {
	mu    sync.Mutex
	lines lines
	kept  []byte // from the last "fatal error: " line on
	found bool
}

var fatalPrefixBytes = []byte(fatalPrefix)

// Write feeds output to the watcher. It never fails.
func (w *CrashWatcher) Write(chunk []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lines.write(chunk, w.line)
	return len(chunk), nil
}

// line takes one whole line (without its newline).
func (w *CrashWatcher) line(b []byte) {
	if i := bytes.LastIndex(b, fatalPrefixBytes); i >= 0 {
		// A new fatal error replaces the old: ParseCrash reads the last.
		w.kept = append(w.kept[:0], b[i:]...)
		w.kept = append(w.kept, '\n')
		w.found = true
		return
	}
	if w.found && len(w.kept)+len(b)+1 <= MaxCrashBytes {
		w.kept = append(w.kept, b...)
		w.kept = append(w.kept, '\n')
	}
}

// Crash returns the last fatal error seen so far, read from the text kept
// and the line still being received. ok is false when there was none.
func (w *CrashWatcher) Crash() (*contention.Crash, bool) {
	return ParseCrash(w.Text())
}

// Text is the output from the last "fatal error: " line on, as much as
// was kept: what Crash reads, for a caller that parses it with rules of
// its own ([ParseCrashWith]). It is empty when no fatal error was seen.
func (w *CrashWatcher) Text() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	text := string(w.kept)
	if i := bytes.LastIndex(w.lines.partial, fatalPrefixBytes); i >= 0 {
		text = string(w.lines.partial[i:])
	} else if w.found {
		text += string(w.lines.partial)
	}
	return text
}
