package contention

import "time"

// Capture says where a saved capture came from (`lockscope analyze
// --save`, lockscope/save): enough for a person, or a CI gate, to know
// what a comparison compares.
type Capture struct {
	// Program is the package or directory that ran, the test package, or
	// the URL or files read.
	Program   string    `json:"program,omitempty"`
	GoVersion string    `json:"goVersion,omitempty"`
	Commit    string    `json:"commit,omitempty"` // git HEAD of the program's repository, when there is one
	Dirty     bool      `json:"dirty,omitempty"`  // the work tree had changes (not known: false)
	Time      time.Time `json:"time"`
	// Lockscope is the version of lockscope that made the capture.
	Lockscope string `json:"lockscope,omitempty"`
	// Settings are the capture settings (mode, rates, durations, flags),
	// as the driver names them.
	Settings map[string]string `json:"settings,omitempty"`
	// Work is what the program reported doing, when it reports it (a
	// benchmark's iterations); nil otherwise.
	Work *Work `json:"work,omitempty"`
	// DurationNs is how long the capture's mutex and block profiles
	// cover: with lockscope's agent, from when it set the profile rates
	// to the snapshot, less the time the program sat stopped in a
	// debugger (the program's start and exit are not in it); for a
	// benchmark capture, the runs' time. 0: not recorded here; the
	// profiles' sources may say it (Source.DurationNs, where analyze puts
	// the agent's span), or nobody knows it (a service lockscope attached
	// to, whose cumulative profiles began before it came).
	DurationNs int64 `json:"durationNs,omitempty"`
}

// Work is the work a program reported: benchmark iterations.
type Work struct {
	// Ops is the sum of the iterations the benchmarks reported, over every
	// run.
	Ops int64 `json:"ops"`
	// Runs is how many times the benchmarks ran (go test -count, each run
	// its own process and profiles).
	Runs       int         `json:"runs"`
	Benchmarks []Benchmark `json:"benchmarks,omitempty"`
}

// Benchmark is one result line of `go test -bench`.
type Benchmark struct {
	Name    string  `json:"name"`
	Run     int     `json:"run"` // 1-based run the line came from
	N       int64   `json:"n"`
	NsPerOp float64 `json:"nsPerOp"`
}

// Comparison statuses of an entry against the base capture.
const (
	ChangeBetter = "better" // less wait per unit, beyond the threshold
	ChangeWorse  = "worse"  // more wait per unit, beyond the threshold
	ChangeSame   = "same"   // within the threshold (or within the noise)
	ChangeNew    = "new"    // not in the base
	ChangeGone   = "gone"   // in the base only (listed in Comparison.Gone)
)

// Units a comparison is normalised by.
const (
	UnitOp     = "op"     // per benchmark iteration, on both sides
	UnitSecond = "second" // per second the profiles cover (Capture.DurationNs)
)

// Change is an entry's base value and its change, added to hotspots,
// chains and map writes when a report is compared with a base capture
// (`lockscope analyze --base`, `lockscope diff`).
type Change struct {
	Status string `json:"status"` // ChangeBetter, ChangeWorse, ChangeSame, ChangeNew, ChangeGone
	// BaseDelayNs and BaseCount are the base's raw values (wait time and
	// events of the matched entry; 0 for a new entry).
	BaseDelayNs int64 `json:"baseDelayNs"`
	BaseCount   int64 `json:"baseCount"`
	// BasePerUnit and PerUnit are the wait in nanoseconds per Unit of the
	// Comparison (per op or per second) on each side.
	BasePerUnit float64 `json:"basePerUnit"`
	PerUnit     float64 `json:"perUnit"`
	// Change is PerUnit/BasePerUnit - 1 (0.2 is 20% more; -1 gone); absent
	// for a new entry.
	Change *float64 `json:"change,omitempty"`
	// BaseFile and BaseLine are where the entry was in the base, which may
	// differ after an edit above it (entries match by function and by the
	// line's offset in it).
	BaseFile string `json:"baseFile,omitempty"`
	BaseLine int    `json:"baseLine,omitempty"`
	// P is the p-value of the change over repeated runs (a Mann-Whitney U
	// test, as benchstat does), when both sides have several runs.
	P *float64 `json:"p,omitempty"`
}

// Comparison is what a report was compared with, added to the report by
// `--base` and `lockscope diff`.
type Comparison struct {
	Base Capture `json:"base"`
	// Unit is UnitOp when both captures report their work, UnitSecond
	// otherwise; UnitNote says so in words.
	Unit      string  `json:"unit"`
	UnitNote  string  `json:"unitNote"`
	BaseUnits float64 `json:"baseUnits"` // ops or seconds in the base
	Units     float64 `json:"units"`     // ops or seconds in this capture
	// Threshold is the relative change under which an entry is "same"
	// when there are no repeated runs to test (0.1: 10%).
	Threshold float64 `json:"threshold"`
	// Totals are the whole profiles' wait per kind, as pprof counts them.
	Totals []Total `json:"totals"`
	// Gone are the base's entries that this capture no longer has, each
	// with its Base change (status gone).
	Gone Gone `json:"gone"`
	// Gate is the CI gate's verdict, when --fail-on was given.
	Gate *Gate `json:"gate,omitempty"`
}

// Total is one kind's whole wait on both sides.
type Total struct {
	Kind        string  `json:"kind"`
	BaseDelayNs int64   `json:"baseDelayNs"`
	DelayNs     int64   `json:"delayNs"`
	BasePerUnit float64 `json:"basePerUnit"`
	PerUnit     float64 `json:"perUnit"`
	// LockBaseDelayNs and LockDelayNs count lock hotspots only (the wait
	// users can fix), as the gate does.
	LockBaseDelayNs int64 `json:"lockBaseDelayNs"`
	LockDelayNs     int64 `json:"lockDelayNs"`
}

// Gone lists the entries of the base that are not in the compared report.
type Gone struct {
	Hotspots  []Hotspot  `json:"hotspots"`
	Chains    []Chain    `json:"chains"`
	MapWrites []MapWrite `json:"mapWrites"`
}

// Gate is the verdict of `--fail-on`.
type Gate struct {
	Rule   string `json:"rule"` // as given, e.g. "wait+20%"
	Passed bool   `json:"passed"`
	// Alpha is the significance level: a change whose p-value is above it
	// is noise, whatever its size.
	Alpha float64 `json:"alpha"`
	// Runs on each side.
	BaseRuns int `json:"baseRuns"`
	Runs     int `json:"runs"`
	// FloorPerUnit is the smallest wait per unit the gate looks at.
	FloorPerUnit float64    `json:"floorPerUnit"`
	Failures     []GateLine `json:"failures"`
	// Noise lists the changes past the bound that the noise explains.
	Noise []GateLine `json:"noise"`
	// Judged are all the lines above the floor, failed or not, each with
	// its p-value and its runs' spread: the noise the verdict saw.
	Judged []GateLine `json:"judged"`
	// Warnings say why the verdict may mean less than it seems (too few
	// runs to tell a change from noise).
	Warnings []string `json:"warnings,omitempty"`
}

// GateLine is one lock line the gate judged.
type GateLine struct {
	Kind        string  `json:"kind"`
	File        string  `json:"file"`
	Line        int     `json:"line"`
	Function    string  `json:"function"`
	BasePerUnit float64 `json:"basePerUnit"` // median over the base's runs
	PerUnit     float64 `json:"perUnit"`     // median over this capture's runs
	Change      float64 `json:"change"`      // PerUnit/BasePerUnit - 1 (+Inf written as a large number)
	P           float64 `json:"p"`
	// Spread is the noise: the largest relative distance of a run from
	// its side's median, on either side (benchstat's ±).
	BaseSpread float64 `json:"baseSpread"`
	Spread     float64 `json:"spread"`
	New        bool    `json:"new,omitempty"`
}
