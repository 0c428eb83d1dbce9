package contention

import "sort"

// Hotspot kinds. "mutex" and "block" come from the pprof profiles; the
// trace kinds come from execution traces.
const (
	KindMutex        = "mutex"         // holder side: the mutex profile charges Unlock stacks
	KindBlock        = "block"         // waiter side: the block profile charges Lock stacks
	KindTraceBlocked = "trace-blocked" // trace: goroutines were blocked at this line
	KindTraceBlocks  = "trace-blocks"  // trace: this line unblocked others (it held what they waited for)
)

// Source kinds besides the hotspot kinds: what else can feed a report.
const (
	KindTrace  = "trace"  // an execution trace (its hotspots are KindTraceBlocked and KindTraceBlocks)
	KindRace   = "race"   // race detector reports
	KindCrash  = "crash"  // a fatal runtime error
	KindSource = "source" // the source index of map writes
)

// Origins: how lockscope got an input (Source.Origin).
const (
	OriginAgent  = "agent"  // lockscope's injected agent, in the running program
	OriginFile   = "file"   // a file the user named
	OriginURL    = "url"    // a net/http/pprof endpoint
	OriginTest   = "test"   // a test binary's -test.*profile files
	OriginOutput = "output" // the program's own output (crash and race text)
	OriginDelve  = "delve"  // a stop that Delve reported
	OriginSource = "source" // the program's source code
	// OriginStopWindow is the flight recorder's window before a stop (a
	// breakpoint, a crash, a pause), read from the stopped program's
	// memory through the debugger: its chains carry Chain.BeforeStop.
	OriginStopWindow = "stop-window"
)

// Primitives, as named in the report.
const (
	PrimMutex     = "sync.Mutex"
	PrimRWMutex   = "sync.RWMutex"
	PrimWaitGroup = "sync.WaitGroup"
	PrimCond      = "sync.Cond"
	PrimChan      = "chan"
	PrimSelect    = "select"
	PrimOther     = "other"
)

// IsLockPrimitive reports whether p is a lock, as opposed to a WaitGroup,
// channel, select or condition wait. Only locks are called contention.
func IsLockPrimitive(p string) bool {
	return p == PrimMutex || p == PrimRWMutex
}

// Hotspot is lock wait time charged to one user source line.
type Hotspot struct {
	Kind      string `json:"kind"`
	File      string `json:"file"` // absolute path
	Line      int    `json:"line"`
	Function  string `json:"function"` // full name as in pprof, e.g. main.(*Cache).Refresh
	Primitive string `json:"primitive"`
	// Method is the primitive's method at the charged stack, for example
	// "Lock", "RLock", "Unlock" or "Wait", when known.
	Method     string  `json:"method,omitempty"`
	DelayNs    int64   `json:"delayNs"`    // flat: charged with this line as the first user frame
	CumDelayNs int64   `json:"cumDelayNs"` // cumulative: this line anywhere on the user stack
	Count      int64   `json:"count"`
	Share      float64 `json:"share"` // 0..1 of the total DelayNs of its kind and side of Lock (see ComputeShares)
	// Lock is true when Primitive is a lock; WaitGroup, channel and select
	// waits are shown but never called lock contention.
	Lock   bool      `json:"lock"`
	Stacks [][]Frame `json:"stacks,omitempty"` // a few heaviest stacks, user frames first
	// PprofFunction is the function as pprof names it, when Function
	// differs: a compiler wrapper such as main.f.deferwrap1 is shown as
	// main.f, its function.
	PprofFunction string `json:"pprofFunction,omitempty"`
	// ExitLine is set when the profile charged this hotspot to a function's
	// exit (its closing brace or a return) and it was moved to the
	// `defer mu.Unlock()` line that scheduled the call: optimised builds
	// run open-coded defers at the exit.
	ExitLine int `json:"exitLine,omitempty"`
	// OpenWaits counts the lock waits at this line that had not ended when
	// the trace ended (trace kinds only): a lock held for the whole window
	// shows here, while both profiles still miss it. They are in Count.
	OpenWaits int `json:"openWaits,omitempty"`
	// StillWaitingNs is how long the longest of those waits had lasted
	// when the trace ended (at least the whole trace, for a wait that
	// began before it): "still waiting after X". DelayNs holds every open
	// wait, each counted up to the trace's end.
	StillWaitingNs int64 `json:"stillWaitingNs,omitempty"`
	// Via names the library lock the wait was in, when the line is the
	// caller of a standard-library function that took it, for example
	// "log.(*Logger).output → sync.Mutex.Lock": the line is where the
	// user's code reached that lock.
	Via string `json:"via,omitempty"`
	// CallSite is, for a line outside the main module (a dependency's
	// lock), the main module's line that called into it on the heaviest
	// stack: "via main.go:29".
	CallSite *Site `json:"callSite,omitempty"`
	// Base is this line's value in the base capture and its change, when
	// the report is compared with one (see [Comparison]).
	Base *Change `json:"base,omitempty"`
}

// ComputeShares sets Share to each hotspot's DelayNs over the total of its
// kind, counted apart for lock hotspots and for other waits: a lock line's
// share is its part of the lock wait time. The block profile also holds
// WaitGroup and channel waits, often far longer (a main goroutine waiting
// for its workers), and counting them made the only lock line of a program
// read 6.8%.
func ComputeShares(hs []Hotspot) {
	type key struct {
		kind string
		lock bool
	}
	total := map[key]int64{}
	for _, h := range hs {
		if h.DelayNs > 0 {
			total[key{h.Kind, h.Lock}] += h.DelayNs
		}
	}
	for i := range hs {
		if t := total[key{hs[i].Kind, hs[i].Lock}]; t > 0 && hs[i].DelayNs > 0 {
			hs[i].Share = float64(hs[i].DelayNs) / float64(t)
		} else {
			hs[i].Share = 0
		}
	}
}

// SortHotspots orders hotspots for display: lock primitives first, then by
// delay, then by place so that the order is stable.
func SortHotspots(hs []Hotspot) {
	sort.SliceStable(hs, func(i, j int) bool {
		a, b := hs[i], hs[j]
		if a.Lock != b.Lock {
			return a.Lock
		}
		if a.DelayNs != b.DelayNs {
			return a.DelayNs > b.DelayNs
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
}
