package crashrace

import (
	"strconv"
	"strings"

	"github.com/lockscope/lockscope/internal/contention"
	"github.com/lockscope/lockscope/internal/usercode"
)

// userFrame picks the frame to charge, by the one rule of
// internal/usercode: the first frame of the user's code; failing that the
// first of a dependency's; failing that the first standard-library caller;
// failing that nothing. The stack's own runtime frames give the GOROOT:
// Delve's DAP stack frames cut the package path to its last element
// ("maps.fatal" for internal/runtime/maps.fatal, "store.(*S).Put" for
// github.com/me/app/store), so names alone would take a user's package
// called "maps" or "sync" for the standard library's.
func userFrame(frames []contention.Frame, code usercode.Rules) (contention.Frame, bool) {
	classes := classify(frames, code)
	for _, want := range []usercode.Class{usercode.User, usercode.Dep, usercode.Std} {
		for i, c := range classes {
			if c == want {
				return frames[i], true
			}
		}
	}
	return contention.Frame{}, false
}

// classify returns the class of each frame, with the GOROOT taken from
// the stack when a frame shows it.
func classify(frames []contention.Frame, code usercode.Rules) []usercode.Class {
	for _, f := range frames {
		if r, ok := code.WithGOROOTFrom(f.Function, f.File); ok {
			code = r
			break
		}
	}
	classes := make([]usercode.Class, len(frames))
	for i, f := range frames {
		classes[i] = code.Class(f.Function, f.File)
	}
	return classes
}

// stripArgs turns a traceback function line into the function name:
// "main.hit(...)" -> "main.hit", "internal/runtime/maps.fatal({0x4d63b0?,
// 0x0?})" -> "internal/runtime/maps.fatal", "main.(*T).M(0xc000010000)" ->
// "main.(*T).M". It removes the last balanced parenthesised group, so the
// receiver's "(*T)" stays.
func stripArgs(s string) string {
	s = strings.TrimSpace(s)
	if !strings.HasSuffix(s, ")") {
		return s
	}
	depth := 0
	for i := len(s) - 1; i >= 0; i-- {
		switch s[i] {
		case ')':
			depth++
		case '(':
			depth--
			if depth == 0 {
				return s[:i]
			}
		}
	}
	return s
}

// parseFileLine reads the location line under a frame, in both the
// runtime's form ("\t/p/main.go:14 +0x18 fp=0x... sp=0x... pc=0x...",
// "\t/p/main.go:14" for inlined frames) and the race detector's
// ("      /p/main.go:14 +0xa6").
func parseFileLine(s string) (file string, line int, ok bool) {
	s = strings.TrimSpace(s)
	// The offset and the frame registers follow the line number after a
	// space; a path may itself hold spaces, so cut at the known markers.
	for _, marker := range []string{" +0x", " fp=", " pc="} {
		if i := strings.Index(s, marker); i >= 0 {
			s = s[:i]
		}
	}
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || i == len(s)-1 {
		return "", 0, false
	}
	n, err := strconv.Atoi(s[i+1:])
	if err != nil || n < 0 {
		return "", 0, false
	}
	return s[:i], n, true
}
