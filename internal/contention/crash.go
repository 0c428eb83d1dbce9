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
	// CreatedBy is where the crashing goroutine was started ("created by"
	// in the runtime's dump), when known.
	CreatedBy *Frame `json:"createdBy,omitempty"`
	// MapCrash is true when Reason is one of the runtime's unsafe map
	// access errors (see crashrace.MapCrashReasons).
	MapCrash bool `json:"mapCrash,omitempty"`
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
	// CreatedAt is the stack that started the accessing goroutine, from the
	// report's "Goroutine N (running) created at:" section, when printed.
	CreatedAt []Frame `json:"createdAt,omitempty"`
}
