// Lock sets: the locks certainly held at a point of a function, and the
// meet of two of them where control flow joins.

package mapwrites

// heldLock is one lock certainly held: which mutex, in which mode, and how
// the report and Delve spell it.
type heldLock struct {
	key  string // the mutex expression, for matching Lock and Unlock
	read bool   // held by RLock
	kind string
	id   string
	expr string
	eval string
}

// lockState is the set of locks certainly held, in acquisition order. It is
// small, so it is copied rather than shared.
type lockState []heldLock

// with is s after h is taken. Taking a mutex in one mode replaces a hold
// of it in the other (a Lock after an RLock of the same expression).
func (s lockState) with(h heldLock) lockState {
	out := s.without(h.key)
	return append(out, h)
}

// without is s after the mutex named key is released.
func (s lockState) without(key string) lockState {
	out := make(lockState, 0, len(s)+1)
	for _, h := range s {
		if h.key != key {
			out = append(out, h)
		}
	}
	return out
}

// has reports whether s holds the same mutex in the same mode as h.
func (s lockState) has(h heldLock) bool {
	for _, x := range s {
		if x.key == h.key && x.read == h.read {
			return true
		}
	}
	return false
}

// meet keeps the locks held in both states.
func meet(a, b lockState) lockState {
	out := lockState{}
	for _, h := range a {
		if b.has(h) {
			out = append(out, h)
		}
	}
	return out
}

// equalState reports whether a and b hold the same locks, in any order.
func equalState(a, b lockState) bool {
	return len(a) == len(b) && len(meet(a, b)) == len(a)
}
