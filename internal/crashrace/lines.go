package crashrace

import "bytes"

// lines cuts a byte stream that arrives in arbitrary chunks into lines of
// at most MaxLineBytes (the rest of a longer line is dropped), so that a
// hostile stream with no newline cannot grow memory without bound. The
// race parser and the crash watcher share it.
type lines struct {
	partial  []byte // the line being received, up to MaxLineBytes
	overlong bool   // the line being received was longer: the rest is dropped
}

// write feeds a chunk and calls line for each whole line, without its
// newline. A line inside the chunk is passed in place, without a copy.
func (l *lines) write(chunk []byte, line func([]byte)) {
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			l.keep(chunk)
			return
		}
		if len(l.partial) == 0 && !l.overlong {
			line(chunk[:min(i, MaxLineBytes)])
		} else {
			l.keep(chunk[:i])
			line(l.partial)
			l.partial = l.partial[:0]
			l.overlong = false
		}
		chunk = chunk[i+1:]
	}
}

// flush passes the partial last line, if any, as a whole line.
func (l *lines) flush(line func([]byte)) {
	if len(l.partial) > 0 {
		line(l.partial)
		l.partial = l.partial[:0]
		l.overlong = false
	}
}

// keep adds to the partial line, dropping what goes beyond MaxLineBytes.
func (l *lines) keep(b []byte) {
	room := MaxLineBytes - len(l.partial)
	if len(b) > room {
		b = b[:room]
		l.overlong = true
	}
	l.partial = append(l.partial, b...)
}
