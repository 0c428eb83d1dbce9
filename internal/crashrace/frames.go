package crashrace

import (
	"strconv"
	"strings"

	"github.com/lockscope/lockscope/internal/contention"
)

// funcPackage returns the import path of a fully qualified Go function name
// as the runtime prints it: "main" for "main.(*T).M", "internal/runtime/maps"
// for "internal/runtime/maps.(*Iter).Next", "github.com/a/b" for
// "github.com/a/b.F[...]".
func funcPackage(fn string) string {
	// Type arguments can hold dots and slashes of their own; the package
	// path always ends before the first '['.
	name := fn
	if i := strings.IndexByte(name, '['); i >= 0 {
		name = name[:i]
	}
	slash := strings.LastIndexByte(name, '/')
	dot := strings.IndexByte(name[slash+1:], '.')
	if dot < 0 {
		return name
	}
	return name[:slash+1+dot]
}

// runtimeSide reports whether a function belongs to the packages that sit
// between a user's statement and the runtime's check: the runtime itself,
// the internal packages (internal/runtime/maps, internal/sync), sync, and the
// reflect and maps packages that reach map code for the user. A crash or a
// race is never charged to them.
func runtimeSide(fn string) bool {
	pkg := funcPackage(fn)
	switch {
	case pkg == "", pkg == "runtime", pkg == "sync", pkg == "reflect", pkg == "maps", pkg == "iter":
		return true
	case strings.HasPrefix(pkg, "runtime/"), strings.HasPrefix(pkg, "internal/"),
		strings.HasPrefix(pkg, "sync/"), strings.HasPrefix(pkg, "vendor/"):
		return true
	}
	return false
}

// stdlibFrame reports whether a frame is standard-library code laid out in
// a GOROOT: an import path with no dot in its first element, in a file under
// ".../src/<import path>/". A user's package "myapp/store" in a module folder
// does not match, so user code in dotless modules still counts as user code.
func stdlibFrame(fn, file string) bool {
	pkg := funcPackage(fn)
	if pkg == "main" {
		return false
	}
	first, _, _ := strings.Cut(pkg, "/")
	if strings.Contains(first, ".") {
		return false
	}
	file = strings.ReplaceAll(file, "\\", "/")
	return strings.Contains(file, "/src/"+pkg+"/")
}

// gorootSrc finds the GOROOT source folder ("/usr/local/go/src/") that a
// stack's own runtime frames were compiled from, or "" when no frame shows
// it (a -trimpath build, or a stack with no runtime frame).
//
// With it, a frame's file decides what is the standard library. Names alone
// cannot: Delve's DAP stack frames cut the package path to its last element
// ("maps.fatal" for internal/runtime/maps.fatal, "store.(*S).Put" for
// github.com/me/app/store), so a user's package called "maps" or "sync"
// would look like the standard library's.
func gorootSrc(frames []contention.Frame) string {
	for _, f := range frames {
		if !runtimeSide(f.Function) {
			continue
		}
		file := strings.ReplaceAll(f.File, "\\", "/")
		for _, dir := range []string{"/src/runtime/", "/src/internal/"} {
			if i := strings.Index(file, dir); i >= 0 {
				return file[:i+len("/src/")]
			}
		}
	}
	return ""
}

// isUserFrame reports whether a frame is the user's code, the place a crash
// or a race is charged to. goroot is [gorootSrc] of the stack, or "".
func isUserFrame(f contention.Frame, goroot string) bool {
	file := strings.ReplaceAll(f.File, "\\", "/")
	if goroot != "" && (strings.HasPrefix(file, "/") || len(file) > 1 && file[1] == ':') {
		// An absolute path: the standard library is exactly what lies in
		// the GOROOT the runtime frames came from.
		return !strings.HasPrefix(file, goroot)
	}
	return !runtimeSide(f.Function) && !stdlibFrame(f.Function, f.File)
}

// userFrame picks the frame to charge: the first user frame; failing that
// the first frame outside the runtime side (a standard-library caller);
// failing that nothing.
func userFrame(frames []contention.Frame) (contention.Frame, bool) {
	goroot := gorootSrc(frames)
	for _, f := range frames {
		if isUserFrame(f, goroot) {
			return f, true
		}
	}
	for _, f := range frames {
		if !runtimeSide(f.Function) {
			return f, true
		}
	}
	return contention.Frame{}, false
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
