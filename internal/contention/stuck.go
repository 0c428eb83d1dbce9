package contention

// StuckWait is a goroutine that waits for a sync.Mutex or sync.RWMutex
// and does not get it: it has waited longer than the threshold (the
// "stuck after" setting), or for good, when every goroutine of the
// program was blocked. Neither profile shows such a wait (a wait is
// recorded when it ends), and a trace window drops it; it comes from
// goroutine dumps (internal/stuck).
type StuckWait struct {
	// Goroutine is the runtime's goroutine id.
	Goroutine int64 `json:"goroutine"`
	// File, Line and Function are where it waits: its first frame outside
	// the runtime and the sync packages, usually the Lock call.
	File     string `json:"file"`
	Line     int    `json:"line"`
	Function string `json:"function"`
	// Reason is the runtime's wait reason: "sync.Mutex.Lock",
	// "sync.RWMutex.Lock" or "sync.RWMutex.RLock".
	Reason string `json:"reason"`
	// Primitive is PrimMutex or PrimRWMutex.
	Primitive string `json:"primitive"`
	// Lock is the mutex expression as written at File:Line (from the
	// source index), and LockID names the mutex variable or field (see
	// mapwrites.LockSite.MutexID); both empty when the line is not an
	// indexed Lock call (a lock inside a library).
	Lock   string `json:"lock,omitempty"`
	LockID string `json:"lockId,omitempty"`
	// LockAddr is the mutex's address as the dump printed it, when it did
	// (the argument of the runtime's lock slow path): two waiters with the
	// same address wait for the same mutex value.
	LockAddr string `json:"lockAddr,omitempty"`
	// WaitNs is how long it has waited at least: the time between the
	// first and the last goroutine dump that show this very wait, or the
	// runtime's own count of minutes, whichever is longer. 0 when only
	// Forever is known (the program was blocked at the first dump).
	WaitNs int64 `json:"waitNs"`
	// Forever is true when every goroutine of the program was blocked:
	// nothing is left to release the lock.
	Forever bool `json:"forever,omitempty"`
	// Holders are the goroutines whose stacks sit inside a critical
	// section of the same lock (same variable or field; with many values
	// of one type, a candidate), itself included when it asks for a lock
	// it holds already. Empty when none does: the holder may be running
	// (the runtime prints no stack for it) or the lock was left locked by
	// a function that returned without Unlock.
	Holders []LockHolder `json:"holders"`
	// PendingWriters are, for a goroutine waiting in RLock, the
	// goroutines waiting in Lock of the same RWMutex: a read lock waits
	// behind a queued writer, even while only readers hold the lock (so
	// taking a read lock twice on one goroutine can deadlock).
	PendingWriters []Waiter `json:"pendingWriters,omitempty"`
	// Stack is the waiting goroutine's stack, innermost frame first.
	Stack []Frame `json:"stack,omitempty"`
	// CreatedBy is where the goroutine was started, when the dump says.
	CreatedBy *Frame `json:"createdBy,omitempty"`
}

// Waiter is a goroutine waiting at a line.
type Waiter struct {
	Goroutine int64  `json:"goroutine"`
	File      string `json:"file"`
	Line      int    `json:"line"`
	Function  string `json:"function"`
}

// LockHolder is a goroutine inside a critical section of a lock that
// another goroutine waits for.
type LockHolder struct {
	Goroutine int64 `json:"goroutine"`
	// LockedAt is the Lock (or RLock) call that took the lock: the
	// nearest one before File:Line in the same function.
	LockedAt Site `json:"lockedAt"`
	// File, Line and Function are the holder's frame inside the critical
	// section: where it is now, or the call that led there.
	File     string `json:"file"`
	Line     int    `json:"line"`
	Function string `json:"function"`
	// Read is true when it holds the lock with RLock.
	Read bool `json:"read,omitempty"`
	// State is what the holder does now: the runtime's wait reason (for
	// example "chan receive" or "sync.Mutex.Lock"), "running" or
	// "runnable".
	State string `json:"state"`
	// WaitsAt is the holder's own first frame outside the runtime and the
	// sync packages, when it is blocked.
	WaitsAt *Site `json:"waitsAt,omitempty"`
}

// Deadlock is a cycle of goroutines, each waiting for a lock that the next
// one holds: "goroutine 7 holds a (main.go:12) and waits for b at
// main.go:14; goroutine 8 holds b (main.go:30) and waits for a at
// main.go:32". A goroutine that asks again for a lock it holds is a cycle
// of one.
type Deadlock struct {
	// Goroutines are the goroutines of the cycle, in its order, starting
	// with the smallest id.
	Goroutines []int64 `json:"goroutines"`
	// Links say, for each goroutine of the cycle, what it holds and what
	// it waits for; the lock a link waits for is the one the next link
	// holds.
	Links []DeadlockLink `json:"links"`
	// Forever is true when every goroutine of the program was blocked.
	Forever bool `json:"forever,omitempty"`
	// Text is the cycle in one sentence, for a person.
	Text string `json:"text"`
}

// DeadlockLink is one goroutine of a [Deadlock].
type DeadlockLink struct {
	Goroutine int64 `json:"goroutine"`
	// Holds is the lock it holds (the expression as written) and LockedAt
	// the call that took it.
	Holds    string `json:"holds"`
	LockedAt Site   `json:"lockedAt"`
	// WaitsFor is the lock it waits for, at WaitsAt.
	WaitsFor string `json:"waitsFor"`
	WaitsAt  Site   `json:"waitsAt"`
}
