// Package contention is lockscope's one model of lock contention and unsafe map
// writes: the [Report] that the CLI prints, the lockscope/report DAP event
// carries and the extension draws.
//
// Every analysis package (profiles, tracechain, mapwrites, crashrace) turns one
// source into parts of this model; none of them knows about DAP or files.
// The JSON field names are a public contract (see DESIGN.md, "The report"):
// add fields freely, never rename one.
//
// This package uses the standard library only.
package contention

import (
	"sort"
	"time"
)

// Report is the whole analysis of one debug session or one analyze run.
type Report struct {
	Hotspots    []Hotspot    `json:"hotspots"`
	Chains      []Chain      `json:"chains"`
	MapWrites   []MapWrite   `json:"mapWrites"`
	Breakpoints []Breakpoint `json:"breakpoints"`
	Crash       *Crash       `json:"crash,omitempty"`
	Races       []Race       `json:"races"`
	Sources     []Source     `json:"sources"`
	// Stuck are the goroutines that wait for a lock longer than the
	// threshold, or for good; Deadlocks are the cycles among them. Both
	// come from goroutine dumps, and are [] when none was found.
	Stuck     []StuckWait `json:"stuck"`
	Deadlocks []Deadlock  `json:"deadlocks"`

	// RuntimeInternal holds contention inside the runtime itself
	// (runtime.unlock, runtime._LostContendedRuntimeLock). It is kept apart
	// because no user line can fix it.
	RuntimeInternal []Hotspot `json:"runtimeInternal,omitempty"`
	// Notes are plain sentences for a person: truncated inputs, known
	// disagreements between sources, what could not be indexed.
	Notes []string `json:"notes,omitempty"`
	// Comparison is set when the report was compared with a base capture
	// (`lockscope analyze --base`, `lockscope diff`): what the base was,
	// the unit, the totals and the entries that went away. Each entry's
	// own change is its Base field.
	Comparison *Comparison `json:"comparison,omitempty"`
}

// Source records one input that fed the report.
type Source struct {
	Kind       string    `json:"kind"` // "mutex", "block", "trace", "race", "crash", "source"
	Path       string    `json:"path,omitempty"`
	URL        string    `json:"url,omitempty"`
	Origin     string    `json:"origin,omitempty"` // "agent", "file", "url", "test", "output"
	DurationNs int64     `json:"durationNs,omitempty"`
	Time       time.Time `json:"time"`
}

// Frame is one resolved stack frame.
type Frame struct {
	Function string `json:"function"`
	File     string `json:"file"`
	Line     int    `json:"line"`
}

// Site names one source line. It is used for writers and crash locations.
type Site struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Function string `json:"function,omitempty"`
}

// Empty returns a report whose slices are non-nil, so that the JSON carries
// [] rather than null for every list (tools outside the project rely on it).
func Empty() *Report {
	r := &Report{}
	r.normalize()
	return r
}

func (r *Report) normalize() {
	if r.Hotspots == nil {
		r.Hotspots = []Hotspot{}
	}
	if r.Chains == nil {
		r.Chains = []Chain{}
	}
	if r.MapWrites == nil {
		r.MapWrites = []MapWrite{}
	}
	if r.Breakpoints == nil {
		r.Breakpoints = []Breakpoint{}
	}
	if r.Races == nil {
		r.Races = []Race{}
	}
	if r.Sources == nil {
		r.Sources = []Source{}
	}
	if r.Stuck == nil {
		r.Stuck = []StuckWait{}
	}
	if r.Deadlocks == nil {
		r.Deadlocks = []Deadlock{}
	}
}

// Finalize recomputes shares, sorts every list into its display order and
// makes the slices non-nil. Call it after merging parts into the report.
func (r *Report) Finalize() {
	r.normalize()
	ComputeShares(r.Hotspots)
	SortHotspots(r.Hotspots)
	ComputeShares(r.RuntimeInternal)
	SortHotspots(r.RuntimeInternal)
	sort.SliceStable(r.Chains, func(i, j int) bool {
		// Lock chains first, then other sync waits (WaitGroup), then
		// channels and select: a main parked in wg.Wait is not contention.
		if r.Chains[i].Lock != r.Chains[j].Lock {
			return r.Chains[i].Lock
		}
		if r.Chains[i].Sync() != r.Chains[j].Sync() {
			return r.Chains[i].Sync()
		}
		return r.Chains[i].WaitNs > r.Chains[j].WaitNs
	})
	sort.SliceStable(r.MapWrites, func(i, j int) bool {
		a, b := r.MapWrites[i], r.MapWrites[j]
		if a.Contended != b.Contended {
			return a.Contended
		}
		if a.WaitNs != b.WaitNs {
			return a.WaitNs > b.WaitNs
		}
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
}
