// Lock sets: the locks certainly held at a point of a function, and the
// meet of two of them where control flow joins.

package mapwrites

import (
	"go/types"
	"slices"
)

// heldLock is one lock certainly held: which mutex, in which mode, and how
// the report and Delve spell it.
type heldLock struct {
	key  string // the mutex expression, for matching Lock and Unlock
	read bool   // held by RLock
	kind string
	id   string
	expr string
	eval string
	// pkgRoot is the package variable the mutex expression starts from,
	// if it does, and evalRest the rest of eval after it: such a lock has
	// the same key in every function, and is spelled anew for Delve in
	// the package of a callee (interproc.go).
	pkgRoot  types.Object
	evalRest string
	// outer marks a lock a caller holds through an expression this
	// function cannot name (c.lock held while c.lru.Add runs).
	outer bool
}

// lockState is what a walk knows at a point of a function: the locks it
// certainly took there (held, in acquisition order), and the keys of the
// locks that some path from the function's entry released or took anew
// (killed), so that a lock the callers hold on entry (interproc.go) is held
// at the point unless killed names it. lost is set in unreachable code,
// where nothing held on entry is certain. A state is small, so it is copied
// rather than shared.
type lockState struct {
	held   []heldLock
	killed []string
	lost   bool
}

// with is s after h is taken. Taking a mutex in one mode replaces a hold
// of it in the other (a Lock after an RLock of the same expression).
func (s lockState) with(h heldLock) lockState {
	out := s.without(h.key)
	out.held = append(out.held, h)
	return out
}

// without is s after the mutex named key is released.
func (s lockState) without(key string) lockState {
	out := lockState{held: make([]heldLock, 0, len(s.held)+1), killed: s.killed, lost: s.lost}
	for _, h := range s.held {
		if h.key != key {
			out.held = append(out.held, h)
		}
	}
	if !slices.Contains(s.killed, key) {
		out.killed = append(slices.Clip(s.killed), key)
	}
	return out
}

// kills reports whether a lock with key held on entry may be released (or
// taken anew) on the way to this point.
func (s lockState) kills(key string) bool { return s.lost || slices.Contains(s.killed, key) }

// hasLock reports whether hs holds the same mutex in the same mode as h.
func hasLock(hs []heldLock, h heldLock) bool {
	for _, x := range hs {
		if x.key == h.key && x.read == h.read {
			return true
		}
	}
	return false
}

// meetLocks keeps the locks of a that b holds too, in a's order.
func meetLocks(a, b []heldLock) []heldLock {
	out := []heldLock{}
	for _, h := range a {
		if hasLock(b, h) {
			out = append(out, h)
		}
	}
	return out
}

// meet keeps the locks held in both states, and the kills of either.
func meet(a, b lockState) lockState {
	out := lockState{held: meetLocks(a.held, b.held), killed: slices.Clone(a.killed), lost: a.lost || b.lost}
	for _, k := range b.killed {
		if !slices.Contains(out.killed, k) {
			out.killed = append(out.killed, k)
		}
	}
	return out
}

// equalState reports whether a and b hold the same locks and kill the same
// keys, in any order.
func equalState(a, b lockState) bool {
	if len(a.held) != len(b.held) || len(meetLocks(a.held, b.held)) != len(a.held) || a.lost != b.lost || len(a.killed) != len(b.killed) {
		return false
	}
	for _, k := range a.killed {
		if !slices.Contains(b.killed, k) {
			return false
		}
	}
	return true
}

// clone copies s, so that a recorded state does not share its arrays.
func (s lockState) clone() lockState {
	return lockState{held: slices.Clone(s.held), killed: slices.Clone(s.killed), lost: s.lost}
}
