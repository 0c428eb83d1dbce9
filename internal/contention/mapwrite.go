package contention

// Map write operations.
const (
	OpAssign   = "assign"   // m[k] = v
	OpOpAssign = "opassign" // m[k] += v
	OpIncDec   = "incdec"   // m[k]++, m[k]--
	OpDelete   = "delete"   // delete(m, k)
	OpClear    = "clear"    // clear(m)
)

// MapWrite is one statement that writes a map.
type MapWrite struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Function string `json:"function"`
	Map      string `json:"map"` // the expression as written, e.g. ledger.entries
	Op       string `json:"op"`
	Guard    string `json:"guard"` // the lock expression, or "" when none
	// GuardKind is the guard's type: sync.Mutex or sync.RWMutex.
	GuardKind string `json:"guardKind,omitempty"`
	// GuardRead is true when the write sits under RLock only.
	GuardRead bool  `json:"guardRead,omitempty"`
	Contended bool  `json:"contended"`
	WaitNs    int64 `json:"waitNs"`
	// Unguarded is true when no lock guards the write and other goroutines
	// can reach the map.
	Unguarded bool   `json:"unguarded,omitempty"`
	Writers   []Site `json:"writers"` // every other write site of the same map
	// NoBreakpoint says why no breakpoint is offered, when none is.
	NoBreakpoint string `json:"noBreakpoint,omitempty"`

	// MapID names the map's variable or field (its types.Object) so that
	// writes of the same map can be grouped; Writers is built from it.
	MapID string `json:"mapId,omitempty"`
	// MapEval is the map as Delve evaluates it at this line (for example a
	// package variable of another package is written "path".Name). Empty
	// when the map cannot be addressed there (see NoBreakpoint).
	MapEval string `json:"mapEval,omitempty"`
	// GuardID names the guard's mutex variable or field, so contention
	// anywhere on the same mutex object can be joined to the write.
	GuardID string `json:"guardId,omitempty"`
	// GuardEval is the guard's sync.Mutex or sync.RWMutex value as Delve
	// evaluates it at this line (an embedded mutex is spelled out).
	GuardEval string `json:"guardEval,omitempty"`
	// Waiters is the mean number of goroutines waiting for the guard during
	// the capture window, when the window is known (0 otherwise).
	Waiters float64 `json:"waiters,omitempty"`
	// Base is the write's wait in the base capture and its change, when
	// the report is compared with one (see [Comparison]).
	Base *Change `json:"base,omitempty"`

	// GuardedVia is set when the write's own function does not take its
	// guard but every caller holds it (a helper such as removeOldest or
	// setLocked): the calls, in the functions that take the lock, through
	// which the write is reached with it held.
	GuardedVia []Site `json:"guardedVia,omitempty"`
	// SometimesUnguarded is true for an unguarded write whose function some
	// callers enter with a lock held and others without it; UnguardedVia
	// names the calls (or go statements, defers, function values and
	// interface calls) that enter it without the lock.
	SometimesUnguarded bool   `json:"sometimesUnguarded,omitempty"`
	UnguardedVia       []Site `json:"unguardedVia,omitempty"`
	// SameLockOnly is true for a write under a lock that shows contention,
	// where neither its function nor the functions that take the lock for it
	// appear on that contention's stacks: same lock, not seen contended. It
	// is not Contended, and gets no breakpoint.
	SameLockOnly bool `json:"sameLockOnly,omitempty"`
}

// Breakpoint is a suggested breakpoint. The extension sets it through
// VS Code's own API, so it reaches the adapter through setBreakpoints.
type Breakpoint struct {
	Kind         string `json:"kind"` // "source" | "function"
	File         string `json:"file"`
	Line         int    `json:"line"`
	Function     string `json:"function"`
	Condition    string `json:"condition"`
	HitCondition string `json:"hitCondition"`
	// LogMessage makes the suggestion a logpoint.
	LogMessage string `json:"logMessage,omitempty"`
	Label      string `json:"label"`
	ForWrite   string `json:"forWrite"` // file:line of the map write it serves
}
