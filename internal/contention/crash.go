package contention

// Crash is a fatal runtime error caught in the act, such as
// "concurrent map writes".
type Crash struct {
	Reason    string  `json:"reason"`
	File      string  `json:"file"`
	Line      int     `json:"line"`
	Function  string  `json:"function"`
	Goroutine int64   `json:"goroutine"`
	Writers   []Site  `json:"writers,omitempty"`
	Stack     []Frame `json:"stack,omitempty"`
}

// Race is one WARNING: DATA RACE report from the race detector.
type Race struct {
	Access   RaceAccess `json:"access"`
	Previous RaceAccess `json:"previous"`
	// Truncated is true when the report ended before both accesses were read.
	Truncated bool `json:"truncated,omitempty"`
}

// RaceAccess is one side of a data race.
type RaceAccess struct {
	File      string  `json:"file"`
	Line      int     `json:"line"`
	Function  string  `json:"function"`
	Goroutine int64   `json:"goroutine"`
	Op        string  `json:"op"` // "read" | "write"
	Map       bool    `json:"map,omitempty"`
	MapOp     string  `json:"mapOp,omitempty"` // e.g. runtime.mapassign_faststr
	Stack     []Frame `json:"stack,omitempty"`
}
