package contention

// Chain is one blocking chain from an execution trace: who waited on whom,
// hop by hop. Links are ordered from the first waiter to the last holder.
type Chain struct {
	WaitNs int64  `json:"waitNs"`
	Count  int64  `json:"count"`
	Links  []Link `json:"links"`
	// Lock is true when the first waiter waits on a sync.Mutex or
	// sync.RWMutex. Lock chains rank before WaitGroup, channel and select
	// chains: a main parked in wg.Wait for the whole run is not contention.
	Lock bool `json:"lock,omitempty"`
	// Base is the chain's value in the base capture and its change, when
	// the report is compared with one (see [Comparison]).
	Base *Change `json:"base,omitempty"`
	// BeforeStop is set on a chain seen in the flight recorder's window
	// before the program stopped (Source.Origin OriginStopWindow): what a
	// person reads, such as "in the 2.0 s before the stop (breakpoint)".
	// Such a chain led up to the stop; the others come from trace windows
	// taken while the program ran.
	BeforeStop string `json:"beforeStop,omitempty"`
}

// Link is one hop of a chain.
type Link struct {
	File      string `json:"file"`
	Line      int    `json:"line"`
	Function  string `json:"function"`
	Reason    string `json:"reason"`              // the trace's wait reason, e.g. "sync"
	Primitive string `json:"primitive,omitempty"` // e.g. sync.(*RWMutex).RLock
	// Role says what the goroutine does at this line: "waits" (blocked
	// here), "holds" (the last holder: this line released the previous
	// link) or "runtime" (no goroutine released it: a timer, the network
	// poller or the scheduler; File and Line are empty).
	Role string `json:"role,omitempty"`
	// ReleasedAt is, for a "waits" link, the line of the next goroutine
	// that released this wait (for example its Unlock).
	ReleasedAt *Site `json:"releasedAt,omitempty"`
	// Queue is, for a "waits" link, how many successive waits on the same
	// lock it stands for: goroutines queued on one lock, each released by
	// the one before, are one link, not a chain (a chain is kept for
	// waits on different locks). 0 or 1: a single wait.
	Queue int `json:"queue,omitempty"`
	// Via and CallSite are as in [Hotspot].
	Via      string `json:"via,omitempty"`
	CallSite *Site  `json:"callSite,omitempty"`
}

// Sync reports whether the chain starts with a sync wait (a lock, a
// WaitGroup): those rank before channel and select chains.
func (c Chain) Sync() bool {
	return len(c.Links) > 0 && (c.Links[0].Reason == "sync" || c.Links[0].Reason == "sync.Mutex.Lock" || c.Links[0].Reason == "sync.RWMutex.RLock" || c.Links[0].Reason == "sync.RWMutex.Lock")
}
