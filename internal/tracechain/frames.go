package tracechain

import (
	"strings"

	"github.com/lockscope/lockscope/internal/contention"
)

// funcPackage returns the import path part of a fully qualified function
// name: "main" for "main.(*Cache).Get", "internal/sync" for
// "internal/sync.(*Mutex).lockSlow", "example.com/a/b" for
// "example.com/a/b.F.func1".
func funcPackage(fn string) string {
	slash := strings.LastIndexByte(fn, '/')
	dot := strings.IndexByte(fn[slash+1:], '.')
	if dot < 0 {
		return fn
	}
	return fn[:slash+1+dot]
}

// IsUserFunc reports whether fn belongs to the program rather than to the
// runtime or to the primitive it waits in. A stack is charged to its first
// user frame, the line a person can change; the frame just above it names
// the primitive (for example sync.(*RWMutex).RLock).
func IsUserFunc(fn string) bool {
	if fn == "" {
		return false
	}
	switch pkg := funcPackage(fn); {
	case pkg == "runtime", strings.HasPrefix(pkg, "runtime/"),
		pkg == "sync", pkg == "sync/atomic",
		pkg == "internal", strings.HasPrefix(pkg, "internal/"):
		return false
	}
	return true
}

// primitiveOf names the primitive a goroutine waits in, from the frame just
// above the first user frame and, when the runtime trimmed that frame (a
// channel operation), from the trace's wait reason.
func primitiveOf(primFunc, reason string) string {
	switch {
	case strings.HasPrefix(primFunc, "sync.(*Mutex)."):
		return contention.PrimMutex
	case strings.HasPrefix(primFunc, "sync.(*RWMutex)."):
		return contention.PrimRWMutex
	case strings.HasPrefix(primFunc, "sync.(*WaitGroup)."):
		return contention.PrimWaitGroup
	case strings.HasPrefix(primFunc, "sync.(*Cond)."), reason == "sync.(*Cond).Wait":
		return contention.PrimCond
	case strings.HasPrefix(primFunc, "runtime.chan"), strings.HasPrefix(reason, "chan"):
		return contention.PrimChan
	case strings.HasPrefix(primFunc, "runtime.select"), reason == "select", reason == "select (no cases)":
		return contention.PrimSelect
	}
	return contention.PrimOther
}

// methodOf returns the method part of a primitive frame: "RLock" for
// "sync.(*RWMutex).RLock".
func methodOf(primFunc string) string {
	if primFunc == "" || strings.HasPrefix(primFunc, "runtime.") {
		// runtime.selectgo, runtime.chanrecv1: not a method a person calls.
		return ""
	}
	return primFunc[strings.LastIndexByte(primFunc, '.')+1:]
}

// SyncReason reports whether a wait reason is one that
// `go tool trace -pprof=sync` counts: channel, select and sync waits. The
// analyser follows exactly these waits, so that its per-line totals can be
// checked against that tool.
func SyncReason(reason string) bool {
	return strings.Contains(reason, "chan") || strings.Contains(reason, "sync") || strings.Contains(reason, "select")
}
