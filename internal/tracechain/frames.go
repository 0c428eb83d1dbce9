package tracechain

import (
	"strings"

	"github.com/lockscope/lockscope/internal/contention"
)

// The frame rule (whose code a frame is) lives in internal/usercode; this
// file names the primitives.

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
